import type { Database, Statement } from 'better-sqlite3';
import { jobsDatabasePath } from '../../contracts/data-layout.js';
import { openMigratedDatabase } from '../../db/migrate.js';
import type { Durability } from '../../db/open-database.js';
import { migrationsDirectory } from '../../runtime/single-executable.js';
import type { Fence, Job, JobError, JobStatus, NewJob } from '../job.js';
import type {
  AttemptEnd, AttemptRecord, ChangePoint, ClaimRequest, FinishedInMinute, JobStore, ListJobsFilter, OwnerRecord,
} from '../job-store.js';
import { CONSOLE_SQL, listJobsSql } from './console-queries.js';
import { GroupCommit, STORE_BUSY_TIMEOUT_MS } from './group-commit.js';
import { cancelledInstead, inClaimOrder, toJob, type JobRow } from '../job-row.js';
import { prepareJobStatements } from './job-rows.js';
import { SqliteScheduleStore } from './sqlite-schedule-store.js';

/** The engine's tables (jobs, owners, job_counts) and their migrations, as a set of its own. */
export const JOBS_MIGRATIONS = {
  component: 'jobs',
  // A getter: in the single executable the files exist only once extracted, after this module loaded.
  get dir() {
    return migrationsDirectory('jobs', new URL('./migrations/', import.meta.url));
  },
  adoptsUserVersion: true,
};

/** Opens `<dataDir>/jobs.db`, brings the engine's tables up to date, and returns the store on it. */
export function openSqliteJobStore(dataDir: string, { durability = 'normal' }: { durability?: Durability } = {}): SqliteJobStore {
  return new SqliteJobStore(openMigratedDatabase(jobsDatabasePath(dataDir), JOBS_MIGRATIONS, { durability, busyTimeoutMs: STORE_BUSY_TIMEOUT_MS }));
}

/**
 * The jobs table in SQLite, on the calling (main) thread. Every write goes through the group commit (see
 * group-commit.ts); reads are not queued: callers await their write before reading what it wrote.
 */
export class SqliteJobStore implements JobStore {
  readonly #db: Database;
  readonly #sql: ReturnType<typeof prepareJobStatements>;
  readonly #commits: GroupCommit;
  readonly #console: Record<keyof typeof CONSOLE_SQL, Statement>;
  /** One prepared statement per combination of list filters (at most 2^7), made on first use. */
  readonly #listStatements = new Map<string, Statement>();
  readonly schedules: SqliteScheduleStore;

  constructor(db: Database) {
    this.#db = db;
    this.#sql = prepareJobStatements(db);
    this.#console = Object.fromEntries(Object.entries(CONSOLE_SQL).map(([name, sql]) => [name, db.prepare(sql)])) as Record<keyof typeof CONSOLE_SQL, Statement>;
    this.#commits = new GroupCommit(db);
    this.schedules = new SqliteScheduleStore(db, this.#commits, {
      insert: (jobs) => this.#insertMany(jobs),
      countActive: (ref) => (this.#sql.countActiveByRef.get(ref) as { n: number }).n,
    });
  }

  #write<T>(run: () => T): Promise<T> {
    return this.#commits.write(run);
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
          ref: job.ref ?? null,
          pinned: job.pinned ? 1 : 0,
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
   * processes can never claim the same row. (One `UPDATE … WHERE id IN (SELECT …)` measured 5× slower.) Each kind
   * is read from its own range of jobs_claim_by_kind and the heads merged here: however long another kind's
   * backlog, a claim reads at most `limit` rows per kind asked for (plus, within a kind, not-yet-due rows of a
   * higher priority than its due ones).
   */
  async claim(request: ClaimRequest): Promise<Job[]> {
    if (request.limit <= 0 || request.kinds.length === 0) return [];
    return this.#write(() => {
      const exclude = new Set(request.exclude ?? []);
      const limit = request.limit + exclude.size;
      const candidates = [...new Set(request.kinds)].flatMap((kind) => {
        // Nothing of this kind due yet (say, retries backing off): skip the range, whose rows it would walk one by one.
        const firstDue = this.#sql.nextRunAtOfKind.get(kind) as number | undefined;
        if (firstDue === undefined || firstDue > request.now) return [];
        return this.#sql.claimableOfKind.all({ kind, limit, now: request.now }) as Array<Pick<JobRow, 'id' | 'priority' | 'run_at' | 'seq'>>;
      });
      const ids = candidates
        .filter((row) => !exclude.has(row.id))
        .sort(inClaimOrder)
        .slice(0, request.limit)
        .map((row) => row.id);
      const lease = request.now + request.leaseMs;
      return ids.map((id) => toJob(this.#sql.claim.get({ id, owner: request.owner, lease, now: request.now }) as JobRow));
    });
  }

