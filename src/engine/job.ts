/** Job states; the same list is the CHECK constraint of `jobs.status` (migration 0001). */
export const JobStatus = Object.freeze({
  pending: 'pending',
  running: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  cancelled: 'cancelled',
} as const);
export type JobStatus = (typeof JobStatus)[keyof typeof JobStatus];

/** The longest timeout a job can have: the largest delay a Node.js timer accepts (2^31 − 1 ms, about 24.8 days). */
export const TIMER_LIMIT_MS = 2_147_483_647;

export const JOB_STATUSES = Object.values(JobStatus) as [JobStatus, ...JobStatus[]];

/**
 * The states a job is shown in: those of the state machine, and `scheduled` — a pending job that has not started
 * yet and is not due before a future `run_at` (delay_ms, run_at). Not stored: it becomes `pending` by time alone.
 */
export const DISPLAY_STATUSES = ['scheduled', ...JOB_STATUSES] as const;
export type DisplayStatus = (typeof DISPLAY_STATUSES)[number];

export function displayStatus(job: Pick<Job, 'status' | 'attempts' | 'runAt'>, now: number): DisplayStatus {
  return job.status === 'pending' && job.attempts === 0 && job.runAt > now ? 'scheduled' : job.status;
}

export function isTerminal(status: JobStatus): boolean {
  return status === JobStatus.succeeded || status === JobStatus.failed || status === JobStatus.cancelled;
}

/**
 * Why an attempt failed, as written to `jobs.error.code`. `retryable` says whether the engine retries on its own
 * (a task error is retried only when the task marks it so).
 */
export const JobErrorCodes = Object.freeze({
  task_error: { retryable: false },
  worker_exit: { retryable: true },
  worker_oom: { retryable: false },
  timeout: { retryable: false },
  cancelled: { retryable: false },
  lost: { retryable: true },
  /** The process died while running the job on each of its last `crashLimit` attempts: a poison job. */
  crashed: { retryable: false },
} as const);
export type EngineJobErrorCode = keyof typeof JobErrorCodes;
/** An engine code, or one a kind was registered with (its tasks' own validation codes); never retried. */
export type JobErrorCode = EngineJobErrorCode | (string & {});

export interface JobError {
  code: JobErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

export interface Job {
  id: string;
  kind: string;
  status: JobStatus;
  payload: unknown;
  priority: number;
  /** Epoch ms before which a pending job is not claimed (backoff, delayed start). */
  runAt: number;
  /** Attempts started so far; a graceful shutdown gives its attempt back. */
  attempts: number;
  maxAttempts: number;
  timeoutMs: number | null;
  owner: string | null;
  leaseExpiresAt: number | null;
  cancelRequested: boolean;
  progressDone: number | null;
  progressTotal: number | null;
  result: unknown;
  /** The last failure; kept on a job that went back to pending for a retry. */
  error: JobError | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  updatedAt: number;
  /** Creation order, used as the pagination cursor. */
  seq: number;
  idempotencyKey: string | null;
  requestHash: string | null;
  /** The caller's own reference (e.g. the record the job works on); indexed while the job is active. */
  ref: string | null;
  /** While this job holds its dedupe key (see DedupePolicy), another job of its kind with the key finds this one. */
  dedupeKey: string | null;
  dedupePolicy: DedupePolicy | null;
  /** POSTed the job once it reaches a final status (see JobStore.claimDeliveries). */
  callbackUrl: string | null;
  /** Its flow-control key (a tenant, say): claimed round-robin across keys, running jobs capped per key. */
  groupKey: string | null;
}

/**
 * How long a job holds its dedupe key, and what a duplicate does. `pending`: until it starts, a duplicate gets it
 * back; `active`: until it ends; `latest`: until it starts, and a duplicate replaces its payload (keep latest).
 */
export const DEDUPE_POLICIES = ['pending', 'active', 'latest'] as const;
export type DedupePolicy = (typeof DEDUPE_POLICIES)[number];

export interface NewJob {
  id: string;
  kind: string;
  payload: unknown;
  priority: number;
  runAt: number;
  maxAttempts: number;
  timeoutMs: number | null;
  createdAt: number;
  /** Same key, same hash: the existing job is returned instead of a new one. */
  idempotencyKey?: string | null;
  requestHash?: string | null;
  ref?: string | null;
  groupKey?: string | null;
  /** Kept by job retention however long ago it finished (see EngineOptions.jobTtlMs). */
  pinned?: boolean;
  dedupeKey?: string | null;
  /** Default `pending` when a dedupeKey is given. */
  dedupePolicy?: DedupePolicy | null;
  callbackUrl?: string | null;
}

/** Identifies one attempt: an outcome is written only while the row still belongs to it. */
export interface Fence {
  id: string;
  owner: string;
  attempt: number;
}

/** A job kind as registered with the engine. */
export interface RegisteredKind {
  moduleUrl: string;
  /** Enqueued only by the host application, never on a client's behalf (see Engine.register). */
  internal: boolean;
  /** The codes its tasks may fail with besides task_error: their own validation failures, never retried. */
  taskErrorCodes: ReadonlySet<string>;
  /** Threads one job may use, its own included (see RegisterOptions.maxThreads). */
  maxThreads: number;
}

export type { JobContext, JobHandler } from '../contracts/task-context.js';
