// The PostgreSQL side of the console's reads and of retry (the SQLite side: ../sqlite/console-queries.ts, whose
// doc comments give the semantics): filtered lists, changes since a point, counts, per-minute finishes, retry.
import { numberParameters, prepareNamedSql, type PreparedSql } from '../../db/postgres-connection.js';
import type { ListJobsFilter } from '../job-store.js';
import { listFilterTerms } from '../list-filter-terms.js';
import { JOB_COLUMNS } from './job-sql.js';

const listStatements = new Map<string, PreparedSql>();

/**
 * The list statement for this combination of filters, prepared once per combination: each reads one index
 * (jobs_by_ref, jobs_by_kind_status, jobs_by_kind, jobs_by_status or the primary key) backwards from the cursor,
 * rather than `(@kind IS NULL OR kind = @kind)`, which matches no index.
 */
export function listJobsStatement(filter: Omit<ListJobsFilter, 'limit' | 'beforeSeq'>): PreparedSql {
  // strpos, not LIKE: no wildcard characters to escape, and byte-exact (case-sensitive) as instr is on SQLite.
  const terms = listFilterTerms(filter, (column) => `strpos(${column}, @text) > 0`);
  const key = terms.join(' AND ');
  let statement = listStatements.get(key);
  if (!statement) {
    statement = numberParameters(`SELECT ${JOB_COLUMNS} FROM jobs WHERE ${key} ORDER BY seq DESC LIMIT @limit`);
    listStatements.set(key, statement);
  }
  return statement;
}

export const CONSOLE_SQL = prepareNamedSql({
  updatedAfter: `
    SELECT ${JOB_COLUMNS} FROM jobs
    WHERE (updated_at, seq) > (@updated_at::bigint, @seq::bigint)
    ORDER BY updated_at, seq LIMIT @limit`,
  // job_counts holds one counter per backend (migration 0002): the sums are exact.
  countAll: `SELECT kind, status, sum(n)::bigint AS count FROM job_counts GROUP BY kind, status HAVING sum(n) > 0`,
  finishedPerMinute: `
    SELECT kind, status, (finished_at / 60000) * 60000 AS minute, count(*)::bigint AS count
    FROM jobs
    WHERE finished_at >= @since AND finished_at < @until AND status IN ('succeeded', 'failed', 'cancelled')
    GROUP BY kind, status, minute`,
  retry: `
    UPDATE jobs SET status = 'pending', run_at = @now, max_attempts = greatest(max_attempts, attempts + 1), error = NULL,
           result = NULL, progress_done = NULL, progress_total = NULL, cancel_requested = false, finished_at = NULL,
           updated_at = @now
    WHERE id = @id AND status IN ('failed', 'cancelled')
    RETURNING ${JOB_COLUMNS}`,
});
