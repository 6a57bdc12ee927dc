import type { ListJobsFilter } from './job-store.js';

/**
 * The WHERE terms of a filtered job list, with `@name` parameters, for any SQL store: the exact filters first (the
 * store reads the index of the most selective), then the cursor window and the checks made on the rows read.
 * `containsTerm(column)` is the store's byte-exact substring test of a JSON text column against `@text`.
 */
export function listFilterTerms(filter: Omit<ListJobsFilter, 'limit' | 'beforeSeq'>, containsTerm: (column: string) => string): string[] {
  const terms: string[] = [];
  if (filter.ref !== undefined) terms.push('ref = @ref');
  if (filter.kind !== undefined) terms.push('kind = @kind');
  if (filter.status !== undefined) terms.push('status = @status');
  if (filter.waiting !== undefined) terms.push(`${filter.waiting.scheduled ? '' : 'NOT '}(attempts = 0 AND run_at > @waiting_now)`);
  terms.push('seq < @before');
  if (filter.fromSeq !== undefined) terms.push('seq >= @from_seq');
  if (filter.createdAfter !== undefined) terms.push('created_at >= @created_after');
  if (filter.createdBefore !== undefined) terms.push('created_at < @created_before');
  if (filter.text !== undefined) terms.push(`(${containsTerm('payload')} OR ${containsTerm(`coalesce(result, '')`)})`);
  return terms;
}
