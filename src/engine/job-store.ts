import type { Fence, Job, JobError, JobStatus, NewJob } from './job.js';
import type { ScheduleStore } from './schedule-store.js';

/**
 * Which jobs `list` returns: those matching every filter given, newest first (seq descending), at most `limit`.
 * kind, status, ref, beforeSeq and fromSeq are index ranges; createdAfter, createdBefore and text are checked on
 * the rows of that range, so a caller that needs a bounded read gives a `fromSeq` (the engine does, see
 * Engine.list).
 */
export interface ListJobsFilter {
  kind?: string;
  status?: JobStatus;
  /** Only jobs enqueued with this `ref` (whatever their status; countActive counts the active ones). */
  ref?: string;
  /**
   * With status pending: `scheduled` true keeps only the jobs not started yet with `runAt > now` (see displayStatus),
   * false only the others.
   */
  waiting?: { scheduled: boolean; now: number };
  /** `createdAt >= createdAfter` (epoch ms). */
  createdAfter?: number;
  /** `createdAt < createdBefore` (epoch ms). */
  createdBefore?: number;
  /**
   * Only jobs whose payload or result, as the stored JSON text (JSON.stringify's compact form), contains `text`:
   * a case-sensitive substring match, no wildcards.
   */
  text?: string;
  limit: number;
  /** Return jobs created before this one (its `seq`), newest first. */
  beforeSeq?: number;
  /** Return only jobs with `seq >= fromSeq`: with beforeSeq, a window of creation order. */
  fromSeq?: number;
}

/** A point in the order of changes: (updatedAt, seq), compared as a pair. */
export interface ChangePoint {
  updatedAt: number;
  seq: number;
}

/** How many jobs of a kind finished with a status within one minute. */
export interface FinishedInMinute {
  kind: string;
  status: 'succeeded' | 'failed' | 'cancelled';
  /** Epoch ms of the minute's start: floor(finishedAt / 60000) * 60000. */
  minute: number;
  count: number;
}

export interface ClaimRequest {
  owner: string;
  kinds: readonly string[];
  limit: number;
  now: number;
  leaseMs: number;
  /** Job ids not to claim (an attempt of theirs still winds down in the claiming process). */
  exclude?: readonly string[];
}

export interface OwnerRecord {
  id: string;
  hostname: string;
  pid: number;
  startedAt: number;
  heartbeatAt: number;
}

/** One ended attempt of a job, as kept in its history (oldest first). */
export interface AttemptRecord {
  attempt: number;
  owner: string | null;
  startedAt: number | null;
  endedAt: number;
  /** `retried`: back to pending to run again; `released`: given back at a graceful shutdown, not counted. */
  outcome: 'succeeded' | 'failed' | 'cancelled' | 'retried' | 'released';
  error: JobError | null;
}

/** An attempt that ended without a result, and what to do with its job. */
export type AttemptEnd =
  | { status: 'failed' | 'cancelled'; error: JobError }
  | { status: 'pending'; error: JobError; runAt: number };

/**
 * Everything the engine asks of the jobs table. Narrow on purpose: a store for another database implements these
 * and the dispatcher does not change. Every write that ends or extends an attempt is fenced by (owner, attempt):
 * it changes nothing, and returns undefined, once the row has moved on to another attempt or owner.
 */
