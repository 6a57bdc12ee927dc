import type { Database, Statement } from 'better-sqlite3';
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
  /** Pending or running jobs whose payload names this dataset (exports reading it, its import). */
  countActiveForDataset(datasetId: string): Promise<number>;
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

interface JobRow {
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
}

// The one place where columns become fields.
function toJob(row: JobRow): Job {
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
  };
}

const FENCE = `id = @id AND owner = @owner AND attempts = @attempt AND status = 'running'`;

interface QueuedWrite {
  run(): unknown;
  resolve(value: any): void;
  reject(err: unknown): void;
}

/**
 * The jobs table in SQLite, on the calling (main) thread.
 *
 * Group commit: every write is queued and the queue runs as one `BEGIN IMMEDIATE … COMMIT` on the next turn of
 * the event loop; each promise resolves only after that COMMIT. Writes that arrive together (a burst of enqueues,
 * outcomes and claims of several threads) share one commit — one WAL append, one fsync with durability `full` —
 * instead of one each. Reads are not queued: callers await their write before reading what it wrote.
 */
export class SqliteJobStore implements JobStore {
  readonly #db: Database;
  readonly #sql: ReturnType<typeof prepareStatements>;
  #queue: QueuedWrite[] = [];
  #flushing: Promise<void> | undefined;

  constructor(db: Database) {
    this.#db = db;
    this.#sql = prepareStatements(db);
  }