  async renewLeases(owner: string, fences: readonly Omit<Fence, 'owner'>[], leaseExpiresAt: number, now: number) {
    const pairs = JSON.stringify(fences.map((fence) => [fence.id, fence.attempt]));
    return this.#write(() => {
      const rows = (fences.length === 0 ? [] : this.#sql.renew.all({ owner, fences: pairs, lease: leaseExpiresAt, now })) as Array<{
        id: string;
        attempts: number;
        cancel_requested: number;
      }>;
      this.#sql.ownerHeartbeat.run({ owner, now });
      return rows.map((row) => ({ id: row.id, attempt: row.attempts, cancelRequested: row.cancel_requested === 1 }));
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
    if (end.status === 'pending') {
      return this.#one(this.#sql.retry, { ...fence, error, run_at: end.runAt, now, cancelled_error: cancelledInstead(end.error) });
    }
    return this.#one(this.#sql.finishUnsuccessful, { ...fence, status: end.status, error, now });
  }

  async endOrphan(fence: Fence, end: AttemptEnd, now: number, ownerGone: boolean, leaseSeen?: number) {
    const run_at = end.status === 'pending' ? end.runAt : null;
    return this.#one(this.#sql.endOrphan, {
      ...fence, status: end.status, error: JSON.stringify(end.error), run_at, now, owner_gone: ownerGone ? 1 : 0,
      lease_seen: leaseSeen ?? null, cancelled_error: cancelledInstead(end.error),
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

  async attempts(id: string) {
    const rows = this.#sql.attemptsOf.all(id) as Array<Omit<AttemptRecord, 'error'> & { error: string | null }>;
    return rows.map((row) => ({ ...row, error: row.error === null ? null : (JSON.parse(row.error) as JobError) }));
  }

  async list(filter: ListJobsFilter) {
    const { limit, beforeSeq, ...filters } = filter;
    const statementSql = listJobsSql(filters);
    let statement = this.#listStatements.get(statementSql);
    if (!statement) this.#listStatements.set(statementSql, (statement = this.#db.prepare(statementSql)));
    const params = {
      limit, before: beforeSeq ?? Number.MAX_SAFE_INTEGER, kind: filters.kind, status: filters.status, ref: filters.ref,
      waiting_now: filters.waiting?.now, from_seq: filters.fromSeq, created_after: filters.createdAfter, created_before: filters.createdBefore, text: filters.text,
    };
    // better-sqlite3 refuses named parameters the statement does not have.
    const bound = Object.fromEntries(Object.entries(params).filter(([, value]) => value !== undefined));
    return (statement.all(bound) as JobRow[]).map(toJob);
  }

  async listUpdatedAfter(after: ChangePoint, limit: number) {
    return (this.#console.updatedAfter.all({ updated_at: after.updatedAt, seq: after.seq, limit }) as JobRow[]).map(toJob);
  }

  async countAllByKindAndStatus() {
    return this.#console.countAll.all() as Array<{ kind: string; status: JobStatus; count: number }>;
  }

  async countFinishedPerMinute(since: number, until: number) {
    return this.#console.finishedPerMinute.all({ since, until }) as FinishedInMinute[];
  }

  async retry(id: string, now: number) {
    return this.#one(this.#console.retry, { id, now });
  }

  async countPending() {
    return (this.#sql.countPending.get() as { n: number }).n;
  }

  async countByKindAndStatus() {
    return this.#sql.countByKindAndStatus.all() as Array<{ kind: string; status: 'pending' | 'running'; count: number }>;
  }

  async countActive({ ref }: { ref: string }) {
    return (this.#sql.countActiveByRef.get(ref) as { n: number }).n;
  }

  async expireIdempotencyKeys(finishedBefore: number) {
    return this.#write(() => this.#sql.expireIdempotencyKeys.run(finishedBefore).changes);
  }

  async deleteFinished(finishedBefore: number, limit: number) {
    return this.#write(() => this.#sql.deleteFinished.run({ before: finishedBefore, limit }).changes);
  }

  /** The least of each kind's first due time: one index lookup per kind, whatever the other kinds hold. */
  async nextRunAt(kinds: readonly string[]) {
    let next: number | undefined;
    for (const kind of new Set(kinds)) {
      const runAt = this.#sql.nextRunAtOfKind.get(kind) as number | undefined;
      if (runAt !== undefined && (next === undefined || runAt < next)) next = runAt;
    }
    return next;
  }

  async registerOwner(owner: OwnerRecord) {
    await this.#write(() =>
      this.#sql.registerOwner.run({
        id: owner.id,
        hostname: owner.hostname,
        pid: owner.pid,
        started_at: owner.startedAt,
        heartbeat_at: owner.heartbeatAt,
      }),
    );
  }

  async listOwners() {
    return (this.#sql.listOwners.all() as Array<{ id: string; hostname: string; pid: number; started_at: number; heartbeat_at: number }>).map(
      (row) => ({ id: row.id, hostname: row.hostname, pid: row.pid, startedAt: row.started_at, heartbeatAt: row.heartbeat_at }),
    );
  }

  async unpin(id: string) {
    await this.#write(() => this.#sql.unpin.run(id));
  }

  async removeOwner(id: string) {
    await this.#write(() => this.#sql.removeOwner.run(id));
  }

  async touchOwner(id: string, now: number) {
    return this.#write(() => this.#sql.ownerHeartbeat.run({ owner: id, now }).changes > 0);
  }

  async ping() {
    this.#db.exec('BEGIN IMMEDIATE; ROLLBACK');
  }

  async close() {
    await this.#commits.settled();
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