export interface JobStore {
  /** The schedules, in the same database: a run's job is inserted in the transaction that takes its due time. */
  readonly schedules: ScheduleStore;
  /**
   * Inserts the jobs in one transaction. A job whose idempotency key is already taken is not inserted: the
   * existing row is returned with `created: false`.
   */
  insert(jobs: readonly NewJob[]): Promise<Array<{ job: Job; created: boolean }>>;
  claim(request: ClaimRequest): Promise<Job[]>;
  /**
   * Extends the leases of these attempts of `owner` (and the owner's heartbeat); returns those still its own, with
   * any cancellation asked by others. A row the owner holds but does not list is not renewed.
   */
  renewLeases(
    owner: string,
    fences: readonly Omit<Fence, 'owner'>[],
    leaseExpiresAt: number,
    now: number,
  ): Promise<Array<{ id: string; attempt: number; cancelRequested: boolean }>>;
  saveProgress(fence: Fence, done: number, total: number | null, now: number): Promise<Job | undefined>;
  complete(fence: Fence, result: unknown, now: number, progress?: { done: number; total: number | null } | null): Promise<Job | undefined>;
  endAttempt(fence: Fence, end: AttemptEnd, now: number): Promise<Job | undefined>;
  /**
   * Ends the attempt of an orphan (see findOrphans) — unless its owner renewed the lease meanwhile, which only
   * `ownerGone` (the owner is known to be dead) overrides. "Renewed" is: the lease is now past `leaseSeen` (the
   * value the caller saw unchanged for a lease length), or without it, not expired at `now`.
   */
  endOrphan(fence: Fence, end: AttemptEnd, now: number, ownerGone: boolean, leaseSeen?: number): Promise<Job | undefined>;
  /** Puts a running job back to pending without counting its attempt (graceful shutdown). */
  release(fence: Fence, now: number): Promise<Job | undefined>;
  /** Running jobs whose lease expired before `now`, or (if `owners` given) that belong to one of those owners. */
  findOrphans(now: number, owners?: readonly string[]): Promise<Job[]>;
  cancelPending(id: string, error: JobError, now: number): Promise<Job | undefined>;
  requestCancel(id: string, now: number): Promise<Job | undefined>;
  get(id: string): Promise<Job | undefined>;
  /** Every ended attempt of the job, oldest first; however an attempt ended, it is recorded with that write. */
  attempts(id: string): Promise<AttemptRecord[]>;
  list(filter: ListJobsFilter): Promise<Job[]>;
  /**
   * Jobs whose (updatedAt, seq) is greater than `after` (pairs compared lexicographically), in that order, at most
   * `limit`: the changes since a point, oldest first, for those who poll for writes of other processes. Every write
   * of a row moves its updatedAt (lease renewals too), so a caller dedupes on what it shows.
   */
  listUpdatedAfter(after: ChangePoint, limit: number): Promise<Job[]>;
  /** How many jobs there are of each kind in each status, every status; pairs with no job are left out. */
  countAllByKindAndStatus(): Promise<Array<{ kind: string; status: JobStatus; count: number }>>;
  /**
   * Jobs with a final status (succeeded, failed, cancelled) and `since <= finishedAt < until`, counted per kind,
   * status and minute; groups with no job are left out, in no particular order.
   */
  countFinishedPerMinute(since: number, until: number): Promise<FinishedInMinute[]>;
  /**
   * Puts a failed or cancelled job back to pending, due at `now`: attempts keep counting, maxAttempts becomes
   * max(maxAttempts, attempts + 1) so that at least one attempt is left, error, result and progress are cleared
   * (cancelRequested too, finishedAt to null), the attempt history is kept. Undefined (nothing changed) for a job
   * in any other status, or none.
   */
  retry(id: string, now: number): Promise<Job | undefined>;
  countPending(): Promise<number>;
  /** Pending or running jobs enqueued with this `ref`. */
  countActive(filter: { ref: string }): Promise<number>;
  /** Forgets idempotency keys of jobs that finished before `finishedBefore`; returns how many. */
  expireIdempotencyKeys(finishedBefore: number): Promise<number>;
  /**
   * Deletes up to `limit` jobs that ended (succeeded, failed, cancelled) before `finishedBefore`, oldest first,
   * never a pinned one; returns how many. One small write per call, so that callers can pace a long backlog.
   */
  deleteFinished(finishedBefore: number, limit: number): Promise<number>;
  /** Lets deleteFinished take this job like any other once it has ended (what pinned it is gone); unknown ids are fine. */
  unpin(id: string): Promise<void>;
  /** How many jobs are pending and running, per kind (for metrics); statuses with no job are left out. */
  countByKindAndStatus(): Promise<Array<{ kind: string; status: 'pending' | 'running'; count: number }>>;
  /** The earliest `run_at` of a pending job of these kinds, if any. */
  nextRunAt(kinds: readonly string[]): Promise<number | undefined>;
  registerOwner(owner: OwnerRecord): Promise<void>;
  listOwners(): Promise<OwnerRecord[]>;
  removeOwner(id: string): Promise<void>;
  /**
   * Sets the heartbeat of owner `id` to `now`, a real write queued like the others (it fails on a full disk or a
   * locked database, unlike ping); false when no such owner row exists.
   */
  touchOwner(id: string, now: number): Promise<boolean>;
  /** Checks that the database accepts a write. */
  ping(): Promise<void>;
  /**
   * Optional. Calls `listener` whenever jobs may have become claimable through any process sharing the store (on
   * PostgreSQL: a NOTIFY sent by the commit of an insert, retry, release or recovery); returns the unsubscribe
   * function. The engine then claims at once instead of waiting for its poll, which stays as the safety net. A
   * store without it (SQLite, whose writes from other processes cannot be observed) is found by the poll alone.
   */
  onJobsAvailable?(listener: () => void): () => void;
  close(): Promise<void>;
}
