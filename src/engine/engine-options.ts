// What an engine can be told, its defaults (the one place they are defined), and their validation.
import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { EngineError } from './engine-error.js';
import type { EnqueueRequest } from './engine-types.js';
import { TIMER_LIMIT_MS, type NewJob } from './job.js';
import type { JobStore } from './job-store.js';

export interface EngineOptions {
  /** Handed to every task as `ctx.dataDir`: where jobs read and write their files. */
  dataDir: string;
  /** The jobs table: e.g. `openSqliteJobStore(dataDir)`. The engine closes it on close(). */
  store: JobStore;
  /** Worker threads in the pool. Default: cores − 1, at least 1. */
  threads?: number;
  /** Heap limit of each worker thread, MB. Default 512. */
  workerMemoryMb?: number;
  /** Lease of a running job, ms; renewed every third of it. Default 15000. */
  leaseMs?: number;
  /** Pending jobs beyond which enqueue refuses with `queue_full`. Default 10000. */
  maxPending?: number;
  /** Attempts of a new job unless it says otherwise. Default 3. */
  defaultMaxAttempts?: number;
  /** The longest `timeoutMs` a job may ask for; enqueue refuses more with `timeout_too_long`. Default 7 days. */
  maxTimeoutMs?: number;
  /** Timeout of a job that gives none, ms. Default `maxTimeoutMs`, so that no job runs unbounded. */
  defaultTimeoutMs?: number;
  /** Exponential backoff between retries, ms. Default base 1000, max 300000. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** How often to look for jobs this process was not told about (other processes). Default 1000 ms. */
  pollIntervalMs?: number;
  /** How long a cancelled task may take to stop on its own (ctx.signal) before its thread is terminated. Default 200 ms. */
  abortGraceMs?: number;
  /** Minimum interval between two progress messages of one job, ms. Default 250. */
  progressIntervalMs?: number;
  /** Piscina niceIncrement for worker threads (Linux; needs @napi-rs/nice). Default 0. */
  niceIncrement?: number;
  /**
   * A job whose process died while running it on this many attempts in a row fails with `crashed` instead of
   * being retried again: it is likely what kills the process. Default 2.
   */
  crashLimit?: number;
  /** Finished jobs (succeeded, failed, cancelled) are deleted this long after they ended, unless pinned, ms. Default 7 days. */
  jobTtlMs?: number;
  logger?: Logger;
  /**
   * The clock schedules are read on (epoch ms): their due times, and the creation time of the jobs they enqueue.
   * Default the engine's clock (clock.ts). Tests move it to walk through DST transitions.
   */
  now?: () => number;
}

export type ResolvedEngineOptions = Required<Omit<EngineOptions, 'store' | 'logger' | 'defaultTimeoutMs' | 'now'>> & { defaultTimeoutMs: number };

export const ENGINE_DEFAULTS = Object.freeze({
  threads: Math.max(1, availableParallelism() - 1),
  workerMemoryMb: 512,
  leaseMs: 15_000,
  maxPending: 10_000,
  defaultMaxAttempts: 3,
  maxTimeoutMs: 7 * 24 * 3600 * 1000,
  retryBaseMs: 1_000,
  retryMaxMs: 300_000,
  pollIntervalMs: 1_000,
  abortGraceMs: 200,
  progressIntervalMs: 250,
  niceIncrement: 0,
  jobTtlMs: 7 * 24 * 3600 * 1000,
  crashLimit: 2,
});

/** Fills in the defaults and checks each option, with a message naming it. */
export function resolveEngineOptions(options: EngineOptions): ResolvedEngineOptions {
  const pick = <K extends keyof typeof ENGINE_DEFAULTS>(name: K): number => options[name] ?? ENGINE_DEFAULTS[name];
  const maxTimeoutMs = pick('maxTimeoutMs');
  const resolved: ResolvedEngineOptions = {
    dataDir: options.dataDir,
    threads: pick('threads'),
    workerMemoryMb: pick('workerMemoryMb'),
    leaseMs: pick('leaseMs'),
    maxPending: pick('maxPending'),
    defaultMaxAttempts: pick('defaultMaxAttempts'),
    maxTimeoutMs,
    defaultTimeoutMs: options.defaultTimeoutMs ?? maxTimeoutMs,
    retryBaseMs: pick('retryBaseMs'),
    retryMaxMs: pick('retryMaxMs'),
    pollIntervalMs: pick('pollIntervalMs'),
    abortGraceMs: pick('abortGraceMs'),
    progressIntervalMs: pick('progressIntervalMs'),
    niceIncrement: pick('niceIncrement'),
    jobTtlMs: pick('jobTtlMs'),
    crashLimit: pick('crashLimit'),
  };
  for (const name of ['threads', 'workerMemoryMb', 'leaseMs', 'maxPending', 'defaultMaxAttempts', 'retryBaseMs', 'retryMaxMs', 'pollIntervalMs', 'jobTtlMs', 'crashLimit'] as const) {
    validatePositiveInteger(name, resolved[name]);
  }
  validatePositiveInteger('maxTimeoutMs', resolved.maxTimeoutMs, TIMER_LIMIT_MS);
  validatePositiveInteger('defaultTimeoutMs', resolved.defaultTimeoutMs, resolved.maxTimeoutMs);
  return resolved;
}

function validatePositiveInteger(name: string, value: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new EngineError('invalid_option', `options.${name} must be a positive integer`);
  }
  if (value > max) throw new EngineError('invalid_option', `options.${name} must be at most ${max}`);
}

/** A job's own timeout, within the ceiling, or the default one: every job gets a timeout. */
export function timeoutOf(timeoutMs: number | null | undefined, { maxTimeoutMs, defaultTimeoutMs }: ResolvedEngineOptions): number {
  if (timeoutMs === undefined || timeoutMs === null) return defaultTimeoutMs;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) {
    throw new EngineError('invalid_option', 'A job\'s timeoutMs must be a positive integer (milliseconds).');
  }
  if (timeoutMs > maxTimeoutMs) {
    throw new EngineError('timeout_too_long', `The timeout of ${timeoutMs} ms is over this server's ceiling of ${maxTimeoutMs} ms.`, {
      details: { max_timeout_ms: maxTimeoutMs },
    });
  }
  return timeoutMs;
}

/** The row a request becomes: the engine's defaults filled in, its timeout checked against the ceiling. */
export function newJob(request: EnqueueRequest, options: ResolvedEngineOptions, now: number): NewJob {
  return {
    id: randomUUID(),
    kind: request.kind,
    payload: request.payload ?? {},
    priority: request.priority ?? 0,
    runAt: request.runAt ?? now + Math.max(0, request.delayMs ?? 0),
    maxAttempts: request.maxAttempts ?? options.defaultMaxAttempts,
    timeoutMs: timeoutOf(request.timeoutMs, options),
    createdAt: now,
    idempotencyKey: request.idempotencyKey ?? null,
    requestHash: request.requestHash ?? null,
    ref: request.ref ?? null,
    pinned: request.pinned ?? false,
  };
}
