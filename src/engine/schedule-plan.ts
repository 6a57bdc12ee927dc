// What one look at a due schedule does: pure arithmetic on its due times and policies, so the store can apply
// it in the transaction that counted the schedule's active jobs.
import { CATCH_UP_MAX_RUNS, MISFIRE_GRACE_MS, type Schedule } from './schedule.js';
import { nextDueAfter, type ScheduleTiming } from './schedule-timing.js';

/** How many missed due times a catch-up walks through one by one before jumping to the next one after now. */
const CATCH_UP_SCAN_LIMIT = 1000;

export interface RunPlan {
  /** The due times to enqueue a job for, oldest first. */
  enqueue: number[];
  nextDueAt: number | null;
  queuedDueAt: number | null;
  skippedCatchUp: number;
  skippedOverlap: number;
}

export function timingOf(schedule: Pick<Schedule, 'cron' | 'timeZone' | 'intervalMs' | 'anchorAt'>): ScheduleTiming {
  return schedule.cron !== null ? { cron: schedule.cron, timeZone: schedule.timeZone } : { intervalMs: schedule.intervalMs!, anchorAt: schedule.anchorAt };
}

/**
 * The due times up to `now`, by the catch-up policy, then by the overlap policy against `active` (the schedule's
 * pending and running jobs), each enqueued run counting as active for the ones after it. Null when nothing is due
 * and nothing waiting can go (no write needed).
 */
export function planRuns(schedule: Schedule, now: number, active: number): RunPlan | null {
  const { due, nextDueAt, missedBeyondScan } = dueTimesUpTo(schedule, now);
  if (due.length === 0 && (schedule.queuedDueAt === null || active > 0)) return null;
  const latest = due.at(-1);
  let runs: number[];
  if (latest === undefined) runs = [];
  else if (schedule.catchUp === 'all') runs = due.slice(0, CATCH_UP_MAX_RUNS);
  else if (schedule.catchUp === 'once' || now - latest <= MISFIRE_GRACE_MS) runs = [latest];
  else runs = [];
  const plan: RunPlan = { enqueue: [], nextDueAt, queuedDueAt: null, skippedCatchUp: due.length - runs.length + missedBeyondScan, skippedOverlap: 0 };
  const candidates = schedule.queuedDueAt === null ? runs : [schedule.queuedDueAt, ...runs];
  for (const dueAt of candidates) {
    if (schedule.overlap === 'allow' || active === 0) {
      plan.enqueue.push(dueAt);
      active++;
    } else if (schedule.overlap === 'queue-one' && plan.queuedDueAt === null) {
      plan.queuedDueAt = dueAt;
    } else {
      plan.skippedOverlap++;
    }
  }
  return plan;
}

function dueTimesUpTo(schedule: Schedule, now: number): { due: number[]; nextDueAt: number | null; missedBeyondScan: number } {
  const timing = timingOf(schedule);
  const due: number[] = [];
  let next: number | undefined = schedule.nextDueAt ?? undefined;
  while (next !== undefined && next <= now && due.length < CATCH_UP_SCAN_LIMIT) {
    due.push(next);
    next = nextDueAfter(timing, next);
  }
  if (next === undefined || next > now) return { due, nextDueAt: next ?? null, missedBeyondScan: 0 };
  // A long downtime of a frequent schedule: the rest is not walked (it could be millions of due times); an interval
  // knows its count, a cron expression's is counted as one.
  const missedBeyondScan = 'intervalMs' in timing ? Math.floor((now - next) / timing.intervalMs) + 1 : 1;
  return { due, nextDueAt: nextDueAfter(timing, now) ?? null, missedBeyondScan };
}
