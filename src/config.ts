import { parseArgs } from 'node:util';
import type { Durability } from './db/open-database.js';
import { BUILT_IN_KINDS } from './built-in-kinds.js';
import { callbackUrlProblem, parseAllowedHost, type AllowedHost } from './callbacks/callback-address.js';
import { CALLBACK_DEFAULTS } from './callbacks/callback-deliverer.js';
import { OFFLOAD_DEFAULTS } from './compose.js';
import { DEFAULT_MAX_RECORD_BYTES } from './contracts/import-contract.js';
import { ENGINE_DEFAULTS } from './engine/engine-options.js';
import { TIMER_LIMIT_MS } from './engine/job.js';
import { APP_DEFAULTS } from './http/app.js';
import { DEFAULT_CONNECTION_LIMITS } from './http/connection-limits.js';

import { ConfigError, parseDuration } from './config-values.js';
import type { FlowLimits } from './engine/flow-control.js';
import { FLOW_FLAGS, parseFlowConfig } from './flow-config.js';

const MB = 1024 * 1024;
import type { LogLevel } from './logger.js';

/** Everything `offload serve` can be told, with units in the names or on the fields. */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** Where jobs and the catalog live: `sqlite` (jobs.db in dataDir) or a `postgres://` URL shared by several nodes. */
  store: string;
  threads: number;
  workerMemoryMb: number;
  /** Extra job kinds: kind → worker module path. */
  jobs: Array<{ kind: string; file: string }>;
  token: string | undefined;
  /** Offer the built-in demo kind `sleep` (POST /jobs) to clients. */
  demoKind: boolean;
  /** Start on a non-loopback address without a token anyway. */
  allowInsecureBind: boolean;
  leaseMs: number;
  shutdownGraceMs: number;
  maxPending: number;
  maxUploadMb: number;
  /** Largest JSON request body, KiB (uploads have their own limit, maxUploadMb). */
  maxBodyKb: number;
  /** Added to the worker threads' nice value (Linux), so that the event loop gets a core first; 0 disables. */
  workerNice: number;
  /** Longest timeout_ms a job may ask for, ms; more is refused with 400. */
  maxTimeoutMs: number;
  /** Timeout of a job that gives none, ms; undefined: maxTimeoutMs. */
  defaultTimeoutMs: number | undefined;
  resultTtlMs: number;
  /** Finished jobs are deleted this long after they ended (pinned ones never), ms. */
  jobTtlMs: number;
  /** Deaths in a row (attempts recovered as lost) after which a job fails with `crashed`. */
  crashLimit: number;
  durability: Durability;
  retryBaseMs: number;
  logLevel: LogLevel;
  /** Host names served besides the loopback ones when bound to loopback (DNS-rebinding defence). */
  allowedHosts: string[];
  /** Largest single imported record (NDJSON line, CSV row), MB. */
  maxRecordMb: number;
  /** Open event streams (SSE) at most, in all and per client address. */
  maxEventStreams: number;
  maxEventStreamsPerClient: number;
  /** Time a client has to send a request's headers, ms. */
  headersTimeoutMs: number;
  /** A connection idle (nothing sent or received) this long is closed, ms; stalled uploads included. */
  idleTimeoutMs: number;
  /** Completion callbacks: the URL every job without its own callback_url reports to, and how deliveries are made. */
  webhookUrl: string | undefined;
  /** Key of the Offload-Signature HMAC; deliveries are unsigned without it. */
  webhookSecret: string | undefined;
  /** Hosts callbacks may reach though they are (or resolve to) loopback, private or link-local addresses. */
  callbackAllow: AllowedHost[];
  callbackTimeoutMs: number;
  /** Attempts of one delivery before it is given up. */
  callbackAttempts: number;
  /** First retry delay of a delivery, ms (doubles each attempt, with jitter, up to an hour). */
  callbackRetryBaseMs: number;
  /** Concurrency and rate limits per kind and per group key (--limit, --rate, --group-limit, --group-rate). */
  flow: FlowLimits;
}

export { ConfigError };

export interface FlagSpec {
  env: string;
  type: 'string' | 'boolean';
  multiple?: boolean;
  help: string;
  default?: string;
}

