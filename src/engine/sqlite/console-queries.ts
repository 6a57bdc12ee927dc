// The SQL of the console's reads and of retry: filtered lists, changes since a point, counts and per-minute
// finishes. Kept apart from job-rows.ts (the claim and attempt SQL) because these only read, or (retry) touch rows
// no attempt holds.
import type { ListJobsFilter } from '../job-store.js';
import { listFilterTerms } from '../list-filter-terms.js';

/**
 * The list statement for this combination of filters: the index of the most selective exact filter is read
 * backwards from `seq < @before` (and, with `fromSeq`, down to `seq >= @from_seq`); the other filters are checked
 * on the rows of that range. One statement per combination, because `(@kind IS NULL OR kind = @kind)` matches no
 * index and each page scanned the table; INDEXED BY names the range to read, as the one-filter statements before
 * these did (test/job-store-scale.test.ts checks the plans).
 */
export function listJobsSql(filter: Omit<ListJobsFilter, 'limit' | 'beforeSeq'>): string {
  let index = '';
  if (filter.ref !== undefined) index = 'INDEXED BY jobs_by_ref';
  else if (filter.kind !== undefined && filter.status !== undefined) index = 'INDEXED BY jobs_by_kind_status';
  else if (filter.kind !== undefined) index = 'INDEXED BY jobs_by_kind';
  else if (filter.status !== undefined) index = 'INDEXED BY jobs_by_status';
  // instr, not LIKE: no wildcard characters to escape, and byte-exact (case-sensitive) in every store.
  const terms = listFilterTerms(filter, (column) => `instr(${column}, @text) > 0`);
  return `SELECT * FROM jobs ${index} WHERE ${terms.join(' AND ')} ORDER BY seq DESC LIMIT @limit`;
}

export const CONSOLE_SQL = Object.freeze({
  // Row values compare lexicographically: (updated_at, seq) is a total order, so a page ends on an exact point.
  updatedAfter: `
    SELECT * FROM jobs INDEXED BY jobs_by_updated
    WHERE (updated_at, seq) > (@updated_at, @seq)
    ORDER BY updated_at, seq LIMIT @limit`,
  countAll: `SELECT kind, status, n AS count FROM job_counts WHERE n > 0`,
  // Integer division: the minute a job finished in, as the epoch ms of its start.
  finishedPerMinute: `
    SELECT kind, status, (finished_at / 60000) * 60000 AS minute, count(*) AS count
    FROM jobs INDEXED BY jobs_by_finished
    WHERE finished_at >= @since AND finished_at < @until AND status IN ('succeeded', 'failed', 'cancelled')
    GROUP BY kind, status, minute`,
  // Oban's retry_job is the model: at least one more attempt, attempts keep counting (the fence and the history
  // are keyed by attempt), the attempt history kept. What the last run left (error, result, progress) is cleared.
  retry: `
    UPDATE jobs SET status = 'pending', run_at = @now, max_attempts = max(max_attempts, attempts + 1), error = NULL,
           result = NULL, progress_done = NULL, progress_total = NULL, cancel_requested = 0, finished_at = NULL,
           updated_at = @now
    WHERE id = @id AND status IN ('failed', 'cancelled')
    RETURNING *`,
});
