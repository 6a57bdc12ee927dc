// A row of the jobs table as every store reads it (snake_case columns, times as epoch ms, JSON as text, flags as
// 0/1), and the one place where its columns become Job fields.
import type { DedupePolicy, Job, JobError, JobStatus, NewJob } from './job.js';

export interface JobRow {
  seq: number;
  id: string;
  kind: string;
  status: JobStatus;
  payload: string;
  priority: number;
  run_at: number;
  attempts: number;
  max_attempts: number;
  timeout_ms: number | null;
  owner: string | null;
  lease_expires_at: number | null;
  cancel_requested: number;
  progress_done: number | null;
  progress_total: number | null;
  result: string | null;
  error: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  updated_at: number;
  idempotency_key: string | null;
  request_hash: string | null;
  ref: string | null;
  group_key: string | null;
  /** 1: kept by job retention however old (not a Job field: only retention reads it). */
  pinned: number;
  dedupe_key: string | null;
  dedupe_policy: DedupePolicy | null;
  callback_url: string | null;
}

export function toJob(row: JobRow): Job {
  return {
    seq: row.seq,
    id: row.id,
    kind: row.kind,
    status: row.status,
    payload: JSON.parse(row.payload),
    priority: row.priority,
    runAt: row.run_at,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    timeoutMs: row.timeout_ms,
    owner: row.owner,
    leaseExpiresAt: row.lease_expires_at,
    cancelRequested: row.cancel_requested === 1,
    progressDone: row.progress_done,
    progressTotal: row.progress_total,
    result: row.result === null ? null : JSON.parse(row.result),
    error: row.error === null ? null : JSON.parse(row.error),
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    updatedAt: row.updated_at,
    idempotencyKey: row.idempotency_key,
    requestHash: row.request_hash,
    ref: row.ref,
    dedupeKey: row.dedupe_key,
    dedupePolicy: row.dedupe_policy,
    callbackUrl: row.callback_url,
    groupKey: row.group_key,
  };
}

/** The claim order (priority DESC, run_at, seq), for merging the heads of several kinds. */
export function inClaimOrder(a: Pick<JobRow, 'priority' | 'run_at' | 'seq'>, b: Pick<JobRow, 'priority' | 'run_at' | 'seq'>): number {
  return b.priority - a.priority || a.run_at - b.run_at || a.seq - b.seq;
}

/** What a job asked to be cancelled records when its attempt ends otherwise (a retry, a recovery): it stays cancelled. */
export function cancelledInstead(attemptError: JobError): string {
  return JSON.stringify({
    code: 'cancelled',
    message: 'The job was cancelled; its last attempt ended without finishing and it is not run again.',
    details: { ...attemptError.details, attempt_error: attemptError.code },
  } satisfies JobError);
}

/**
 * The INSERT of a new job, the same in both stores' SQL (@name parameters): a job whose idempotency key or dedupe
 * key is taken inserts nothing and returns no row. Without a conflict target (PostgreSQL takes only one), so a
 * taken id does too: the store then finds which row took it (see insertConflict).
 */
export function insertJobSql(returning: string): string {
  return `
    INSERT INTO jobs (id, kind, status, payload, priority, run_at, max_attempts, timeout_ms, created_at, updated_at,
                      idempotency_key, request_hash, ref, pinned, dedupe_key, dedupe_policy, dedupe_slot, callback_url, group_key)
    VALUES (@id, @kind, 'pending', @payload, @priority, @run_at, @max_attempts, @timeout_ms, @now, @now,
            @idempotency_key, @request_hash, @ref, @pinned, @dedupe_key, @dedupe_policy, @dedupe_key, @callback_url, @group_key)
    ON CONFLICT DO NOTHING
    RETURNING ${returning}`;
}

/** The parameters of insertJobSql for a job (`pinned` as the store's flag type). */
export function insertJobParams(job: NewJob, pinned: number | boolean): Record<string, unknown> {
  const dedupeKey = job.dedupeKey ?? null;
  return {
    id: job.id, kind: job.kind, payload: JSON.stringify(job.payload), priority: job.priority, run_at: job.runAt,
    max_attempts: job.maxAttempts, timeout_ms: job.timeoutMs, now: job.createdAt, idempotency_key: job.idempotencyKey ?? null,
    request_hash: job.requestHash ?? null, ref: job.ref ?? null, pinned, dedupe_key: dedupeKey, group_key: job.groupKey ?? null,
    dedupe_policy: dedupeKey === null ? null : (job.dedupePolicy ?? 'pending'), callback_url: job.callbackUrl ?? null,
  };
}

/** An insert that added no row and found no job holding its idempotency or dedupe key: its id is taken. */
export function takenIdError(job: NewJob): Error {
  return Object.assign(new Error(`A job with id ${job.id} already exists.`), { code: 'duplicate_job_id' });
}