  #write<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ run, resolve, reject });
      if (this.#queue.length === 1) this.#flushing = new Promise((done) => setImmediate(() => done(this.#flush())));
    });
  }

  #flush(): void {
    const batch = this.#queue;
    this.#queue = [];
    const results: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    try {
      this.#db.exec('BEGIN IMMEDIATE');
    } catch (error) {
      for (const write of batch) write.reject(error);
      return;
    }
    for (const write of batch) {
      // A failing statement is rolled back alone (SQLite's statement journal); the others still commit.
      try {
        results.push({ ok: true, value: write.run() });
      } catch (error) {
        results.push({ ok: false, error });
      }
    }
    try {
      this.#db.exec('COMMIT');
    } catch (error) {
      if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
      for (const write of batch) write.reject(error);
      return;
    }
    batch.forEach((write, i) => {
      const result = results[i]!;
      if (result.ok) write.resolve(result.value);
      else write.reject(result.error);
    });
  }

  #insertMany(jobs: readonly NewJob[]): Array<{ job: Job; created: boolean }> {
    const sql = this.#sql;
    return jobs.map((job) => {
        const inserted = sql.insert.get({
          id: job.id,
          kind: job.kind,
          payload: JSON.stringify(job.payload),
          priority: job.priority,
          run_at: job.runAt,
          max_attempts: job.maxAttempts,
          timeout_ms: job.timeoutMs,
          now: job.createdAt,
          idempotency_key: job.idempotencyKey ?? null,
          request_hash: job.requestHash ?? null,
        }) as JobRow | undefined;
        if (inserted) return { job: toJob(inserted), created: true };
        return { job: toJob(sql.getByIdempotencyKey.get(job.idempotencyKey) as JobRow), created: false };
    });
  }

  async insert(jobs: readonly NewJob[]) {
    return this.#write(() => this.#insertMany(jobs));
  }

  /**
   * Select, then update each row, inside the queue's BEGIN IMMEDIATE: the write lock is held throughout, so two
   * processes can never claim the same row. (One `UPDATE … WHERE id IN (SELECT …)` measured 5× slower.)
   */
  async claim(request: ClaimRequest): Promise<Job[]> {
    if (request.limit <= 0 || request.kinds.length === 0) return [];
    return this.#write(() => {
      const ids = this.#sql.claimable.all({ kinds: JSON.stringify(request.kinds), limit: request.limit, now: request.now }) as string[];
      const lease = request.now + request.leaseMs;
      return ids.map((id) => toJob(this.#sql.claim.get({ id, owner: request.owner, lease, now: request.now }) as JobRow));
    });
  }

  async renewLeases(owner: string, leaseExpiresAt: number, now: number) {
    return this.#write(() => {
      const rows = this.#sql.renew.all({ owner, lease: leaseExpiresAt, now }) as Array<{ id: string; cancel_requested: number }>;
      this.#sql.ownerHeartbeat.run({ owner, now });
      return rows.map((row) => ({ id: row.id, cancelRequested: row.cancel_requested === 1 }));
    });
  }

  async saveProgress(fence: Fence, done: number, total: number | null, now: number) {
    return this.#one(this.#sql.progress, { ...fence, done, total, now });
  }

  async complete(fence: Fence, result: unknown, now: number, progress?: { done: number; total: number | null } | null) {
    return this.#one(this.#sql.complete, {
      ...fence, result: JSON.stringify(result ?? null), now, done: progress?.done ?? null, total: progress?.total ?? null,
    });
  }

  async endAttempt(fence: Fence, end: AttemptEnd, now: number) {
    const error = JSON.stringify(end.error);
    if (end.status === 'pending') return this.#one(this.#sql.retry, { ...fence, error, run_at: end.runAt, now });
    return this.#one(this.#sql.finishUnsuccessful, { ...fence, status: end.status, error, now });
  }

  async endOrphan(fence: Fence, end: AttemptEnd, now: number, ownerGone: boolean) {
    const run_at = end.status === 'pending' ? end.runAt : null;
    return this.#one(this.#sql.endOrphan, {
      ...fence, status: end.status, error: JSON.stringify(end.error), run_at, now, owner_gone: ownerGone ? 1 : 0,
    });
  }

  async release(fence: Fence, now: number) {
    return this.#one(this.#sql.release, { ...fence, now });
  }

  async findOrphans(now: number, owners: readonly string[] = []) {
    return (this.#sql.orphans.all({ now, owners: JSON.stringify(owners) }) as JobRow[]).map(toJob);
  }

  async cancelPending(id: string, error: JobError, now: number) {
    return this.#one(this.#sql.cancelPending, { id, error: JSON.stringify(error), now });
  }

  async requestCancel(id: string, now: number) {
    return this.#one(this.#sql.requestCancel, { id, now });
  }

  async get(id: string) {
    const row = this.#sql.get.get(id) as JobRow | undefined;
    return row && toJob(row);
  }

  async list(filter: ListJobsFilter) {
    const rows = this.#sql.list.all({
      kind: filter.kind ?? null,
      status: filter.status ?? null,
      before: filter.beforeSeq ?? null,
      limit: filter.limit,
    }) as JobRow[];
    return rows.map(toJob);
  }

  async countPending() {
    return (this.#sql.countPending.get() as { n: number }).n;
  }

  async countByKindAndStatus() {
    return this.#sql.countByKindAndStatus.all() as Array<{ kind: string; status: 'pending' | 'running'; count: number }>;
  }

  async countActiveForDataset(datasetId: string) {
    return (this.#sql.countActiveForDataset.get(datasetId) as { n: number }).n;
  }

  async expireIdempotencyKeys(finishedBefore: number) {
    return this.#write(() => this.#sql.expireIdempotencyKeys.run(finishedBefore).changes);
  }

  async nextRunAt(kinds: readonly string[]) {
    const row = this.#sql.nextRunAt.get(JSON.stringify(kinds)) as { run_at: number } | undefined;
    return row?.run_at;
  }

  async registerOwner(owner: OwnerRecord) {
    this.#sql.registerOwner.run({
      id: owner.id,
      hostname: owner.hostname,
      pid: owner.pid,
      started_at: owner.startedAt,
      heartbeat_at: owner.heartbeatAt,
    });
  }

  async listOwners() {
    return (this.#sql.listOwners.all() as Array<{ id: string; hostname: string; pid: number; started_at: number; heartbeat_at: number }>).map(
      (row) => ({ id: row.id, hostname: row.hostname, pid: row.pid, startedAt: row.started_at, heartbeatAt: row.heartbeat_at }),
    );
  }

  async removeOwner(id: string) {
    this.#sql.removeOwner.run(id);
  }

  async ping() {
    this.#db.exec('BEGIN IMMEDIATE; ROLLBACK');
  }

  async close() {
    await this.#flushing;
    this.#db.close();
  }

  /** A queued fenced write returning the row it changed, if any. */
  #one(statement: Statement, params: Record<string, unknown>): Promise<Job | undefined> {
    return this.#write(() => {
      const row = statement.get(params) as JobRow | undefined;
      return row && toJob(row);
    });
  }
}

