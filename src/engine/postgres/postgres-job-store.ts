import { openMigratedPostgres } from '../../db/postgres-migrate.js';
import { runSql, runSqlCount, type PreparedSql, type Sql } from '../../db/postgres-connection.js';
import type { Durability } from '../../db/open-database.js';
import { migrationsDirectory } from '../../runtime/single-executable.js';
import type { Fence, Job, JobError, JobStatus, NewJob } from '../job.js';
import { cancelledInstead, inClaimOrder, insertJobParams, takenIdError, toJob, type JobRow } from '../job-row.js';
import { endDeliveryParams, toDelivery, type DeliveryRow } from '../delivery-row.js';
import { DELIVERY_SQL } from './delivery-sql.js';
import type {
  AttemptEnd, AttemptRecord, ChangePoint, ClaimRequest, DeliveryAttempt, DeliveryEnd, FinishedInMinute, InsertResult, JobStore,
  ListJobsFilter, OwnerRecord,
} from '../job-store.js';
import { CONSOLE_SQL, listJobsStatement } from './console-sql.js';
import { PostgresCommits, type PostgresWrite } from './group-commit.js';
import { JOB_SQL } from './job-sql.js';
import { PostgresScheduleStore } from './postgres-schedule-store.js';
import { FLOW_SQL, logFlowStarts, readFlow } from './flow-sql.js';
import { needsFlowClaim, planFlowClaim, runPlan, type KindState } from '../flow-claim.js';

/** How long after keyed jobs were last seen claims keep going through the round-robin claim, ms. */
const GROUPED_RECENTLY_MS = 5_000;

/** The engine's tables in PostgreSQL and their migrations, a set of their own. */
export const POSTGRES_JOBS_MIGRATIONS = {
  component: 'jobs',
  // A getter: in the single executable the files exist only once extracted, after this module loaded.
  get dir() {
    return migrationsDirectory('pg-jobs', new URL('./migrations/', import.meta.url));
  },
};

/**
 * One job of an insert. Each statement sees what committed before it ran (READ COMMITTED), so a key holder found
 * by the failed insert may be gone by the next statement (it started meanwhile): the insert is tried again.
 */
