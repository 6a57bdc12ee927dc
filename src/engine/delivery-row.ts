// A row of job_deliveries as both stores read it, and the one place its columns become DeliveryRecord fields.
import type { DeliveryAttempt, DeliveryEnd, DeliveryRecord } from './job-store.js';

export interface DeliveryRow {
  id: string;
  job_id: string;
  url: string;
  event: DeliveryRecord['event'];
  state: DeliveryRecord['state'];
  attempts: number;
  next_attempt_at: number;
  created_at: number;
  ended_at: number | null;
  /** JSON text: LoggedAttempt[]. */
  log: string;
}

interface LoggedAttempt {
  attempt: number;
  at: number;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
}

export function toDelivery(row: DeliveryRow): DeliveryRecord {
  return {
    id: row.id,
    jobId: row.job_id,
    url: row.url,
    event: row.event,
    state: row.state,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    createdAt: row.created_at,
    endedAt: row.ended_at,
    log: (JSON.parse(row.log) as LoggedAttempt[]).map((entry) => ({
      attempt: entry.attempt, at: entry.at, durationMs: entry.duration_ms, statusCode: entry.status_code, error: entry.error,
    })),
  };
}

/** The parameters of both stores' endDeliveryAttempt statement. */
export function endDeliveryParams(id: string, attempt: DeliveryAttempt, end: DeliveryEnd, now: number): Record<string, unknown> {
  const entry: LoggedAttempt = {
    attempt: attempt.attempt, at: attempt.at, duration_ms: attempt.durationMs, status_code: attempt.statusCode, error: attempt.error,
  };
  return {
    id, attempt: attempt.attempt, state: end.state, next: end.state === 'pending' ? end.nextAttemptAt : null, now, entry: JSON.stringify(entry),
  };
}
