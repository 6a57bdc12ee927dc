import { openMigratedPostgres } from '../../db/postgres-migrate.js';
import { runSql, runSqlCount, type PreparedSql, type Sql } from '../../db/postgres-connection.js';
import type { Durability } from '../../db/open-database.js';
import { migrationsDirectory } from '../../runtime/single-executable.js';
import type { Fence, Job, JobError, JobStatus, NewJob } from '../job.js';
import { cancelledInstead, inClaimOrder, toJob, type JobRow } from '../job-row.js';
import type { AttemptEnd, AttemptRecord, ChangePoint, ClaimRequest, FinishedInMinute, JobStore, ListJobsFilter, OwnerRecord } from '../job-store.js';
import { CONSOLE_SQL, listJobsStatement } from './console-sql.js';
import { PostgresCommits, type PostgresWrite } from './group-commit.js';
import { JOB_SQL } from './job-sql.js';
import { PostgresScheduleStore } from './postgres-schedule-store.js';

/** The engine's tables in PostgreSQL and their migrations, a set of their own. */
export const POSTGRES_JOBS_MIGRATIONS = {
  component: 'jobs',
  // A getter: in the single executable the files exist only once extracted, after this module loaded.
  get dir() {
    return migrationsDirectory('pg-jobs', new URL('./migrations/', import.meta.url));
  },
};

/** The channel of migration 0004's NOTIFY: a job became claimable. */
export const JOBS_AVAILABLE_CHANNEL = 'offload_jobs';

/** Connects to `url`, brings the engine's tables up to date (once, whatever the number of nodes starting) and returns the store. */
export async function openPostgresJobStore(
  url: string,
  { poolSize = 10, durability = 'normal' }: { poolSize?: number; durability?: Durability } = {},
): Promise<PostgresJobStore> {
  // Counters of connections that are gone are folded at each start (and at each retention run).
  const sql = await openMigratedPostgres(url, POSTGRES_JOBS_MIGRATIONS, { max: poolSize, durability, prepare: (sql) => runSql(sql, JOB_SQL.foldJobCounts) });
  return new PostgresJobStore(sql, { durability });
}

/**
 * The jobs table in PostgreSQL, shared by every node, on a pool of connections. Every write goes through
 * PostgresCommits (group-commit.ts) and resolves after its COMMIT: grouped with `--durability full`, one
 * transaction each with `normal`. Reads are not queued: callers await their write before reading what it wrote.
 */
export class PostgresJobStore implements JobStore {
  readonly #sql: Sql;
  readonly #commits: PostgresCommits;
  readonly #listeners = new Set<() => void>();
  #listening: Promise<{ unlisten(): Promise<void> }> | undefined;
  readonly schedules: PostgresScheduleStore;