async function insertOne(sql: Sql, job: NewJob): Promise<InsertResult> {
  const params = insertJobParams(job, job.pinned ?? false);
  for (let tries = 0; ; tries++) {
    const [inserted] = await runSql<JobRow>(sql, JOB_SQL.insert, params);
    if (inserted) return { job: toJob(inserted), created: true };
    if (job.idempotencyKey) {
      // Taken: by a committed row, or by one this very transaction inserted (a key repeated in the batch).
      const [existing] = await runSql<JobRow>(sql, JOB_SQL.getByIdempotencyKey, { key: job.idempotencyKey });
      if (existing) return { job: toJob(existing), created: false };
    }
    if (params.dedupe_key === null || tries === 10) throw takenIdError(job);
    const key = { kind: job.kind, key: params.dedupe_key };
    if (params.dedupe_policy === 'latest') {
      const [replaced] = await runSql<JobRow>(sql, JOB_SQL.replaceDedupedPayload, { ...key, payload: params.payload, now: job.createdAt });
      if (replaced) return { job: toJob(replaced), created: false, deduplicated: true, replaced: true };
    }
    const [holder] = await runSql<JobRow>(sql, JOB_SQL.getByDedupeSlot, key);
    if (holder) return { job: toJob(holder), created: false, deduplicated: true, replaced: false };
  }
}

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
  /** Per kind, the group key served last (see planFlowClaim): each node rotates on its own. */
  readonly #groupCursors = new Map<string, string | null>();
  #groupedSeenAt = -Infinity;

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

  async insert(jobs: readonly NewJob[]): Promise<InsertResult[]> {
    return this.#write((sql) => this.#insertEach(sql, jobs), { atomic: jobs.length > 1 });
  }

  async #insertEach(sql: Sql, jobs: readonly NewJob[]): Promise<InsertResult[]> {
    const results: InsertResult[] = [];
    for (const job of jobs) results.push(await insertOne(sql, job));
    return results;
  }

  /**
   * One statement (the plain claim) unless flow control applies: limits configured for these kinds or keys, or
   * keyed jobs seen lately. The plain claim leaves out, and names, the kinds with keyed jobs; the round-robin claim
   * then serves them with what is left of the batch.
   */
  async claim(request: ClaimRequest): Promise<Job[]> {
    if (request.limit <= 0 || request.kinds.length === 0) return [];
    const recently = request.now - this.#groupedSeenAt < GROUPED_RECENTLY_MS;
    if (needsFlowClaim(request, () => recently)) return this.#claimWithFlow(request);
    const answer = await this.#write((sql) => runSql<JobRow & { grouped_kind: string | null }>(sql, JOB_SQL.claim, {
      kinds: [...new Set(request.kinds)], exclude: [...(request.exclude ?? [])], limit: request.limit, now: request.now,
      owner: request.owner, lease: request.now + request.leaseMs,
    }));
    const grouped = answer.flatMap((row) => (row.grouped_kind === null ? [] : [row.grouped_kind]));
    const rows = answer.filter((row) => row.grouped_kind === null).sort(inClaimOrder).map(toJob);
    if (grouped.length === 0) return rows;
    this.#groupedSeenAt = request.now;
    if (rows.length === request.limit) return rows;
    const exclude = [...(request.exclude ?? []), ...rows.map((job) => job.id)];
    return [...rows, ...(await this.#claimWithFlow({ ...request, kinds: grouped, limit: request.limit - rows.length, exclude }))];
  }

  async #claimWithFlow(request: ClaimRequest): Promise<Job[]> {
    const flow = request.flow ?? { limits: {} };
    const held = flow.held;
    // A plan run again (the grouped commit retried alone) must not report its holds twice: they are kept until it commits.
    let holds: Array<Parameters<NonNullable<typeof held>>> = [];
    const rows = await this.#write(async (sql) => {
      holds = [];
      const plan = await runPlan(
        planFlowClaim({ ...request, flow: { limits: flow.limits, held: (...hold) => void holds.push(hold) } }, this.#groupCursors),
        async (read) => {
          const answer = await readFlow(sql, read);
          if (read.op === 'kindStates' && (answer as KindState[]).some((state) => state.grouped)) this.#groupedSeenAt = request.now;
          return answer;
        },
      );
      if (plan.ids.length === 0) return [];
      const claimed = await runSql<JobRow>(sql, JOB_SQL.claimIds, { ids: plan.ids, owner: request.owner, lease: request.now + request.leaseMs, now: request.now });
      await logFlowStarts(sql, plan.starts, request.now);
      const order = new Map(plan.ids.map((id, i) => [id, i]));
      return claimed.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
    }, { atomic: true });
    for (const hold of holds) held?.(...hold);
    return rows.map(toJob);
  }

  async countRunningByGroup(limit: number) {
    return this.#rows<{ groupKey: string; count: number }>(FLOW_SQL.runningByGroup, { limit });
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

  async markStarted(fence: Fence, now: number) {
    return this.#one(JOB_SQL.markStarted, { ...fence, now });
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
  async claimDeliveries(now: number, limit: number, leaseMs: number) {
    if (limit <= 0) return [];
    const rows = await this.#write((sql) => runSql<DeliveryRow>(sql, DELIVERY_SQL.claim, { now, limit, until: now + leaseMs }));
    return rows.map(toDelivery);
  }

  async endDeliveryAttempt(id: string, attempt: DeliveryAttempt, end: DeliveryEnd, now: number) {
    const [row] = await this.#write((sql) => runSql<DeliveryRow>(sql, DELIVERY_SQL.end, endDeliveryParams(id, attempt, end, now)));
    return row && toDelivery(row);
  }

  async deliveries(jobId: string) {
    return (await this.#rows<DeliveryRow>(DELIVERY_SQL.ofJob, { job_id: jobId })).map(toDelivery);
  }

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
