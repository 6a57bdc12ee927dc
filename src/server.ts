import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { isLoopback, type Config } from './config.js';
import { createEngine, type Engine, type EngineOptions } from './engine/engine.js';
import { createApp } from './http/app.js';
import { createLimitedServer } from './http/connection-limits.js';
import { startRetentionSweeper } from './exports/retention.js';

export interface RunningServer {
  engine: Engine;
  server: Server;
  url: string;
  port: number;
  /** Graceful stop: new work gets 503 while running jobs finish (up to the grace), then the port closes. */
  close(): Promise<void>;
}

/** Opens the engine on the data directory, starts it, and serves the API. */
export async function startServer(
  config: Config,
  logger: Logger,
  engineOverrides: Partial<EngineOptions> = {},
): Promise<RunningServer> {
  const engine = createEngine({
    dataDir: config.dataDir,
    threads: config.threads,
    workerMemoryMb: config.workerMemoryMb,
    leaseMs: config.leaseMs,
    durability: config.durability,
    maxPending: config.maxPending,
    retryBaseMs: config.retryBaseMs,
    niceIncrement: config.workerNice,
    maxTimeoutMs: config.maxTimeoutMs,
    ...(config.defaultTimeoutMs === undefined ? {} : { defaultTimeoutMs: config.defaultTimeoutMs }),
    logger,
    ...engineOverrides,
  });
  for (const { kind, file } of config.jobs) engine.register(kind, file);
  // The app (and its metrics) before start: start-up recovery of orphaned jobs is counted too.
  const app = createApp({
    engine,
    logger,
    token: config.token,
    jsonLimitBytes: config.maxBodyKb * 1024,
    maxUploadBytes: config.maxUploadMb * 1024 * 1024,
    resultTtlMs: config.resultTtlMs,
    maxRecordBytes: config.maxRecordMb * 1024 * 1024,
    // Bound to loopback, a browser page elsewhere could still reach the server through DNS rebinding.
    allowedHosts: isLoopback(config.host) ? [...config.allowedHosts, ...(config.host.includes(':') ? [] : [config.host])] : undefined,
    maxEventStreams: config.maxEventStreams,
    maxEventStreamsPerClient: config.maxEventStreamsPerClient,
  });
  await engine.start();
  const retention = startRetentionSweeper({ engine, resultTtlMs: config.resultTtlMs, logger });

  if (!isLoopback(config.host) && !config.token) {
    logger.warn({ host: config.host }, 'listening on a non-loopback address without a token (--allow-insecure-bind): anyone who can reach it can run jobs');
  }
  const server = createLimitedServer(app.callback(), { headersTimeoutMs: config.headersTimeoutMs, idleTimeoutMs: config.idleTimeoutMs });
  server.listen(config.port, config.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}`;
  logger.info({ url, port, data_dir: engine.dataDir }, 'listening');

  let closing: Promise<void> | undefined;
  return {
    engine,
    server,
    url,
    port,
    close() {
      closing ??= (async () => {
        retention.stop();
        // The port stays open during the grace so that clients are told 503 rather than refused.
        await engine.close({ graceMs: config.shutdownGraceMs });
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })();
      return closing;
    },
  };
}