/** The flags of `offload serve`; each one can also be given as its OFFLOAD_* environment variable. */
export const FLAGS: Record<string, FlagSpec> = {
  port: { env: 'OFFLOAD_PORT', type: 'string', default: '8080', help: 'port to listen on (0: any free port)' },
  host: { env: 'OFFLOAD_HOST', type: 'string', default: '127.0.0.1', help: 'address to bind' },
  'data-dir': { env: 'OFFLOAD_DATA_DIR', type: 'string', default: 'data', help: 'directory of the jobs database and all files (with --store postgres://…: one directory every node mounts)' },
  store: { env: 'OFFLOAD_STORE', type: 'string', default: 'sqlite', help: 'sqlite (jobs.db in --data-dir), or a postgres:// URL for several nodes sharing one database and one --data-dir' },
  threads: { env: 'OFFLOAD_THREADS', type: 'string', help: 'worker threads in the pool (default: cores - 1, at least 1)' },
  'worker-memory-mb': { env: 'OFFLOAD_WORKER_MEMORY_MB', type: 'string', default: String(ENGINE_DEFAULTS.workerMemoryMb), help: 'heap limit of each worker thread, MB' },
  job: { env: 'OFFLOAD_JOBS', type: 'string', multiple: true, help: 'KIND=FILE: register a worker module as a job kind (repeatable; env: comma-separated)' },
  token: { env: 'OFFLOAD_TOKEN', type: 'string', help: 'bearer token required on every route but /healthz' },
  'no-demo-kind': { env: 'OFFLOAD_NO_DEMO_KIND', type: 'boolean', help: 'do not offer the demo kind "sleep" to clients' },
  'allow-insecure-bind': { env: 'OFFLOAD_ALLOW_INSECURE_BIND', type: 'boolean', help: 'allow a non-loopback --host without --token' },
  'lease-ms': { env: 'OFFLOAD_LEASE_MS', type: 'string', default: String(ENGINE_DEFAULTS.leaseMs), help: 'lease of a running job, ms (renewed every third)' },
  'shutdown-grace': { env: 'OFFLOAD_SHUTDOWN_GRACE', type: 'string', default: '10', help: 'seconds running jobs may finish on SIGTERM/SIGINT' },
  'max-pending': { env: 'OFFLOAD_MAX_PENDING', type: 'string', default: String(ENGINE_DEFAULTS.maxPending), help: 'pending jobs beyond which new ones get queue_full' },
  'max-upload-mb': { env: 'OFFLOAD_MAX_UPLOAD_MB', type: 'string', default: String(APP_DEFAULTS.maxUploadBytes / MB), help: 'dataset upload limit, MB' },
  'worker-nice': { env: 'OFFLOAD_WORKER_NICE', type: 'string', default: '10', help: 'nice increment of worker threads, 0-19 (0: same priority as the server)' },
  'max-body-kb': { env: 'OFFLOAD_MAX_BODY_KB', type: 'string', default: String(APP_DEFAULTS.jsonLimitBytes / 1024), help: 'JSON request body limit, KiB (payload_too_large past it)' },
  'max-timeout-ms': { env: 'OFFLOAD_MAX_TIMEOUT_MS', type: 'string', default: String(ENGINE_DEFAULTS.maxTimeoutMs), help: 'longest timeout_ms a job may ask for, ms (604800000: 7 days)' },
  'default-timeout-ms': { env: 'OFFLOAD_DEFAULT_TIMEOUT_MS', type: 'string', help: 'timeout of a job that gives none, ms (default: --max-timeout-ms)' },
  'result-ttl': { env: 'OFFLOAD_RESULT_TTL', type: 'string', default: `${OFFLOAD_DEFAULTS.resultTtlMs / 3_600_000}h`, help: 'how long finished export files are kept (e.g. 90m, 24h, 7d)' },
  'crash-limit': { env: 'OFFLOAD_CRASH_LIMIT', type: 'string', default: String(ENGINE_DEFAULTS.crashLimit), help: 'attempts in a row whose process died after which a job fails with crashed (a poison job)' },
  'job-ttl': { env: 'OFFLOAD_JOB_TTL', type: 'string', default: `${ENGINE_DEFAULTS.jobTtlMs / 86_400_000}d`, help: 'how long finished jobs are kept before they are deleted (e.g. 36h, 7d, 30d)' },
  durability: { env: 'OFFLOAD_DURABILITY', type: 'string', default: OFFLOAD_DEFAULTS.durability, help: 'normal (survives a process crash) or full (also a power loss)' },
  'retry-base-ms': { env: 'OFFLOAD_RETRY_BASE_MS', type: 'string', default: String(ENGINE_DEFAULTS.retryBaseMs), help: 'first retry delay, ms (doubles each attempt, with jitter)' },
  'allowed-host': { env: 'OFFLOAD_ALLOWED_HOSTS', type: 'string', multiple: true, help: 'a host name served besides localhost, 127.0.0.1 and [::1] when bound to loopback (repeatable; env: comma-separated)' },
  'max-record-mb': { env: 'OFFLOAD_MAX_RECORD_MB', type: 'string', default: String(DEFAULT_MAX_RECORD_BYTES / MB), help: 'largest single imported record (NDJSON line, CSV row), MB' },
  'max-event-streams': { env: 'OFFLOAD_MAX_EVENT_STREAMS', type: 'string', default: String(APP_DEFAULTS.maxEventStreams), help: 'open event streams (SSE) at most, in all' },
  'max-event-streams-per-client': { env: 'OFFLOAD_MAX_EVENT_STREAMS_PER_CLIENT', type: 'string', default: String(APP_DEFAULTS.maxEventStreamsPerClient), help: 'open event streams (SSE) at most per client address' },
  'headers-timeout-ms': { env: 'OFFLOAD_HEADERS_TIMEOUT_MS', type: 'string', default: String(DEFAULT_CONNECTION_LIMITS.headersTimeoutMs), help: 'time a client has to send the request headers, ms' },
  'idle-timeout-ms': { env: 'OFFLOAD_IDLE_TIMEOUT_MS', type: 'string', default: String(DEFAULT_CONNECTION_LIMITS.idleTimeoutMs), help: 'a connection idle this long (a stalled upload too) is closed, ms' },
  webhook: { env: 'OFFLOAD_WEBHOOK', type: 'string', help: 'http(s) URL every job without its own callback_url POSTs its final job document to' },
  'webhook-secret': { env: 'OFFLOAD_WEBHOOK_SECRET', type: 'string', help: 'key of the callbacks\' Offload-Signature (HMAC-SHA256); unsigned without it' },
  'callback-allow': { env: 'OFFLOAD_CALLBACK_ALLOW', type: 'string', multiple: true, help: 'HOST[:PORT] callbacks may reach though it is a loopback, private or link-local address (repeatable; env: comma-separated)' },
  'callback-timeout-ms': { env: 'OFFLOAD_CALLBACK_TIMEOUT_MS', type: 'string', default: String(CALLBACK_DEFAULTS.timeoutMs), help: 'limit of one callback attempt, ms' },
  'callback-attempts': { env: 'OFFLOAD_CALLBACK_ATTEMPTS', type: 'string', default: String(CALLBACK_DEFAULTS.maxAttempts), help: 'attempts of one callback before it is given up' },
  'callback-retry-base-ms': { env: 'OFFLOAD_CALLBACK_RETRY_BASE_MS', type: 'string', default: String(CALLBACK_DEFAULTS.retryBaseMs), help: 'first retry delay of a callback, ms (doubles each attempt, with jitter, up to 1 h)' },
  ...FLOW_FLAGS,
  'log-level': { env: 'OFFLOAD_LOG_LEVEL', type: 'string', default: 'info', help: 'fatal, error, warn, info, debug, trace or silent' },
};

