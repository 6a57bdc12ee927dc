import type { Fence, Job, JobError, JobStatus, NewJob } from './job.js';

export interface ListJobsFilter {
  kind?: string;
  status?: JobStatus;
  limit: number;
  /** Return jobs created before this one (its `seq`), newest first. */
  beforeSeq?: number;
}

export interface ClaimRequest {
  owner: string;
  kinds: readonly string[];
  limit: number;
  now: number;
  leaseMs: number;
}

export interface OwnerRecord {
  id: string;
  hostname: string;
  pid: number;
  startedAt: number;
  heartbeatAt: number;
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
  /**
   * Inserts the jobs in one transaction. A job whose idempotency key is already taken is not inserted: the
   * existing row is returned with `created: false`.
   */
  insert(jobs: readonly NewJob[]): Promise<Array<{ job: Job; created: boolean }>>;
  claim(request: ClaimRequest): Promise<Job[]>;
  /** Extends the lease of every running job of `owner`; returns them, with any cancellation asked by others. */
  renewLeases(owner: string, leaseExpiresAt: number, now: number): Promise<Array<{ id: string; cancelRequested: boolean }>>;
  saveProgress(fence: Fence, done: number, total: number | null, now: number): Promise<Job | undefined>;
  complete(fence: Fence, result: unknown, now: number, progress?: { done: number; total: number | null } | null): Promise<Job | undefined>;
  endAttempt(fence: Fence, end: AttemptEnd, now: number): Promise<Job | undefined>;
  /**
   * Ends the attempt of an orphan (see findOrphans) — unless its owner renewed the lease meanwhile, which only
   * `ownerGone` (the owner is known to be dead) overrides.
   */
  endOrphan(fence: Fence, end: AttemptEnd, now: number, ownerGone: boolean): Promise<Job | undefined>;
  /** Puts a running job back to pending without counting its attempt (graceful shutdown). */
  release(fence: Fence, now: number): Promise<Job | undefined>;
  /** Running jobs whose lease expired before `now`, or (if `owners` given) that belong to one of those owners. */
  findOrphans(now: number, owners?: readonly string[]): Promise<Job[]>;
  cancelPending(id: string, error: JobError, now: number): Promise<Job | undefined>;
  requestCancel(id: string, now: number): Promise<Job | undefined>;
  get(id: string): Promise<Job | undefined>;
  list(filter: ListJobsFilter): Promise<Job[]>;
  countPending(): Promise<number>;
  /** Pending or running jobs enqueued with this `ref`. */
  countActive(filter: { ref: string }): Promise<number>;
  /** Forgets idempotency keys of jobs that finished before `finishedBefore`; returns how many. */
  expireIdempotencyKeys(finishedBefore: number): Promise<number>;
  /** How many jobs are pending and running, per kind (for metrics); statuses with no job are left out. */
  countByKindAndStatus(): Promise<Array<{ kind: string; status: 'pending' | 'running'; count: number }>>;
  /** The earliest `run_at` of a pending job of these kinds, if any. */
  nextRunAt(kinds: readonly string[]): Promise<number | undefined>;
  registerOwner(owner: OwnerRecord): Promise<void>;
  listOwners(): Promise<OwnerRecord[]>;
  removeOwner(id: string): Promise<void>;
  /** Checks that the database accepts a write. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
