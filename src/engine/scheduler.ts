import type { Logger } from 'pino';
import type { Job, NewJob } from './job.js';
import { scheduleRef, type JobTemplate, type Schedule } from './schedule.js';
import { planRuns } from './schedule-plan.js';
import type { ScheduleStore } from './schedule-store.js';

/** How many due schedules one tick looks at (the next tick takes the rest). */
const TICK_BATCH = 100;
/** A failing tick (locked database, full disk) is logged at most this often; every tick still tries. */
const FAILURE_LOG_INTERVAL_MS = 30_000;

/** What one look at a schedule did, for metrics. */
export interface ScheduleRunReport {
  schedule: Schedule;
  jobs: Job[];
  skippedCatchUp: number;
  skippedOverlap: number;
  /** A run was kept waiting (overlap queue-one). */
  queued: boolean;
}

export interface SchedulerOptions {
  store: ScheduleStore;
  logger: Logger;
  /** Epoch ms: the clock due times are read on. */
  now: () => number;
  /** The longest wait between two looks for due schedules (other processes may have made some), ms. */
  intervalMs: number;
  /** The kinds this process runs: a schedule of another kind is left to a process that does. */
  kinds(): readonly string[];
  /** False while the queue is full: due schedules wait (then their catch-up policy applies). */
  hasRoom(): Promise<boolean>;
  newJob(template: JobTemplate, fields: { runAt: number; now: number; ref: string }): NewJob;
  onRun(report: ScheduleRunReport): void;
  /** A look that lost its compare-and-set to another process (or a PATCH). */
  onLostRace(): void;
}

/**
 * Enqueues the runs of due schedules: a tick every `intervalMs` or at the earliest due time, whichever comes first.
 * A tick that fails is logged and the next one tries again; nothing here throws into the event loop.
 */
export class Scheduler {
  readonly #options: SchedulerOptions;
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #stopped = true;
  #lastFailureLog = 0;

  constructor(options: SchedulerOptions) {
    this.#options = options;
  }

  start(): void {
    this.#stopped = false;
    this.wake();
  }

  /** Looks at once (a schedule was created or changed here). */
  wake(): void {
    this.#arm(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#ticking;
  }

  #arm(delayMs: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#run(), Math.max(0, delayMs));
    this.#timer.unref?.();
  }

  #run(): void {
    if (this.#ticking) return void this.#ticking.then(() => this.#arm(0));
    this.#ticking = this.#tickAndRearm().finally(() => (this.#ticking = undefined));
  }

  async #tickAndRearm(): Promise<void> {
    let delay = this.#options.intervalMs;
    try {
      const more = await this.tick();
      const earliest = await this.#options.store.earliestDue();
      if (more) delay = 0;
      // A due time already past is one of a kind this process does not run: the interval, not a spin.
      else if (earliest !== undefined && earliest > this.#options.now()) delay = Math.min(delay, earliest - this.#options.now());
    } catch (err) {
      const now = Date.now();
      if (now - this.#lastFailureLog >= FAILURE_LOG_INTERVAL_MS) {
        this.#lastFailureLog = now;
        this.#options.logger.error({ err }, 'looking for due schedules failed; trying again');
      }
    }
    this.#arm(delay);
  }

  /** One look at every due schedule; true when there may be more due ones than it took. */
  async tick(): Promise<boolean> {
    const { store, now } = this.#options;
    const due = await store.due(now(), TICK_BATCH, this.#options.kinds());
    if (due.length === 0 || !(await this.#options.hasRoom())) return false;
    // All at once: on SQLite the looks of one tick share a group commit (one savepoint each), on PostgreSQL the pool.
    const failure = (await Promise.allSettled(due.map((schedule) => this.#look(schedule)))).find((look) => look.status === 'rejected');
    if (failure) throw failure.reason;
    return due.length >= TICK_BATCH;
  }

  async #look(seen: Schedule): Promise<void> {
    const options = this.#options;
    const ref = scheduleRef(seen.id);
    let report: Omit<ScheduleRunReport, 'schedule' | 'jobs'> | undefined;
    const fired = await options.store.fire(seen, ref, (active) => {
      // Read in the transaction: a write that waited for a lock plans with the time it runs at, not the time it was asked.
      const now = options.now();
      const plan = planRuns(seen, now, active);
      if (!plan) return null;
      const runs = plan.enqueue.map((dueAt) => ({ dueAt, job: options.newJob(seen.job, { runAt: dueAt, now, ref }) }));
      const skipped = plan.skippedCatchUp + plan.skippedOverlap;
      report = { skippedCatchUp: plan.skippedCatchUp, skippedOverlap: plan.skippedOverlap, queued: plan.queuedDueAt !== null && plan.queuedDueAt !== seen.queuedDueAt };
      const last = runs.at(-1);
      const schedule: Schedule = {
        ...seen,
        nextDueAt: plan.nextDueAt,
        queuedDueAt: plan.queuedDueAt,
        lastDueAt: last?.dueAt ?? seen.lastDueAt,
        lastJobId: last?.job.id ?? seen.lastJobId,
        runsEnqueued: seen.runsEnqueued + runs.length,
        runsSkipped: seen.runsSkipped + skipped,
        revision: seen.revision + 1,
        updatedAt: now,
      };
      return { schedule, runs };
    });
    if (fired === undefined) options.onLostRace();
    else if (fired && report) options.onRun({ schedule: fired.schedule, jobs: fired.jobs, ...report });
  }
}
