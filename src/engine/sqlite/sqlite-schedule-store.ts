import type { Database, Statement } from 'better-sqlite3';
import type { Job, NewJob } from '../job.js';
import type { Schedule } from '../schedule.js';
import { scheduleParams, scheduleSql, toSchedule, type ScheduleRow } from '../schedule-row.js';
import type { ScheduleFire, ScheduleRun, ScheduleStore } from '../schedule-store.js';
import type { GroupCommit } from './group-commit.js';

/** What a look at a schedule needs of the jobs table, run inside the look's write (see SqliteJobStore). */
export interface JobsInTransaction {
  insert(jobs: readonly NewJob[]): Array<{ job: Job; created: boolean }>;
  countActive(ref: string): number;
}

type Statements = Record<keyof ReturnType<typeof scheduleSql>, Statement>;

/** A compare-and-set that found the row moved on: rolls back the look's savepoint (see GroupCommit). */
class LostRace extends Error {}

/** The schedules of a SQLite job store, on its connection and through its group commit. */
export class SqliteScheduleStore implements ScheduleStore {
  readonly #sql: Statements;
  readonly #commits: GroupCommit;
  readonly #jobs: JobsInTransaction;

  constructor(db: Database, commits: GroupCommit, jobs: JobsInTransaction) {
    this.#sql = Object.fromEntries(Object.entries(scheduleSql({ notPaused: 'paused = 0', kindIsOneOf: 'kind IN (SELECT value FROM json_each(@kinds))' })).map(([name, text]) => [name, db.prepare(text)])) as Statements;
    this.#commits = commits;
    this.#jobs = jobs;
  }

  async insert(schedule: Schedule) {
    return this.#commits.write(() => toSchedule(this.#sql.insert.get(scheduleParams(schedule, schedule.paused ? 1 : 0)) as ScheduleRow));
  }

  async get(id: string) {
    const row = this.#sql.get.get({ id }) as ScheduleRow | undefined;
    return row && toSchedule(row);
  }

  async list(limit: number, after?: { createdAt: number; id: string }) {
    const rows = this.#sql.list.all({ limit, after_created: after?.createdAt ?? -1, after_id: after?.id ?? '' }) as ScheduleRow[];
    return rows.map(toSchedule);
  }

  async save(schedule: Schedule, expectedRevision: number) {
    return this.#commits.write(() => this.#save(schedule, expectedRevision));
  }

  #save(schedule: Schedule, expectedRevision: number): Schedule | undefined {
    const row = this.#sql.save.get({ ...scheduleParams(schedule, schedule.paused ? 1 : 0), expected_revision: expectedRevision }) as ScheduleRow | undefined;
    return row && toSchedule(row);
  }

  async delete(id: string) {
    return this.#commits.write(() => {
      this.#sql.deleteRuns.run({ id });
      return this.#sql.delete.run({ id }).changes > 0;
    });
  }

  async due(now: number, limit: number, kinds: readonly string[]) {
    const params = { limit, kinds: JSON.stringify(kinds) };
    const rows = [...(this.#sql.dueAt.all({ ...params, now }) as ScheduleRow[]), ...(this.#sql.queued.all(params) as ScheduleRow[])];
    return [...new Map(rows.map((row) => [row.id, toSchedule(row)])).values()];
  }

  async earliestDue() {
    return (this.#sql.earliestDue.get() as { at: number | null }).at ?? undefined;
  }

  async fire(seen: Schedule, ref: string, decide: (active: number) => ScheduleFire | null) {
    try {
      return await this.#commits.write(() => {
        const fire = decide(this.#jobs.countActive(ref));
        if (!fire) return null;
        const schedule = this.#save(fire.schedule, seen.revision);
        if (!schedule) throw new LostRace();
        const jobs = fire.runs
          .filter((run) => this.#sql.insertRun.get({ schedule_id: seen.id, due_at: run.dueAt, job_id: run.job.id, now: run.job.createdAt }))
          .map((run) => run.job);
        if (jobs.length > 0) this.#sql.pruneRuns.run({ schedule_id: seen.id });
        return { schedule, jobs: this.#jobs.insert(jobs).map((inserted) => inserted.job) };
      });
    } catch (err) {
      if (err instanceof LostRace) return undefined;
      throw err;
    }
  }

  async recentRuns(id: string, limit: number): Promise<ScheduleRun[]> {
    const rows = this.#sql.recentRuns.all({ schedule_id: id, limit }) as Array<{ due_at: number; job_id: string; enqueued_at: number }>;
    return rows.map((row) => ({ dueAt: row.due_at, jobId: row.job_id, enqueuedAt: row.enqueued_at }));
  }
}
