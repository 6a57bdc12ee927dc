import type { Schedule } from '../engine/schedule.js';
import type { ScheduleRun } from '../engine/schedule-store.js';
import type { ScheduleDocument } from './schedule-schemas.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The API's view of a schedule; with its latest runs for GET of one. */
export function toScheduleDocument(schedule: Schedule, runs?: readonly ScheduleRun[]): ScheduleDocument {
  const { job } = schedule;
  return {
    schedule_id: schedule.id,
    name: schedule.name,
    cron: schedule.cron,
    interval_ms: schedule.intervalMs,
    time_zone: schedule.timeZone,
    job: { kind: job.kind, payload: job.payload, priority: job.priority, max_attempts: job.maxAttempts, timeout_ms: job.timeoutMs },
    catch_up: schedule.catchUp,
    overlap: schedule.overlap,
    paused: schedule.paused,
    next_due_at: iso(schedule.nextDueAt),
    queued_due_at: iso(schedule.queuedDueAt),
    last_run: schedule.lastDueAt === null || schedule.lastJobId === null ? null : { due_at: iso(schedule.lastDueAt)!, job_id: schedule.lastJobId },
    runs_enqueued: schedule.runsEnqueued,
    runs_skipped: schedule.runsSkipped,
    ...(runs === undefined ? {} : { recent_runs: runs.map((run) => ({ due_at: iso(run.dueAt)!, job_id: run.jobId, enqueued_at: iso(run.enqueuedAt)! })) }),
    created_at: iso(schedule.createdAt)!,
    updated_at: iso(schedule.updatedAt)!,
  };
}
