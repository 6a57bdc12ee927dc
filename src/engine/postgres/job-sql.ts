// Every statement of the PostgreSQL store on the jobs, owners, job_counts and job_attempts tables. Parameters are
// written @name and numbered once, here; statements return the columns of JOB_COLUMNS, which ../job-row.ts turns
// into Jobs exactly as it does SQLite's rows (flags as 0/1; bigints arrive as numbers, see db/postgres-connection.ts).
import { prepareNamedSql } from '../../db/postgres-connection.js';
import { insertJobSql } from '../job-row.js';

/** The jobs columns in the shape of JobRow. */
export const JOB_COLUMNS = `
  seq, id, kind, status, payload, priority, run_at, attempts, max_attempts, timeout_ms, owner, lease_expires_at,
  cancel_requested::int AS cancel_requested, progress_done, progress_total, result, error, created_at, started_at,
  finished_at, updated_at, idempotency_key, request_hash, ref, pinned::int AS pinned, dedupe_key, dedupe_policy, callback_url, group_key`;

/** Every write that ends or extends an attempt matches this: it changes nothing once the row moved on. */
const FENCE = `id = @id AND owner = @owner AND attempts = @attempt::int AND status = 'running'`;

const SQL = {
  insert: insertJobSql(JOB_COLUMNS),
  getByIdempotencyKey: `SELECT ${JOB_COLUMNS} FROM jobs WHERE idempotency_key = @key`,
  // The job holding a dedupe key (migration 0008's unique index), and keep-latest's replacement of its payload.
  getByDedupeSlot: `SELECT ${JOB_COLUMNS} FROM jobs WHERE kind = @kind AND dedupe_slot = @key`,
  replaceDedupedPayload: `
    UPDATE jobs SET payload = @payload, updated_at = @now
    WHERE kind = @kind AND dedupe_slot = @key AND status = 'pending' RETURNING ${JOB_COLUMNS}`,
  // The rows are locked as they are chosen, and rows another node is claiming right now are skipped rather than
  // waited for, so N nodes claim disjoint batches at once. Each kind is read from its own range of
  // jobs_claim_by_kind (a lateral scan per kind, in claim order): a backlog of another kind costs nothing, and
  // `kind = ANY(…)` would sort every due row of those kinds. A kind may lock a few more rows than the batch takes;
  // they are only skipped by others until this commit. RETURNING has no order: the store sorts. Kinds with keyed
  // pending jobs (one seek each in jobs_claim_by_group) are left to the round-robin claim of flow-claim.ts and
  // answered as rows of their own, `grouped_kind` set and every job column null: one round trip either way.
  claim: `
    WITH grouped AS MATERIALIZED (
      SELECT u.kind FROM unnest(@kinds::text[]) AS u(kind)
      WHERE EXISTS (SELECT 1 FROM jobs WHERE kind = u.kind AND status = 'pending' AND group_key IS NOT NULL)
    ), claimed AS (
    UPDATE jobs SET status = 'running', owner = @owner, lease_expires_at = @lease, attempts = attempts + 1,
           started_at = @now, updated_at = @now, progress_done = NULL, progress_total = NULL
    WHERE seq IN (
      SELECT head.seq FROM (
        SELECT u.kind FROM unnest(@kinds::text[]) AS u(kind) WHERE u.kind NOT IN (SELECT kind FROM grouped)
      ) AS k
      CROSS JOIN LATERAL (
        SELECT seq, priority, run_at FROM jobs
        WHERE kind = k.kind AND status = 'pending' AND run_at <= @now AND id <> ALL(@exclude::text[])
        ORDER BY priority DESC, run_at, seq
        LIMIT @limit
        FOR UPDATE SKIP LOCKED
      ) AS head
      ORDER BY head.priority DESC, head.run_at, head.seq
      LIMIT @limit)
    RETURNING ${JOB_COLUMNS}
    )
    SELECT claimed.*, NULL::text AS grouped_kind FROM claimed
    UNION ALL
    SELECT ${JOB_COLUMNS.split(',').map(() => 'NULL').join(', ')}, grouped.kind FROM grouped`,
  // The rows a flow-controlled claim chose (flow-claim.ts), locked by it already.
  claimIds: `
    UPDATE jobs SET status = 'running', owner = @owner, lease_expires_at = @lease, attempts = attempts + 1,
           started_at = @now, updated_at = @now, progress_done = NULL, progress_total = NULL
    WHERE id = ANY(@ids::text[]) AND status = 'pending'
    RETURNING ${JOB_COLUMNS}`,
  // Only the attempts the owner really runs: a row it holds but no longer runs must be left to expire.
  renew: `
    UPDATE jobs SET lease_expires_at = greatest(@lease, lease_expires_at + 1), updated_at = @now
    FROM unnest(@ids::text[], @attempts::int[]) AS fence(id, attempt)
    WHERE jobs.owner = @owner AND jobs.status = 'running' AND jobs.id = fence.id AND jobs.attempts = fence.attempt
    RETURNING jobs.id, jobs.attempts, jobs.cancel_requested::int AS cancel_requested`,
  ownerHeartbeat: `UPDATE owners SET heartbeat_at = @now WHERE id = @owner`,
  progress: `
    UPDATE jobs SET progress_done = @done, progress_total = @total, updated_at = @now
    WHERE ${FENCE} RETURNING ${JOB_COLUMNS}`,
  markStarted: `UPDATE jobs SET started_at = @now, updated_at = @now WHERE ${FENCE} RETURNING ${JOB_COLUMNS}`,
  complete: `
    UPDATE jobs SET status = 'succeeded', result = @result, error = NULL, owner = NULL, lease_expires_at = NULL,
           progress_done = coalesce(@done::bigint, progress_done),
           progress_total = CASE WHEN @done::bigint IS NULL THEN progress_total ELSE @total::bigint END,
           finished_at = @now, updated_at = @now
    WHERE ${FENCE} RETURNING ${JOB_COLUMNS}`,
  finishUnsuccessful: `
    UPDATE jobs SET status = @status, error = @error, owner = NULL, lease_expires_at = NULL,
           finished_at = @now, updated_at = @now
    WHERE ${FENCE} RETURNING ${JOB_COLUMNS}`,
  // A cancel asked while the attempt ran (from another node) is not lost on a retry: the job ends cancelled.
  retry: `
    UPDATE jobs SET status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'pending' END,
           error = CASE WHEN cancel_requested THEN @cancelled_error ELSE @error END,
           run_at = CASE WHEN cancel_requested THEN run_at ELSE @run_at::bigint END,
           finished_at = CASE WHEN cancel_requested THEN @now::bigint ELSE NULL END,
           owner = NULL, lease_expires_at = NULL, cancel_requested = false, updated_at = @now
    WHERE ${FENCE} RETURNING ${JOB_COLUMNS}`,
  // Likewise a cancel asked while the owner was dead: recovery ends the job cancelled instead of retrying it.
  endOrphan: `
    UPDATE jobs SET status = CASE WHEN cancel_requested THEN 'cancelled' ELSE @status::text END,
           error = CASE WHEN cancel_requested THEN @cancelled_error ELSE @error END,
           run_at = CASE WHEN cancel_requested THEN run_at ELSE coalesce(@run_at::bigint, run_at) END,
           owner = NULL, lease_expires_at = NULL, cancel_requested = false, updated_at = @now,
           finished_at = CASE WHEN NOT cancel_requested AND @status::text = 'pending' THEN NULL ELSE @now::bigint END
    WHERE ${FENCE}
      AND (@owner_gone::boolean OR (@lease_seen::bigint IS NULL AND lease_expires_at < @now) OR lease_expires_at <= @lease_seen::bigint)
    RETURNING ${JOB_COLUMNS}`,
  release: `
    UPDATE jobs SET status = 'pending', attempts = attempts - 1, run_at = @now, owner = NULL,
           lease_expires_at = NULL, started_at = NULL, updated_at = @now
    WHERE ${FENCE} RETURNING ${JOB_COLUMNS}`,
  orphans: `
    SELECT ${JOB_COLUMNS} FROM jobs
    WHERE status = 'running' AND (lease_expires_at < @now OR owner = ANY(@owners::text[]))`,
  cancelPending: `
    UPDATE jobs SET status = 'cancelled', error = @error, finished_at = @now, updated_at = @now
    WHERE id = @id AND status = 'pending' RETURNING ${JOB_COLUMNS}`,
  requestCancel: `
    UPDATE jobs SET cancel_requested = true, updated_at = @now
    WHERE id = @id AND status = 'running' RETURNING ${JOB_COLUMNS}`,
  get: `SELECT ${JOB_COLUMNS} FROM jobs WHERE id = @id`,
  // job_attempts is written by a trigger (migration 0003) as a row leaves `running`.
  attemptsOf: `
    SELECT attempt, owner, started_at AS "startedAt", ended_at AS "endedAt", outcome, error
    FROM job_attempts WHERE job_id = @id ORDER BY seq`,
  countActiveByRef: `SELECT count(*) AS n FROM jobs WHERE ref = @ref AND status IN ('pending', 'running')`,
  expireIdempotencyKeys: `
    UPDATE jobs SET idempotency_key = NULL
    WHERE idempotency_key IS NOT NULL AND finished_at < @before AND status IN ('succeeded', 'failed', 'cancelled')`,
  // Oldest first, a batch at a time, from jobs_expirable.
  deleteFinished: `
    DELETE FROM jobs WHERE seq IN (
      SELECT seq FROM jobs
      WHERE status IN ('succeeded', 'failed', 'cancelled') AND NOT pinned AND finished_at < @before
      ORDER BY finished_at LIMIT @limit)`,
  // job_counts holds one counter per backend (migration 0002): the sums are exact.
  countPending: `SELECT coalesce(sum(n), 0)::bigint AS n FROM job_counts WHERE status = 'pending'`,
  countByKindAndStatus: `
    SELECT kind, status, sum(n)::bigint AS count FROM job_counts WHERE status IN ('pending', 'running')
    GROUP BY kind, status HAVING sum(n) > 0`,
  foldJobCounts: `SELECT fold_job_counts()`,
  // Per kind, like claim: the first entry of each kind in jobs_due_by_kind.
  nextRunAt: `
    SELECT min((SELECT run_at FROM jobs WHERE kind = k.kind AND status = 'pending' ORDER BY run_at LIMIT 1)) AS run_at
    FROM unnest(@kinds::text[]) AS k(kind)`,
  registerOwner: `
    INSERT INTO owners (id, hostname, pid, started_at, heartbeat_at)
    VALUES (@id, @hostname, @pid, @started_at, @heartbeat_at)`,
  listOwners: `SELECT id, hostname, pid, started_at AS "startedAt", heartbeat_at AS "heartbeatAt" FROM owners`,
  removeOwner: `DELETE FROM owners WHERE id = @id`,
  unpin: `UPDATE jobs SET pinned = false WHERE id = @id`,
} as const;

export const JOB_SQL = prepareNamedSql(SQL);
