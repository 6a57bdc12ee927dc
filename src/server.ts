import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { createOffload, type Offload } from './compose.js';
import { isLoopback, type Config } from './config.js';
import type { Engine, EngineOptions } from './engine/engine.js';
import { createLimitedServer } from './http/connection-limits.js';
import { reasonOf, StartupError } from './startup-error.js';

export interface RunningServer {
  offload: Offload;
  engine: Engine;
  server: Server;
  url: string;
  port: number;
  /** Graceful stop: new work gets 503 while running jobs finish (up to the grace), then the port closes. */
  close(): Promise<void>;
}

/** `offload serve`: the composed engine, domain and app of `config`, started and listening. */
export async function startServer(
  config: Config,
  logger: Logger,
  engineOverrides: Partial<Omit<EngineOptions, 'dataDir' | 'store' | 'logger'>> = {},
): Promise<RunningServer> {
  const offload = await createOffload({
    dataDir: config.dataDir,
    store: config.store,
    logger,
    durability: config.durability,
    engine: {
      threads: config.threads,
      workerMemoryMb: config.workerMemoryMb,
      leaseMs: config.leaseMs,
      maxPending: config.maxPending,
      retryBaseMs: config.retryBaseMs,
      niceIncrement: config.workerNice,
      maxTimeoutMs: config.maxTimeoutMs,
      jobTtlMs: config.jobTtlMs,
      crashLimit: config.crashLimit,
      ...(config.webhookUrl === undefined ? {} : { defaultCallbackUrl: config.webhookUrl }),
      flow: config.flow,
      ...(config.defaultTimeoutMs === undefined ? {} : { defaultTimeoutMs: config.defaultTimeoutMs }),
      ...engineOverrides,
    },
    demoKind: config.demoKind,
    kinds: config.jobs.map(({ kind, file }) => ({ kind, module: file })),
    resultTtlMs: config.resultTtlMs,
    maxRecordBytes: config.maxRecordMb * 1024 * 1024,
    callbacks: {
      secret: config.webhookSecret,
      allow: config.callbackAllow,
      timeoutMs: config.callbackTimeoutMs,
      maxAttempts: config.callbackAttempts,
      retryBaseMs: config.callbackRetryBaseMs,
    },
    http: {
      token: config.token,
      jsonLimitBytes: config.maxBodyKb * 1024,
      maxUploadBytes: config.maxUploadMb * 1024 * 1024,
      // Bound to loopback, a browser page elsewhere could still reach the server through DNS rebinding.
      allowedHosts: isLoopback(config.host) ? [...config.allowedHosts, ...(config.host.includes(':') ? [] : [config.host])] : undefined,
      maxEventStreams: config.maxEventStreams,
      maxEventStreamsPerClient: config.maxEventStreamsPerClient,
    },
  });
  await offload.start();

  if (config.webhookUrl !== undefined && config.webhookSecret === undefined) {
    logger.warn('--webhook without --webhook-secret: completion callbacks are sent unsigned, so receivers cannot tell them from forgeries');
  }
  if (!isLoopback(config.host) && !config.token) {
    logger.warn({ host: config.host }, 'listening on a non-loopback address without a token (--allow-insecure-bind): anyone who can reach it can run jobs');
  }
  const server = createLimitedServer(offload.app.callback(), { headersTimeoutMs: config.headersTimeoutMs, idleTimeoutMs: config.idleTimeoutMs });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
      server.listen(config.port, config.host);
    });
  } catch (err) {
    // Nothing is served: give the jobs this process claimed back to the queue before saying why.
    await offload.close({ graceMs: 0 });
    throw listenError(err, config);
  }
  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}`;
  logger.info({ url, port, data_dir: offload.engine.dataDir }, 'listening');

  let closing: Promise<void> | undefined;
  return {
    offload,
    engine: offload.engine,
    server,
    url,
    port,
    close() {
      closing ??= (async () => {
        // The port stays open during the grace so that clients are told 503 rather than refused.
        await offload.close({ graceMs: config.shutdownGraceMs });
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })();
      return closing;
    },
  };
}

function listenError(err: unknown, { host, port }: Config): StartupError {
  const code = (err as { code?: unknown }).code;
  const address = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const messages: Record<string, string> = {
    EADDRINUSE: `${address} is already in use (another offload, or another service?); choose another --port`,
    EACCES: `not allowed to listen on ${address} (ports below 1024 need privileges); choose another --port`,
    EADDRNOTAVAIL: `--host "${host}" is not an address of this machine`,
    ENOTFOUND: `--host "${host}" does not resolve to an address`,
    EAI_AGAIN: `--host "${host}" does not resolve to an address (the name lookup failed; try again, or give an IP address)`,
  };
  const message = typeof code === 'string' ? messages[code] : undefined;
  return new StartupError(message ?? `cannot listen on ${address}: ${reasonOf(err)}`, { cause: err });
}
