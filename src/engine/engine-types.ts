// The types of the engine's public methods and events.
import type { AttemptReport } from './dispatcher.js';
import type { ScheduleRunReport } from './scheduler.js';
import type { DisplayStatus, Job } from './job.js';

export interface EnqueueRequest {
  kind: string;
  payload: unknown;
  priority?: number;
  maxAttempts?: number;
  timeoutMs?: number | null;
  /** Epoch ms (of the engine's clock, see clock.ts) before which the job is not started. */
  runAt?: number;
  /** Or: not started before this many ms from now — measured on the engine's clock, so a wall-clock step does not move it. */
  delayMs?: number;
  /** With `requestHash`: a second request with the same key gets the first job back (a different hash: conflict). */
  idempotencyKey?: string;
  requestHash?: string;
  /** The caller's own reference (e.g. the record the job works on), counted by countActive({ ref }). */
  ref?: string;
  /**
   * Never deleted by job retention (jobTtlMs): for a job whose row something else keeps reading or references,
   * e.g. the job that created a record. Default false.
   */
  pinned?: boolean;
}

export interface EnqueueResult {
  job: Job;
  /** False when an earlier job with the same idempotency key was returned. */
  created: boolean;
}

export interface ListJobsRequest {
  kind?: string;
  /** A displayed status: `scheduled` and `pending` split the pending jobs by displayStatus. */
  status?: DisplayStatus;
  /** Jobs enqueued with this ref (e.g. a dataset's import and exports). */
  ref?: string;
  /** Epoch ms: createdAt >= createdAfter, createdAt < createdBefore. */
  createdAfter?: number;
  createdBefore?: number;
  /** A case-sensitive substring of the payload's or the result's JSON text. */
  text?: string;
  limit?: number;
  /** The `nextCursor` of the previous page. */
  cursor?: string;
}

export type RetryResult =
  | { state: 'retried'; job: Job }
  /** Neither failed nor cancelled: nothing was changed. */
  | { state: 'not_retryable'; job: Job };

export type CancelResult =
  | { state: 'cancelled'; job: Job }
  | { state: 'cancel_requested'; job: Job }
  | { state: 'already_finished'; job: Job };

export interface EngineEvents {
  /** Every new state of a job written by this engine (insert, claim, progress, outcome, cancel, recovery). */
  change: [job: Job];
  /** An attempt run by this process ended and its outcome was written (a retry, a release or a final status). */
  attemptEnd: [report: AttemptReport];
  /** This engine recovered an orphan: its attempt ended as `lost` (the job is back to pending, or failed). */
  recovered: [job: Job];
  /** Emitted once per job that reached a final status through this engine, whichever way it got there. */
  finished: [job: Job];
  /** A look at a due schedule enqueued or skipped runs (see Scheduler). */
  scheduleRun: [report: ScheduleRunReport];
  /** A look at a due schedule found that another process (or a change) had written it first: it did nothing. */
  scheduleRaceLost: [];
  /** After close(): the pool is down and the database closed. */
  closed: [];
}

export interface EngineStats {
  threads: number;
  busyThreads: number;
  /** Threads told to terminate that have not exited (blocked in a native call): see WorkerPool.zombieThreads. */
  zombieThreads: number;
  closing: boolean;
}

export interface ReadinessCheck {
  name: 'database' | 'pool' | 'threads';
  ok: boolean;
  /** Why the check failed; absent when it passed. */
  message?: string;
}

/** What engine.readiness() found: ready when every check passed. */
export interface ReadinessReport {
  ready: boolean;
  checks: ReadinessCheck[];
}
