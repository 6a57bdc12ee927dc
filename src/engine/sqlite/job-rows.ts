// The SQL of the jobs table in SQLite (rows become Jobs in ../job-row.ts).
import type { Database, Statement } from 'better-sqlite3';
import { insertJobSql } from '../job-row.js';

/** Every write that ends or extends an attempt matches this: it changes nothing once the row moved on. */
const FENCE = `id = @id AND owner = @owner AND attempts = @attempt AND status = 'running'`;

/** Every statement on the jobs and owners tables, by name; prepared once per connection. */
export const JOB_SQL = Object.freeze({
  insert: insertJobSql('*'),
  getByIdempotencyKey: `SELECT * FROM jobs WHERE idempotency_key = ?`,
  // The job holding a dedupe key (migration 0011's unique index), and keep-latest's replacement of its payload.
  getByDedupeSlot: `SELECT * FROM jobs WHERE kind = @kind AND dedupe_slot = @key`,
  replaceDedupedPayload: `
    UPDATE jobs SET payload = @payload, updated_at = @now
    WHERE kind = @kind AND dedupe_slot = @key AND status = 'pending' RETURNING *`,
  countActiveByRef: `
    SELECT count(*) AS n FROM jobs INDEXED BY jobs_active_by_ref
    WHERE ref = ? AND status IN ('pending', 'running')`,
  expireIdempotencyKeys: `
    UPDATE jobs SET idempotency_key = NULL
    WHERE idempotency_key IS NOT NULL AND finished_at < ? AND status IN ('succeeded', 'failed', 'cancelled')`,
  // One kind per query, merged by the store: `kind IN (…)` over several kinds cannot read one index in claim order,
  // so SQLite sorted every pending row of those kinds. INDEXED BY: left to itself, the planner reads
  // jobs_due_by_kind and sorts every due row of the kind.
  claimableOfKind: `
    SELECT id, priority, run_at, seq FROM jobs INDEXED BY jobs_claim_by_kind
    WHERE kind = @kind AND status = 'pending' AND run_at <= @now
    ORDER BY priority DESC, run_at, seq
    LIMIT @limit`,
  claim: `
    UPDATE jobs SET status = 'running', owner = @owner, lease_expires_at = @lease, attempts = attempts + 1,
           started_at = @now, updated_at = @now, progress_done = NULL, progress_total = NULL
    WHERE id = @id AND status = 'pending'
    RETURNING *`,
  // Only the attempts the owner really runs: a row it holds but no longer runs must be left to expire.
  renew: `
    UPDATE jobs SET lease_expires_at = max(@lease, lease_expires_at + 1), updated_at = @now
    WHERE owner = @owner AND status = 'running'
      AND EXISTS (SELECT 1 FROM json_each(@fences) AS f
                  WHERE json_extract(f.value, '$[0]') = jobs.id AND json_extract(f.value, '$[1]') = jobs.attempts)
    RETURNING id, attempts, cancel_requested`,
  ownerHeartbeat: `UPDATE owners SET heartbeat_at = @now WHERE id = @owner`,
  progress: `
    UPDATE jobs SET progress_done = @done, progress_total = @total, updated_at = @now
    WHERE ${FENCE} RETURNING *`,
  markStarted: `UPDATE jobs SET started_at = @now, updated_at = @now WHERE ${FENCE} RETURNING *`,
  complete: `
    UPDATE jobs SET status = 'succeeded', result = @result, error = NULL, owner = NULL, lease_expires_at = NULL,
           progress_done = coalesce(@done, progress_done),
         progress_total = CASE WHEN @done IS NULL THEN progress_total ELSE @total END,
           finished_at = @now, updated_at = @now
    WHERE ${FENCE} RETURNING *`,
  finishUnsuccessful: `
    UPDATE jobs SET status = @status, error = @error, owner = NULL, lease_expires_at = NULL,
           finished_at = @now, updated_at = @now
    WHERE ${FENCE} RETURNING *`,
  // A cancel asked while the attempt ran (from another process) is not lost on a retry: the job ends cancelled.
  retry: `
    UPDATE jobs SET status = CASE WHEN cancel_requested = 1 THEN 'cancelled' ELSE 'pending' END,
           error = CASE WHEN cancel_requested = 1 THEN @cancelled_error ELSE @error END,
           run_at = CASE WHEN cancel_requested = 1 THEN run_at ELSE @run_at END,
           finished_at = CASE WHEN cancel_requested = 1 THEN @now ELSE NULL END,
           owner = NULL, lease_expires_at = NULL, cancel_requested = 0, updated_at = @now
    WHERE ${FENCE} RETURNING *`,
  // Likewise a cancel asked while the owner was dead: recovery ends the job cancelled instead of retrying it.
  endOrphan: `
    UPDATE jobs SET status = CASE WHEN cancel_requested = 1 THEN 'cancelled' ELSE @status END,
           error = CASE WHEN cancel_requested = 1 THEN @cancelled_error ELSE @error END,
           run_at = CASE WHEN cancel_requested = 1 THEN run_at ELSE coalesce(@run_at, run_at) END,
           owner = NULL, lease_expires_at = NULL, cancel_requested = 0, updated_at = @now,
           finished_at = CASE WHEN cancel_requested = 0 AND @status = 'pending' THEN NULL ELSE @now END
    WHERE ${FENCE} AND (@owner_gone = 1 OR (@lease_seen IS NULL AND lease_expires_at < @now) OR lease_expires_at <= @lease_seen)
    RETURNING *`,
  release: `
    UPDATE jobs SET status = 'pending', attempts = attempts - 1, run_at = @now, owner = NULL,
           lease_expires_at = NULL, started_at = NULL, updated_at = @now
    WHERE ${FENCE} RETURNING *`,
  orphans: `
    SELECT * FROM jobs
    WHERE status = 'running' AND (lease_expires_at < @now OR owner IN (SELECT value FROM json_each(@owners)))`,
  cancelPending: `
    UPDATE jobs SET status = 'cancelled', error = @error, finished_at = @now, updated_at = @now
    WHERE id = @id AND status = 'pending' RETURNING *`,
  requestCancel: `
    UPDATE jobs SET cancel_requested = 1, updated_at = @now
    WHERE id = @id AND status = 'running' RETURNING *`,
  get: `SELECT * FROM jobs WHERE id = ?`,
  // job_attempts is written by a trigger (migration 0007) as a row leaves `running`.
  attemptsOf: `
    SELECT attempt, owner, started_at AS startedAt, ended_at AS endedAt, outcome, error
    FROM job_attempts WHERE job_id = ? ORDER BY seq`,
  // Lists are built per combination of filters: console-queries.ts.
  // Oldest first, a batch at a time, along jobs_by_finished (migration 0013), skipping pinned rows (left to itself,
  // the planner reads jobs_by_status and sorts every finished row).
  deleteFinished: `
    DELETE FROM jobs WHERE seq IN (
      SELECT seq FROM jobs INDEXED BY jobs_by_finished
      WHERE status IN ('succeeded', 'failed', 'cancelled') AND pinned = 0 AND finished_at < @before
      ORDER BY finished_at LIMIT @limit)`,
  // job_counts is kept by triggers (migration 0003): a few rows, however long the queue.
  countPending: `SELECT coalesce(sum(n), 0) AS n FROM job_counts WHERE status = 'pending'`,
  countByKindAndStatus: `
    SELECT kind, status, n AS count FROM job_counts WHERE status IN ('pending', 'running') AND n > 0`,
  // Per kind, like claimableOfKind: the first entry of the kind in jobs_due_by_kind.
  nextRunAtOfKind: `
    SELECT run_at FROM jobs INDEXED BY jobs_due_by_kind
    WHERE kind = ? AND status = 'pending'
    ORDER BY run_at LIMIT 1`,
  registerOwner: `
    INSERT INTO owners (id, hostname, pid, started_at, heartbeat_at)
    VALUES (@id, @hostname, @pid, @started_at, @heartbeat_at)`,
  listOwners: `SELECT * FROM owners`,
  removeOwner: `DELETE FROM owners WHERE id = ?`,
  unpin: `UPDATE jobs SET pinned = 0 WHERE id = ?`,
});

export type JobStatementName = keyof typeof JOB_SQL;

export function prepareJobStatements(db: Database): Record<JobStatementName, Statement> {
  const prepared = Object.fromEntries(Object.entries(JOB_SQL).map(([name, sql]) => [name, db.prepare(sql)])) as Record<JobStatementName, Statement>;
  prepared.nextRunAtOfKind.pluck();
  return prepared;
}
