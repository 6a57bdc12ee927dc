// The SQL of job_deliveries in SQLite (migration 0012; rows become DeliveryRecords in ../delivery-row.ts).
import type { Database, Statement } from 'better-sqlite3';

const DELIVERY_SQL = Object.freeze({
  // Claimed inside the write queue's BEGIN IMMEDIATE: select, then update each.
  due: `
    SELECT id FROM job_deliveries INDEXED BY job_deliveries_due
    WHERE state = 'pending' AND next_attempt_at <= @now ORDER BY next_attempt_at LIMIT @limit`,
  claim: `
    UPDATE job_deliveries SET attempts = attempts + 1, next_attempt_at = @until
    WHERE id = @id AND state = 'pending' RETURNING *`,
  // Fenced by the attempt: a process whose claim lapsed (and was taken over) writes nothing.
  end: `
    UPDATE job_deliveries SET state = @state, next_attempt_at = coalesce(@next, next_attempt_at),
           ended_at = CASE WHEN @state = 'pending' THEN NULL ELSE @now END,
           log = json_insert(log, '$[#]', json(@entry))
    WHERE id = @id AND attempts = @attempt AND state = 'pending' RETURNING *`,
  ofJob: `SELECT * FROM job_deliveries WHERE job_id = ? ORDER BY created_at, id`,
});

export function prepareDeliveryStatements(db: Database): Record<keyof typeof DELIVERY_SQL, Statement> {
  return Object.fromEntries(Object.entries(DELIVERY_SQL).map(([name, sql]) => [name, db.prepare(sql)])) as Record<keyof typeof DELIVERY_SQL, Statement>;
}
