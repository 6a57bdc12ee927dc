import { randomUUID } from 'node:crypto';
import { EngineError } from './engine-error.js';
import { CATCH_UP_POLICIES, MIN_INTERVAL_MS, OVERLAP_POLICIES, type JobTemplate, type Schedule, type ScheduleSettings } from './schedule.js';
import { timingOf } from './schedule-plan.js';
import { canonicalTimeZone, cronProblem, nextDueAfter } from './schedule-timing.js';
import type { ScheduleRun, ScheduleStore } from './schedule-store.js';

/** A new schedule: one of cron and intervalMs; the rest have defaults (UTC, catch-up skip, overlap allow, running). */
export interface ScheduleRequest {
  name?: string | null;
  cron?: string | null;
  intervalMs?: number | null;
  timeZone?: string;
  job: { kind: string; payload?: unknown; priority?: number; maxAttempts?: number | null; timeoutMs?: number | null };
  catchUp?: Schedule['catchUp'];
  overlap?: Schedule['overlap'];
  paused?: boolean;
}

/** A change: the fields given replace the schedule's; `job` is replaced whole. */
export type ScheduleChange = Partial<ScheduleRequest>;

export interface SchedulesOptions {
  store: ScheduleStore;
  now: () => number;
  /** Throws an EngineError for a template the engine would not enqueue (unknown kind, timeout over the ceiling). */
  checkTemplate(template: JobTemplate): void;
  /** A schedule was created or changed here: look at it now. */
  onChange(): void;
}

/** Compare-and-set retries of a PATCH racing a run of the same schedule (each loses only to a write that happened). */
const SAVE_ATTEMPTS = 5;

/** The schedules of an engine: validation, next due times, and the writes; the Scheduler enqueues their runs. */
export class Schedules {
  readonly #options: SchedulesOptions;

  constructor(options: SchedulesOptions) {
    this.#options = options;
  }

  async create(request: ScheduleRequest): Promise<Schedule> {
    const now = this.#options.now();
    const settings = this.#settings(request, undefined);
    const draft: Schedule = {
      id: randomUUID(), ...settings, nextDueAt: null, queuedDueAt: null, lastDueAt: null, lastJobId: null, runsEnqueued: 0,
      runsSkipped: 0, anchorAt: now, revision: 1, createdAt: now, updatedAt: now,
    };
    const schedule = await this.#options.store.insert({ ...draft, nextDueAt: dueAfterNow(draft, now) });
    this.#options.onChange();
    return schedule;
  }

  get(id: string): Promise<Schedule | undefined> {
    return this.#options.store.get(id);
  }

  list(limit: number, after?: { createdAt: number; id: string }): Promise<Schedule[]> {
    return this.#options.store.list(limit, after);
  }

  recentRuns(id: string, limit: number): Promise<ScheduleRun[]> {
    return this.#options.store.recentRuns(id, limit);
  }

  /**
   * Applies `change`; undefined when there is no such schedule. A new timing (cron, interval, zone) or a resume
   * starts the due times again from now: what was missed while paused is not caught up. Pausing drops a queued run.
   */
  async update(id: string, change: ScheduleChange): Promise<Schedule | undefined> {
    for (let attempt = 0; attempt < SAVE_ATTEMPTS; attempt++) {
      const current = await this.#options.store.get(id);
      if (!current) return undefined;
      const now = this.#options.now();
      // A new cron replaces an interval and the other way round.
      const timing = change.cron != null ? { intervalMs: null } : change.intervalMs != null ? { cron: null } : {};
      const settings = this.#settings({ ...current, ...timing, ...change, job: change.job ?? current.job }, current);
      const timingChanged = settings.cron !== current.cron || settings.intervalMs !== current.intervalMs || settings.timeZone !== current.timeZone;
      const next: Schedule = { ...current, ...settings, revision: current.revision + 1, updatedAt: now };
      if (timingChanged && settings.intervalMs !== null) next.anchorAt = now;
      if (settings.paused) {
        next.nextDueAt = null;
        next.queuedDueAt = null;
      } else if (timingChanged || current.paused) {
        next.nextDueAt = dueAfterNow(next, Math.max(now, current.lastDueAt ?? now));
      }
      const saved = await this.#options.store.save(next, current.revision);
      if (saved) {
        this.#options.onChange();
        return saved;
      }
    }
    throw new EngineError('invalid_option', 'The schedule kept changing under this request (its runs); try again.');
  }

  async delete(id: string): Promise<boolean> {
    return this.#options.store.delete(id);
  }

  /** The settings of `request`, checked one by one, with a message naming the field. */
  #settings(request: ScheduleRequest, current: Schedule | undefined): ScheduleSettings {
    const cron = request.cron ?? null;
    const intervalMs = request.intervalMs ?? null;
    if ((cron === null) === (intervalMs === null)) throw invalid('give exactly one of cron and interval_ms');
    if (cron !== null) {
      const problem = cronProblem(cron);
      if (problem) throw invalid(`cron: ${problem}`);
    }
    if (intervalMs !== null && (!Number.isSafeInteger(intervalMs) || intervalMs < MIN_INTERVAL_MS)) {
      throw invalid(`interval_ms must be an integer of at least ${MIN_INTERVAL_MS}`);
    }
    const timeZone = canonicalTimeZone(request.timeZone ?? 'UTC');
    if (!timeZone) throw invalid(`time_zone: "${request.timeZone}" is not a time zone of the IANA database`);
    const catchUp = request.catchUp ?? current?.catchUp ?? 'skip';
    const overlap = request.overlap ?? current?.overlap ?? 'allow';
    if (!CATCH_UP_POLICIES.includes(catchUp)) throw invalid(`catch_up must be one of ${CATCH_UP_POLICIES.join(', ')}`);
    if (!OVERLAP_POLICIES.includes(overlap)) throw invalid(`overlap must be one of ${OVERLAP_POLICIES.join(', ')}`);
    const job: JobTemplate = {
      kind: request.job.kind,
      payload: request.job.payload ?? {},
      priority: request.job.priority ?? 0,
      maxAttempts: request.job.maxAttempts ?? null,
      timeoutMs: request.job.timeoutMs ?? null,
    };
    this.#options.checkTemplate(job);
    if (cron !== null && nextDueAfter({ cron, timeZone }, this.#options.now()) === undefined) throw invalid('cron: the expression never matches');
    return { name: request.name ?? null, cron, intervalMs, timeZone, job, catchUp, overlap, paused: request.paused ?? false };
  }
}

function dueAfterNow(schedule: Schedule, after: number): number | null {
  return schedule.paused ? null : (nextDueAfter(timingOf(schedule), after) ?? null);
}

function invalid(message: string): EngineError {
  return new EngineError('invalid_option', `Invalid schedule: ${message}.`);
}
