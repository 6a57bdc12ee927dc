import { prepareNamedSql, runSql, runSqlCount, type Sql } from '../../db/postgres-connection.js';
import type { Job, NewJob } from '../job.js';
import type { Schedule } from '../schedule.js';
import { scheduleParams, scheduleSql, toSchedule, type ScheduleRow } from '../schedule-row.js';
import type { ScheduleFire, ScheduleRun, ScheduleStore } from '../schedule-store.js';
import type { PostgresCommits } from './group-commit.js';

const SQL = prepareNamedSql(scheduleSql({ notPaused: 'NOT paused', kindIsOneOf: 'kind = ANY(@kinds::text[])' }));

/** What a look at a schedule needs of the jobs table, on the look's transaction (see PostgresJobStore). */
export interface PostgresJobsInTransaction {
  insert(sql: Sql, jobs: readonly NewJob[]): Promise<Array<{ job: Job; created: boolean }>>;
  countActive(sql: Sql, ref: string): Promise<number>;
}

/** A compare-and-set that found the row moved on: rolls the look's transaction back. */
class LostRace extends Error {}

/**
 * The schedules of a PostgreSQL job store. Two nodes looking at one schedule at once: the second one's
 * compare-and-set waits for the first one's row lock, then finds the revision moved on and changes nothing.
 */
export class PostgresScheduleStore implements ScheduleStore {
  readonly #sql: Sql;
  readonly #commits: PostgresCommits;
  readonly #jobs: PostgresJobsInTransaction;

  constructor(sql: Sql, commits: PostgresCommits, jobs: PostgresJobsInTransaction) {
    this.#sql = sql;
    this.#commits = commits;
    this.#jobs = jobs;
  }

  async insert(schedule: Schedule) {
    const [row] = await this.#commits.write((sql) => runSql<ScheduleRow>(sql, SQL.insert, scheduleParams(schedule, schedule.paused)));
    return toSchedule(row!);
  }

  async get(id: string) {
    const [row] = await runSql<ScheduleRow>(this.#sql, SQL.get, { id });
    return row && toSchedule(row);
  }

  async list(limit: number, after?: { createdAt: number; id: string }) {
    const rows = await runSql<ScheduleRow>(this.#sql, SQL.list, { limit, after_created: after?.createdAt ?? -1, after_id: after?.id ?? '' });
    return rows.map(toSchedule);
  }

  async save(schedule: Schedule, expectedRevision: number) {
    const [row] = await this.#commits.write((sql) => this.#save(sql, schedule, expectedRevision));
    return row && toSchedule(row);
  }

  #save(sql: Sql, schedule: Schedule, expectedRevision: number): Promise<ScheduleRow[]> {
    return runSql<ScheduleRow>(sql, SQL.save, { ...scheduleParams(schedule, schedule.paused), expected_revision: expectedRevision });
  }

  async delete(id: string) {
    const deleted = await this.#commits.write(async (sql) => {
      await runSql(sql, SQL.deleteRuns, { id });
      return runSqlCount(sql, SQL.delete, { id });
    }, { atomic: true });
    return deleted > 0;
  }

  async due(now: number, limit: number, kinds: readonly string[]) {
    const params = { limit, kinds: [...kinds] };
    const [dueRows, queuedRows] = await Promise.all([runSql<ScheduleRow>(this.#sql, SQL.dueAt, { ...params, now }), runSql<ScheduleRow>(this.#sql, SQL.queued, params)]);
    return [...new Map([...dueRows, ...queuedRows].map((row) => [row.id, toSchedule(row)])).values()];
  }

  async earliestDue() {
    const [row] = await runSql<{ at: number | null }>(this.#sql, SQL.earliestDue);
    return row?.at ?? undefined;
  }

  async fire(seen: Schedule, ref: string, decide: (active: number) => ScheduleFire | null) {
    try {
      return await this.#commits.write(async (sql) => {
        const fire = decide(await this.#jobs.countActive(sql, ref));
        if (!fire) return null;
        const [row] = await this.#save(sql, fire.schedule, seen.revision);
        if (!row) throw new LostRace();
        const jobs: NewJob[] = [];
        for (const run of fire.runs) {
          const [taken] = await runSql(sql, SQL.insertRun, { schedule_id: seen.id, due_at: run.dueAt, job_id: run.job.id, now: run.job.createdAt });
          if (taken) jobs.push(run.job);
        }
        if (jobs.length > 0) await runSql(sql, SQL.pruneRuns, { schedule_id: seen.id });
        return { schedule: toSchedule(row), jobs: (await this.#jobs.insert(sql, jobs)).map((inserted) => inserted.job) };
      }, { atomic: true });
    } catch (err) {
      if (err instanceof LostRace) return undefined;
      throw err;
    }
  }

  async recentRuns(id: string, limit: number): Promise<ScheduleRun[]> {
    const rows = await runSql<{ due_at: number; job_id: string; enqueued_at: number }>(this.#sql, SQL.recentRuns, { schedule_id: id, limit });
    return rows.map((row) => ({ dueAt: row.due_at, jobId: row.job_id, enqueuedAt: row.enqueued_at }));
  }
}