const BOOLEAN_WORDS = new Map([['1', true], ['0', false], ['true', true], ['false', false], ['yes', true], ['no', false], ['on', true], ['off', false]]);

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Reads flags, then OFFLOAD_* variables, then defaults. Throws ConfigError with a message meant for the user. */
export function parseConfig(argv: string[], env: Record<string, string | undefined>): Config {
  let values: Record<string, string | boolean | Array<string | boolean> | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: Object.fromEntries(Object.entries(FLAGS).map(([name, spec]) => [name, { type: spec.type, multiple: spec.multiple ?? false }])),
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const raw = (name: string): string | undefined => {
    const value = values[name];
    if (typeof value === 'string') return value;
    const spec = FLAGS[name]!;
    return env[spec.env] ?? spec.default;
  };
  const boolean = (name: string): boolean => {
    if (values[name] === true) return true;
    const spec = FLAGS[name]!;
    const text = env[spec.env];
    if (text === undefined || text === '') return false;
    const meaning = BOOLEAN_WORDS.get(text.trim().toLowerCase());
    if (meaning === undefined) {
      throw new ConfigError(`${spec.env} must be one of ${[...BOOLEAN_WORDS.keys()].join(', ')}; got "${text}"`);
    }
    return meaning;
  };
  const integer = (name: string, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const text = raw(name)!;
    const value = Number(text);
    if (!/^-?\d+$/.test(text) || value < min || value > max) {
      throw new ConfigError(`--${name} (${FLAGS[name]!.env}) must be an integer from ${min} to ${max}, got "${text}"`);
    }
    return value;
  };

  const durability = raw('durability');
  if (durability !== 'normal' && durability !== 'full') {
    throw new ConfigError(`--durability (OFFLOAD_DURABILITY) must be "normal" or "full", got "${durability}"`);
  }
  const logLevel = raw('log-level')!;
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);

  // A repeatable flag, or its variable as a comma-separated list.
  const list = (name: string): string[] => {
    const variable = env[FLAGS[name]!.env];
    return (values[name] as string[] | undefined) ?? (variable ? variable.split(',') : []);
  };
  const jobSpecs = list('job');
  const jobs = jobSpecs.map((spec) => {
    const match = /^([^=]+)=(.+)$/.exec(spec.trim());
    if (!match) throw new ConfigError(`--job must look like KIND=path/to/module.js, got "${spec}"`);
    const kind = match[1]!.trim();
    if (BUILT_IN_KINDS.some((builtIn) => builtIn.kind === kind)) {
      throw new ConfigError(`--job ${kind}: "${kind}" is a built-in kind and cannot be replaced; register yours under another name`);
    }
    return { kind, file: match[2]!.trim() };
  });
  const hostSpecs = list('allowed-host');
  const allowedHosts = hostSpecs.map((name) => {
    const trimmed = name.trim().toLowerCase();
    if (!/^(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*)$/.test(trimmed)) {
      throw new ConfigError(`--allowed-host must be a host name without port or scheme (e.g. offload.internal), got "${name}"`);
    }
    return trimmed;
  });

  const callbackAllow = list('callback-allow').map((text) => {
    const entry = parseAllowedHost(text);
    if (!entry) throw new ConfigError(`--callback-allow must be HOST or HOST:PORT (e.g. 127.0.0.1:9000, hooks.internal), got "${text}"`);
    return entry;
  });
  const webhookUrl = raw('webhook') || undefined;
  const webhookProblem = webhookUrl === undefined ? undefined : callbackUrlProblem(webhookUrl, callbackAllow);
  if (webhookProblem) throw new ConfigError(`--webhook (OFFLOAD_WEBHOOK) ${webhookProblem}`);

  const config: Config = {
    port: integer('port', 0, 65535),
    host: raw('host')!,
    dataDir: raw('data-dir')!,
    store: parseStore(raw('store')!),
    threads: raw('threads') === undefined ? ENGINE_DEFAULTS.threads : integer('threads', 1, 1024),
    workerMemoryMb: integer('worker-memory-mb', 16, 1024 * 1024),
    jobs,
    token: raw('token') || undefined,
    allowInsecureBind: boolean('allow-insecure-bind'),
    demoKind: !boolean('no-demo-kind'),
    leaseMs: integer('lease-ms', 100),
    shutdownGraceMs: integer('shutdown-grace', 0, 24 * 3600) * 1000,
    maxPending: integer('max-pending', 1),
    maxUploadMb: integer('max-upload-mb', 1),
    maxBodyKb: integer('max-body-kb', 1, 1024 * 1024),
    workerNice: integer('worker-nice', 0, 19),
    maxTimeoutMs: integer('max-timeout-ms', 1, TIMER_LIMIT_MS),
    defaultTimeoutMs: raw('default-timeout-ms') === undefined ? undefined : integer('default-timeout-ms', 1, TIMER_LIMIT_MS),
    resultTtlMs: parseDuration('result-ttl', raw('result-ttl')!),
    jobTtlMs: parseDuration('job-ttl', raw('job-ttl')!),
    crashLimit: integer('crash-limit', 1, 100),
    durability,
    retryBaseMs: integer('retry-base-ms', 1),
    logLevel: logLevel as LogLevel,
    allowedHosts,
    maxRecordMb: integer('max-record-mb', 1, 1024),
    maxEventStreams: integer('max-event-streams', 1, 1_000_000),
    maxEventStreamsPerClient: integer('max-event-streams-per-client', 1, 1_000_000),
    headersTimeoutMs: integer('headers-timeout-ms', 100, 3_600_000),
    idleTimeoutMs: integer('idle-timeout-ms', 100, 24 * 3_600_000),
    webhookUrl,
    webhookSecret: raw('webhook-secret') || undefined,
    callbackAllow,
    callbackTimeoutMs: integer('callback-timeout-ms', 100, 600_000),
    callbackAttempts: integer('callback-attempts', 1, 100),
    callbackRetryBaseMs: integer('callback-retry-base-ms', 1, 3_600_000),
    flow: parseFlowConfig({ list, raw, kinds: [...BUILT_IN_KINDS.map((builtIn) => builtIn.kind), ...jobs.map((job) => job.kind)] }),
  };
  if (config.jobTtlMs < 1) throw new ConfigError(`--job-ttl (OFFLOAD_JOB_TTL) must be longer than 0, got "${raw('job-ttl')}"`);
  if (config.jobTtlMs < config.resultTtlMs) {
    throw new ConfigError(
      `--job-ttl (${raw('job-ttl')}) must not be shorter than --result-ttl (${raw('result-ttl')}): an export's file is found through its job`,
    );
  }
  if (config.defaultTimeoutMs !== undefined && config.defaultTimeoutMs > config.maxTimeoutMs) {
    throw new ConfigError(
      `--default-timeout-ms (${config.defaultTimeoutMs}) must not exceed --max-timeout-ms (${config.maxTimeoutMs})`,
    );
  }
  if (!isLoopback(config.host) && !config.token && !config.allowInsecureBind) {
    throw new ConfigError(
      `refusing to listen on ${config.host} without a token: anyone who can reach it could run jobs. ` +
        'Set --token (OFFLOAD_TOKEN), bind 127.0.0.1, or pass --allow-insecure-bind if a proxy in front authenticates.',
    );
  }
  return config;
}

/** `sqlite`, or a URL the PostgreSQL driver can use (its password is never repeated in a message). */
function parseStore(text: string): string {
  if (text === 'sqlite') return text;
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || !['postgres:', 'postgresql:'].includes(url.protocol) || !url.hostname && !url.searchParams.has('host')) {
    throw new ConfigError('--store (OFFLOAD_STORE) must be "sqlite" or a PostgreSQL URL such as postgres://user@db.internal:5432/offload');
  }
  return text;
}


export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export function formatHelp(): string {
  const lines = Object.entries(FLAGS).map(([name, spec]) => {
    const flag = `  --${name}${spec.type === 'string' ? ' <value>' : ''}`;
    const def = spec.default ? ` (default ${spec.default})` : '';
    return `${flag.padEnd(30)} ${spec.help}${def}\n${''.padEnd(31)} env ${spec.env}`;
  });
  return [
    'Usage: offload serve [flags]',
    '       offload --help | --version',
    '',
    'Runs the offload HTTP server and job engine.',
    '',
    'Flags of serve (flag > environment variable > default):',
    ...lines,
    '',
  ].join('\n');
}
