import type { Job, NewJob } from './job.js';
import type { Schedule } from './schedule.js';

/** One run a look at a schedule enqueues: the job, for its due time. */
export interface PlannedRun {
  dueAt: number;
  job: NewJob;
}

/** What a look at a due schedule writes: the schedule's next state and the runs to enqueue. */
export interface ScheduleFire {
  /** Written only if the row is still at the revision the caller read (compare-and-set). */
  schedule: Schedule;
  runs: PlannedRun[];
}

export interface ScheduleRun {
  dueAt: number;
  jobId: string;
  enqueuedAt: number;
}

/**
 * The schedules and schedule_runs tables, next to the jobs table of the same store (a run is inserted in the
 * transaction of its job). Every write of a schedule is a compare-and-set of its `revision`.
 */
export interface ScheduleStore {
  insert(schedule: Schedule): Promise<Schedule>;
  get(id: string): Promise<Schedule | undefined>;
  /** Oldest first by (createdAt, id), after the given one, at most `limit`. */
  list(limit: number, after?: { createdAt: number; id: string }): Promise<Schedule[]>;
  /** Writes `schedule` if the row is still at `expectedRevision`; undefined (nothing written) if not, or gone. */
  save(schedule: Schedule, expectedRevision: number): Promise<Schedule | undefined>;
  /** Deletes the schedule and its runs (the jobs stay); false if there was none. */
  delete(id: string): Promise<boolean>;
  /** Unpaused schedules of these job kinds due at `now`, and those with a queued run: at most `limit` of each. */
  due(now: number, limit: number, kinds: readonly string[]): Promise<Schedule[]>;
  /** The earliest next due time of an unpaused schedule. */
  earliestDue(): Promise<number | undefined>;
  /**
   * One look at `seen`, in one transaction: counts the pending and running jobs of `ref` and calls `decide` with
   * that count. `decide` answers null: nothing is written (null). Otherwise its schedule is saved by compare-and-set
   * against `seen.revision` — lost: nothing is written, undefined — then each run is inserted in schedule_runs, whose
   * key (schedule id, due time) lets a due time in only once, and the job of each run that got in is inserted. The
   * latest RUNS_KEPT runs of the schedule are kept.
   */
  fire(seen: Schedule, ref: string, decide: (active: number) => ScheduleFire | null): Promise<{ schedule: Schedule; jobs: Job[] } | null | undefined>;
  /** The latest runs, newest first. */
  recentRuns(id: string, limit: number): Promise<ScheduleRun[]>;
}
