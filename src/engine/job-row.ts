// A row of the jobs table as every store reads it (snake_case columns, times as epoch ms, JSON as text, flags as
// 0/1), and the one place where its columns become Job fields.
import type { Job, JobError, JobStatus } from './job.js';

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
 * The INSERT of a new job, the same in both stores' SQL (@name parameters): a job whose idempotency key is taken
 * inserts nothing and returns no row.
 */
export function insertJobSql(returning: string): string {
  return `
    INSERT INTO jobs (id, kind, status, payload, priority, run_at, max_attempts, timeout_ms, created_at, updated_at,
                      idempotency_key, request_hash, ref, pinned, group_key)
    VALUES (@id, @kind, 'pending', @payload, @priority, @run_at, @max_attempts, @timeout_ms, @now, @now,
            @idempotency_key, @request_hash, @ref, @pinned, @group_key)
    ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING ${returning}`;
}