function prepareStatements(db: Database) {
  return {
    insert: db.prepare(`
      INSERT INTO jobs (id, kind, status, payload, priority, run_at, max_attempts, timeout_ms, created_at, updated_at,
                        idempotency_key, request_hash)
      VALUES (@id, @kind, 'pending', @payload, @priority, @run_at, @max_attempts, @timeout_ms, @now, @now,
              @idempotency_key, @request_hash)
      ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
      RETURNING *`),
    getByIdempotencyKey: db.prepare(`SELECT * FROM jobs WHERE idempotency_key = ?`),
    countActiveForDataset: db.prepare(`
      SELECT count(*) AS n FROM jobs INDEXED BY jobs_by_status
      WHERE status IN ('pending', 'running') AND json_extract(payload, '$.dataset_id') = ?`),
    expireIdempotencyKeys: db.prepare(`
      UPDATE jobs SET idempotency_key = NULL
      WHERE idempotency_key IS NOT NULL AND finished_at < ? AND status IN ('succeeded', 'failed', 'cancelled')`),
    // INDEXED BY: without it the planner chose jobs_by_status and sorted every pending row on each claim.
    claimable: db
      .prepare(`
        SELECT id FROM jobs INDEXED BY jobs_claim_order
        WHERE status = 'pending' AND run_at <= @now AND kind IN (SELECT value FROM json_each(@kinds))
        ORDER BY priority DESC, run_at, seq
        LIMIT @limit`)
      .pluck(),
    claim: db.prepare(`
      UPDATE jobs SET status = 'running', owner = @owner, lease_expires_at = @lease, attempts = attempts + 1,
             started_at = @now, updated_at = @now, progress_done = NULL, progress_total = NULL
      WHERE id = @id AND status = 'pending'
      RETURNING *`),
    renew: db.prepare(`
      UPDATE jobs SET lease_expires_at = @lease, updated_at = @now
      WHERE owner = @owner AND status = 'running'
      RETURNING id, cancel_requested`),
    ownerHeartbeat: db.prepare(`UPDATE owners SET heartbeat_at = @now WHERE id = @owner`),
    progress: db.prepare(`
      UPDATE jobs SET progress_done = @done, progress_total = @total, updated_at = @now
      WHERE ${FENCE} RETURNING *`),
    complete: db.prepare(`
      UPDATE jobs SET status = 'succeeded', result = @result, error = NULL, owner = NULL, lease_expires_at = NULL,
             progress_done = coalesce(@done, progress_done), progress_total = coalesce(@total, progress_total),
             finished_at = @now, updated_at = @now
      WHERE ${FENCE} RETURNING *`),
    finishUnsuccessful: db.prepare(`
      UPDATE jobs SET status = @status, error = @error, owner = NULL, lease_expires_at = NULL,
             finished_at = @now, updated_at = @now
      WHERE ${FENCE} RETURNING *`),
    retry: db.prepare(`
      UPDATE jobs SET status = 'pending', error = @error, run_at = @run_at, owner = NULL, lease_expires_at = NULL,
             cancel_requested = 0, updated_at = @now
      WHERE ${FENCE} RETURNING *`),
    endOrphan: db.prepare(`
      UPDATE jobs SET status = @status, error = @error, run_at = coalesce(@run_at, run_at), owner = NULL,
             lease_expires_at = NULL, cancel_requested = 0, updated_at = @now,
             finished_at = CASE WHEN @status = 'pending' THEN NULL ELSE @now END
      WHERE ${FENCE} AND (@owner_gone = 1 OR lease_expires_at < @now) RETURNING *`),
    release: db.prepare(`
      UPDATE jobs SET status = 'pending', attempts = attempts - 1, run_at = @now, owner = NULL,
             lease_expires_at = NULL, started_at = NULL, updated_at = @now
      WHERE ${FENCE} RETURNING *`),
    orphans: db.prepare(`
      SELECT * FROM jobs
      WHERE status = 'running' AND (lease_expires_at < @now OR owner IN (SELECT value FROM json_each(@owners)))`),
    cancelPending: db.prepare(`
      UPDATE jobs SET status = 'cancelled', error = @error, finished_at = @now, updated_at = @now
      WHERE id = @id AND status = 'pending' RETURNING *`),
    requestCancel: db.prepare(`
      UPDATE jobs SET cancel_requested = 1, updated_at = @now
      WHERE id = @id AND status = 'running' RETURNING *`),
    get: db.prepare(`SELECT * FROM jobs WHERE id = ?`),
    list: db.prepare(`
      SELECT * FROM jobs
      WHERE (@kind IS NULL OR kind = @kind) AND (@status IS NULL OR status = @status)
        AND (@before IS NULL OR seq < @before)
      ORDER BY seq DESC LIMIT @limit`),
    // job_counts is kept by triggers (migration 0003): a few rows, however long the queue.
    countPending: db.prepare(`SELECT coalesce(sum(n), 0) AS n FROM job_counts WHERE status = 'pending'`),
    countByKindAndStatus: db.prepare(`
      SELECT kind, status, n AS count FROM job_counts WHERE status IN ('pending', 'running') AND n > 0`),
    nextRunAt: db.prepare(`
      SELECT run_at FROM jobs INDEXED BY jobs_pending_due
      WHERE status = 'pending' AND kind IN (SELECT value FROM json_each(?))
      ORDER BY run_at LIMIT 1`),
    registerOwner: db.prepare(`
      INSERT INTO owners (id, hostname, pid, started_at, heartbeat_at)
      VALUES (@id, @hostname, @pid, @started_at, @heartbeat_at)`),
    listOwners: db.prepare(`SELECT * FROM owners`),
    removeOwner: db.prepare(`DELETE FROM owners WHERE id = ?`),
  };
}

