// Schedules: jobs enqueued by the engine itself, on a cron expression or an interval. The policies are frozen
// objects whose values are the CHECK constraints of the schedules table (SQLite migration 0009, PostgreSQL 0006).

/** What to do with the due times that passed while no process could run them (downtime, a locked database). */
export const CatchUpPolicy = Object.freeze({
  /** Run none of them: only a due time reached less than MISFIRE_GRACE_MS ago runs. */
  skip: 'skip',
  /** Run one job for all of them. */
  once: 'once',
  /** Run each of them, oldest first, CATCH_UP_MAX_RUNS at most. */
  all: 'all',
} as const);
export type CatchUpPolicy = (typeof CatchUpPolicy)[keyof typeof CatchUpPolicy];

/** What to do when a run is due while the schedule's previous job is still pending or running. */
export const OverlapPolicy = Object.freeze({
  /** Enqueue it anyway. */
  allow: 'allow',
  /** Drop it. */
  skip: 'skip',
  /** Keep one due run waiting, enqueued once the active one ended; any further one is dropped. */
  queueOne: 'queue-one',
} as const);
export type OverlapPolicy = (typeof OverlapPolicy)[keyof typeof OverlapPolicy];

export const CATCH_UP_POLICIES = Object.values(CatchUpPolicy) as [CatchUpPolicy, ...CatchUpPolicy[]];
export const OVERLAP_POLICIES = Object.values(OverlapPolicy) as [OverlapPolicy, ...OverlapPolicy[]];

/** A due time reached longer ago than this is a missed one, subject to the catch-up policy. */
export const MISFIRE_GRACE_MS = 60_000;
/** `catch_up: all` enqueues at most this many of the missed due times (the oldest); the rest count as skipped. */
export const CATCH_UP_MAX_RUNS = 100;
/** The shortest interval of an interval schedule. */
export const MIN_INTERVAL_MS = 1000;

/** What each run enqueues: a job of `kind` with these options (the engine's defaults for those not given). */
export interface JobTemplate {
  kind: string;
  payload: unknown;
  priority: number;
  maxAttempts: number | null;
  timeoutMs: number | null;
}

export interface Schedule {
  id: string;
  name: string | null;
  /** A 5- or 6-field cron expression read in `timeZone`; or null with `intervalMs`. */
  cron: string | null;
  intervalMs: number | null;
  /** An IANA zone name (canonical spelling); `UTC` by default. Interval schedules ignore it. */
  timeZone: string;
  job: JobTemplate;
  catchUp: CatchUpPolicy;
  overlap: OverlapPolicy;
  paused: boolean;
  /** The next due time (epoch ms, engine clock); null while paused or when the expression has no further match. */
  nextDueAt: number | null;
  /** A due run kept waiting by `overlap: queue-one`. */
  queuedDueAt: number | null;
  /** The due time of the last run enqueued, and its job. */
  lastDueAt: number | null;
  lastJobId: string | null;
  runsEnqueued: number;
  runsSkipped: number;
  /** Interval schedules are due at anchorAt + k × intervalMs. */
  anchorAt: number;
  /** Moves on with each write of the row: the compare-and-set of a run (see ScheduleStore.fire). */
  revision: number;
  createdAt: number;
  updatedAt: number;
}

/** The fields a client sets; the rest the engine keeps. */
export type ScheduleSettings = Pick<Schedule, 'name' | 'cron' | 'intervalMs' | 'timeZone' | 'job' | 'catchUp' | 'overlap' | 'paused'>;

/** The jobs of a schedule carry this ref, which countActive counts for the overlap policy. */
export function scheduleRef(scheduleId: string): string {
  return `schedule:${scheduleId}`;
}
