// The SQL of job_deliveries in PostgreSQL (migration 0009; rows become DeliveryRecords in ../delivery-row.ts).
import { prepareNamedSql } from '../../db/postgres-connection.js';

export const DELIVERY_SQL = prepareNamedSql({
  // Rows another node is claiming right now are skipped, not waited for.
  claim: `
    UPDATE job_deliveries SET attempts = attempts + 1, next_attempt_at = @until
    WHERE id IN (
      SELECT id FROM job_deliveries WHERE state = 'pending' AND next_attempt_at <= @now
      ORDER BY next_attempt_at LIMIT @limit FOR UPDATE SKIP LOCKED)
    RETURNING *`,
  // Fenced by the attempt: a node whose claim lapsed (and was taken over) writes nothing.
  end: `
    UPDATE job_deliveries SET state = @state, next_attempt_at = coalesce(@next::bigint, next_attempt_at),
           ended_at = CASE WHEN @state = 'pending' THEN NULL ELSE @now::bigint END,
           log = (log::jsonb || jsonb_build_array(@entry::text::jsonb))::text
    WHERE id = @id AND attempts = @attempt::int AND state = 'pending' RETURNING *`,
  ofJob: `SELECT * FROM job_deliveries WHERE job_id = @job_id ORDER BY created_at, id`,
});
