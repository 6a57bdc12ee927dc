// A row of the schedules table as both stores read it, and the one place where its columns become Schedule fields.
import type { Schedule } from './schedule.js';

export interface ScheduleRow {
  id: string;
  name: string | null;
  cron: string | null;
  interval_ms: number | null;
  time_zone: string;
  kind: string;
  payload: string;
  priority: number;
  max_attempts: number | null;
  timeout_ms: number | null;
  catch_up: Schedule['catchUp'];
  overlap: Schedule['overlap'];
  /** 0/1 on SQLite, a boolean on PostgreSQL. */
  paused: number | boolean;
  next_due_at: number | null;
  queued_due_at: number | null;
  last_due_at: number | null;
  last_job_id: string | null;
  runs_enqueued: number;
  runs_skipped: number;
  anchor_at: number;
  revision: number;
  created_at: number;
  updated_at: number;
}

export function toSchedule(row: ScheduleRow): Schedule {
  return {
    id: row.id,
    name: row.name,
    cron: row.cron,
    intervalMs: row.interval_ms,
    timeZone: row.time_zone,
    job: { kind: row.kind, payload: JSON.parse(row.payload), priority: row.priority, maxAttempts: row.max_attempts, timeoutMs: row.timeout_ms },
    catchUp: row.catch_up,
    overlap: row.overlap,
    paused: Boolean(row.paused),
    nextDueAt: row.next_due_at,
    queuedDueAt: row.queued_due_at,
    lastDueAt: row.last_due_at,
    lastJobId: row.last_job_id,
    runsEnqueued: row.runs_enqueued,
    runsSkipped: row.runs_skipped,
    anchorAt: row.anchor_at,
    revision: row.revision,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The named parameters of a full write of the row (both stores' `save` and `insert`). */
export function scheduleParams(schedule: Schedule, paused: number | boolean): Record<string, unknown> {
  return {
    id: schedule.id, name: schedule.name, cron: schedule.cron, interval_ms: schedule.intervalMs, time_zone: schedule.timeZone,
    kind: schedule.job.kind, payload: JSON.stringify(schedule.job.payload ?? {}), priority: schedule.job.priority,
    max_attempts: schedule.job.maxAttempts, timeout_ms: schedule.job.timeoutMs, catch_up: schedule.catchUp, overlap: schedule.overlap,
    paused, next_due_at: schedule.nextDueAt, queued_due_at: schedule.queuedDueAt, last_due_at: schedule.lastDueAt,
    last_job_id: schedule.lastJobId, runs_enqueued: schedule.runsEnqueued, runs_skipped: schedule.runsSkipped,
    anchor_at: schedule.anchorAt, revision: schedule.revision, created_at: schedule.createdAt, updated_at: schedule.updatedAt,
  };
}

const COLUMNS = [
  'id', 'name', 'cron', 'interval_ms', 'time_zone', 'kind', 'payload', 'priority', 'max_attempts', 'timeout_ms', 'catch_up',
  'overlap', 'paused', 'next_due_at', 'queued_due_at', 'last_due_at', 'last_job_id', 'runs_enqueued', 'runs_skipped',
  'anchor_at', 'revision', 'created_at', 'updated_at',
] as const;

/** The latest runs kept per schedule in schedule_runs (the unique key only matters near the next due time). */
export const RUNS_KEPT = 100;

/**
 * The statements of the schedules and schedule_runs tables, in the @name form both stores take (PostgreSQL numbers
 * them, see numberParameters). The same text on both but for how each spells "not paused" (a literal, so that the
 * planner matches the partial indexes of the due times) and "kind is one of @kinds".
 */
export const scheduleSql = ({ notPaused, kindIsOneOf }: { notPaused: string; kindIsOneOf: string }) => Object.freeze({
  insert: `INSERT INTO schedules (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((c) => `@${c}`).join(', ')}) RETURNING *`,
  /** The compare-and-set: changes the row only while it is at `expected_revision`. */
  save: `
    UPDATE schedules SET ${COLUMNS.filter((c) => c !== 'id').map((c) => `${c} = @${c}`).join(', ')}
    WHERE id = @id AND revision = @expected_revision
    RETURNING *`,
  get: `SELECT * FROM schedules WHERE id = @id`,
  list: `
    SELECT * FROM schedules
    WHERE created_at > @after_created OR (created_at = @after_created AND id > @after_id)
    ORDER BY created_at, id LIMIT @limit`,
  delete: `DELETE FROM schedules WHERE id = @id`,
  deleteRuns: `DELETE FROM schedule_runs WHERE schedule_id = @id`,
  dueAt: `
    SELECT * FROM schedules WHERE ${notPaused} AND next_due_at IS NOT NULL AND next_due_at <= @now AND ${kindIsOneOf}
    ORDER BY next_due_at LIMIT @limit`,
  queued: `SELECT * FROM schedules WHERE ${notPaused} AND queued_due_at IS NOT NULL AND ${kindIsOneOf} ORDER BY queued_due_at LIMIT @limit`,
  earliestDue: `SELECT min(next_due_at) AS at FROM schedules WHERE ${notPaused} AND next_due_at IS NOT NULL`,
  /** A second run of one due time changes nothing (and its job is then not inserted). */
  insertRun: `
    INSERT INTO schedule_runs (schedule_id, due_at, job_id, enqueued_at) VALUES (@schedule_id, @due_at, @job_id, @now)
    ON CONFLICT (schedule_id, due_at) DO NOTHING
    RETURNING due_at`,
  /** Keeps the latest RUNS_KEPT runs of a schedule. */
  pruneRuns: `
    DELETE FROM schedule_runs WHERE schedule_id = @schedule_id AND due_at < (
      SELECT due_at FROM schedule_runs WHERE schedule_id = @schedule_id ORDER BY due_at DESC LIMIT 1 OFFSET ${RUNS_KEPT - 1})`,
  recentRuns: `SELECT due_at, job_id, enqueued_at FROM schedule_runs WHERE schedule_id = @schedule_id ORDER BY due_at DESC LIMIT @limit`,
});