  constructor(sql: Sql, { durability = 'normal' }: { durability?: Durability } = {}) {
    this.#sql = sql;
    this.#commits = new PostgresCommits(sql, { grouped: durability === 'full' });
    this.schedules = new PostgresScheduleStore(sql, this.#commits, {
      insert: (tx, jobs) => this.#insertEach(tx, jobs),
      countActive: async (tx, ref) => (await runSql<{ n: number }>(tx, JOB_SQL.countActiveByRef, { ref }))[0]!.n,
    });
  }

  async #rows<Row = JobRow>(statement: PreparedSql, params: Record<string, unknown> = {}): Promise<Row[]> {
    return runSql<Row>(this.#sql, statement, params);
  }

  #write<T>(run: PostgresWrite<T>, options?: { atomic?: boolean }): Promise<T> {
    return this.#commits.write(run, options);
  }

  /** A write (fenced, mostly) returning the row it changed, if any. */
  #one(statement: PreparedSql, params: Record<string, unknown>): Promise<Job | undefined> {
    return this.#write(async (sql) => {
      const [row] = await runSql<JobRow>(sql, statement, params);
      return row && toJob(row);
    });
  }

  async insert(jobs: readonly NewJob[]): Promise<Array<{ job: Job; created: boolean }>> {
    return this.#write((sql) => this.#insertEach(sql, jobs), { atomic: jobs.length > 1 });
  }

  async #insertEach(sql: Sql, jobs: readonly NewJob[]): Promise<Array<{ job: Job; created: boolean }>> {
    const results: Array<{ job: Job; created: boolean }> = [];
    for (const job of jobs) {
      const [inserted] = await runSql<JobRow>(sql, JOB_SQL.insert, {
        id: job.id, kind: job.kind, payload: JSON.stringify(job.payload), priority: job.priority, run_at: job.runAt,
        max_attempts: job.maxAttempts, timeout_ms: job.timeoutMs, now: job.createdAt, idempotency_key: job.idempotencyKey,
        request_hash: job.requestHash, ref: job.ref, pinned: job.pinned ?? false,
      });
      if (inserted) results.push({ job: toJob(inserted), created: true });
      else {
        // Taken: by a committed row, or by one this very transaction inserted (a key repeated in the batch).
        const [existing] = await runSql<JobRow>(sql, JOB_SQL.getByIdempotencyKey, { key: job.idempotencyKey });
        results.push({ job: toJob(existing!), created: false });
      }
    }
    return results;
  }

  async claim(request: ClaimRequest): Promise<Job[]> {
    if (request.limit <= 0 || request.kinds.length === 0) return [];
    const rows = await this.#write((sql) => runSql<JobRow>(sql, JOB_SQL.claim, {
      kinds: [...new Set(request.kinds)], exclude: [...(request.exclude ?? [])], limit: request.limit, now: request.now,
      owner: request.owner, lease: request.now + request.leaseMs,
    }));
    return rows.sort(inClaimOrder).map(toJob);
  }

  async renewLeases(owner: string, fences: readonly Omit<Fence, 'owner'>[], leaseExpiresAt: number, now: number) {
    const rows = await this.#write(async (sql) => {
      const renewed = fences.length === 0 ? [] : await runSql<{ id: string; attempts: number; cancel_requested: number }>(sql, JOB_SQL.renew, {
        owner, ids: fences.map((fence) => fence.id), attempts: fences.map((fence) => fence.attempt), lease: leaseExpiresAt, now,
      });
      await runSql(sql, JOB_SQL.ownerHeartbeat, { owner, now });
      return renewed;
    }, { atomic: true });
    return rows.map((row) => ({ id: row.id, attempt: row.attempts, cancelRequested: row.cancel_requested === 1 }));
  }

  async saveProgress(fence: Fence, done: number, total: number | null, now: number) {
    return this.#one(JOB_SQL.progress, { ...fence, done, total, now });
  }

  async complete(fence: Fence, result: unknown, now: number, progress?: { done: number; total: number | null } | null) {
    return this.#one(JOB_SQL.complete, { ...fence, result: JSON.stringify(result ?? null), now, done: progress?.done, total: progress?.total });
  }

  async endAttempt(fence: Fence, end: AttemptEnd, now: number) {
    const error = JSON.stringify(end.error);
    if (end.status === 'pending') {
      return this.#one(JOB_SQL.retry, { ...fence, error, run_at: end.runAt, now, cancelled_error: cancelledInstead(end.error) });
    }
    return this.#one(JOB_SQL.finishUnsuccessful, { ...fence, status: end.status, error, now });
  }

  async endOrphan(fence: Fence, end: AttemptEnd, now: number, ownerGone: boolean, leaseSeen?: number) {
    return this.#one(JOB_SQL.endOrphan, {
      ...fence, status: end.status, error: JSON.stringify(end.error), run_at: end.status === 'pending' ? end.runAt : null, now,
      owner_gone: ownerGone, lease_seen: leaseSeen, cancelled_error: cancelledInstead(end.error),
    });
  }

  async release(fence: Fence, now: number) {
    return this.#one(JOB_SQL.release, { ...fence, now });
  }

  async findOrphans(now: number, owners: readonly string[] = []) {
    return (await this.#rows(JOB_SQL.orphans, { now, owners: [...owners] })).map(toJob);
  }

  async cancelPending(id: string, error: JobError, now: number) {
    return this.#one(JOB_SQL.cancelPending, { id, error: JSON.stringify(error), now });
  }

  async requestCancel(id: string, now: number) {
    return this.#one(JOB_SQL.requestCancel, { id, now });
  }

  async get(id: string) {
    const [row] = await this.#rows(JOB_SQL.get, { id });
    return row && toJob(row);
  }

  async attempts(id: string): Promise<AttemptRecord[]> {
    const rows = await this.#rows<Omit<AttemptRecord, 'error'> & { error: string | null }>(JOB_SQL.attemptsOf, { id });
    return rows.map((row) => ({ ...row, error: row.error === null ? null : (JSON.parse(row.error) as JobError) }));
  }

  async list(filter: ListJobsFilter) {
    const params = {
      kind: filter.kind, status: filter.status, ref: filter.ref, before: filter.beforeSeq ?? Number.MAX_SAFE_INTEGER, limit: filter.limit,
      waiting_now: filter.waiting?.now, from_seq: filter.fromSeq, created_after: filter.createdAfter, created_before: filter.createdBefore, text: filter.text,
    };
    return (await this.#rows(listJobsStatement(filter), params)).map(toJob);
  }

  async listUpdatedAfter(after: ChangePoint, limit: number) {
    return (await this.#rows(CONSOLE_SQL.updatedAfter, { updated_at: after.updatedAt, seq: after.seq, limit })).map(toJob);
  }

  async countAllByKindAndStatus() {
    return this.#rows<{ kind: string; status: JobStatus; count: number }>(CONSOLE_SQL.countAll);
  }

  async countFinishedPerMinute(since: number, until: number) {
    return this.#rows<FinishedInMinute>(CONSOLE_SQL.finishedPerMinute, { since, until });
  }

  async retry(id: string, now: number) {
    return this.#one(CONSOLE_SQL.retry, { id, now });
  }

  async countPending() {
    return (await this.#rows<{ n: number }>(JOB_SQL.countPending))[0]!.n;
  }

  async countByKindAndStatus() {
    return this.#rows<{ kind: string; status: 'pending' | 'running'; count: number }>(JOB_SQL.countByKindAndStatus);
  }

  async countActive({ ref }: { ref: string }) {
    return (await this.#rows<{ n: number }>(JOB_SQL.countActiveByRef, { ref }))[0]!.n;
  }

  async expireIdempotencyKeys(finishedBefore: number) {
    return this.#write((sql) => runSqlCount(sql, JOB_SQL.expireIdempotencyKeys, { before: finishedBefore }));
  }

  /** Also folds the counters of gone connections (migration 0002): retention calls it about hourly, on every node. */
  async deleteFinished(finishedBefore: number, limit: number) {
    const deleted = await this.#write((sql) => runSqlCount(sql, JOB_SQL.deleteFinished, { before: finishedBefore, limit }));
    await this.#write((sql) => runSql(sql, JOB_SQL.foldJobCounts));
    return deleted;
  }

  async nextRunAt(kinds: readonly string[]) {
    if (kinds.length === 0) return undefined;
    const [row] = await this.#rows<{ run_at: number | null }>(JOB_SQL.nextRunAt, { kinds: [...new Set(kinds)] });
    return row?.run_at ?? undefined;
  }

  async registerOwner(owner: OwnerRecord) {
    await this.#write((sql) => runSql(sql, JOB_SQL.registerOwner, {
      id: owner.id, hostname: owner.hostname, pid: owner.pid, started_at: owner.startedAt, heartbeat_at: owner.heartbeatAt,
    }));
  }

  async listOwners() {
    return this.#rows<OwnerRecord>(JOB_SQL.listOwners);
  }

  async unpin(id: string) {
    await this.#write((sql) => runSql(sql, JOB_SQL.unpin, { id }));
  }

  async removeOwner(id: string) {
    await this.#write((sql) => runSql(sql, JOB_SQL.removeOwner, { id }));
  }

  async touchOwner(id: string, now: number) {
    return (await this.#write((sql) => runSqlCount(sql, JOB_SQL.ownerHeartbeat, { owner: id, now }))) > 0;
  }

  /** A standby, or a database set read-only, answers but refuses writes: that is not ready. */
  async ping() {
    const [row] = await this.#sql.unsafe(`SELECT current_setting('transaction_read_only') AS read_only`);
    if (row?.read_only !== 'off') throw new Error('The PostgreSQL database accepts no writes (transaction_read_only is on: a standby?).');
  }

  /**
   * LISTEN on the channel of migration 0004, on a connection of its own (postgres.js reconnects it and listens
   * again after a failure). A notification lost meanwhile is caught by the engine's poll.
   */
  onJobsAvailable(listener: () => void): () => void {
    this.#listeners.add(listener);
    this.#listening ??= this.#sql.listen(JOBS_AVAILABLE_CHANNEL, () => {
      for (const notify of this.#listeners) notify();
    });
    this.#listening.catch(() => {});
    return () => this.#listeners.delete(listener);
  }

  async close() {
    this.#listeners.clear();
    const listening = this.#listening;
    this.#listening = undefined;
    await listening?.then((subscription) => subscription.unlisten(), () => {});
    await this.#commits.settled();
    await this.#sql.end({ timeout: 5 });
  }
}
