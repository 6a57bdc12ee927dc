import type { ListJobsRequest } from './engine-types.js';
import type { Job } from './job.js';
import type { JobStore } from './job-store.js';
import { engineNow } from './clock.js';
import { decodeListCursor, encodeListCursor } from './list-cursor.js';

/**
 * How many positions of creation order (seq) one page of a filtered list examines at most when it filters on
 * something no index orders (creation time, text): the index range of its kind, status or ref within that window.
 */
export const SCAN_WINDOW = 10_000;

/**
 * One page of jobs, newest first. Filters on kind, status and ref read their index from the cursor on, and a page
 * is full unless the list ended. With createdAfter, createdBefore or text, a page examines one window of
 * SCAN_WINDOW positions below the cursor and returns the matches in it (up to `limit`): it may hold fewer, even
 * none, and still have a next cursor — the position where the window ended — so that no request reads more than
 * the window, however rare the matches.
 */
export async function listJobs(store: JobStore, request: ListJobsRequest): Promise<{ jobs: Job[]; nextCursor: string | null }> {
  const limit = request.limit ?? 50;
  const beforeSeq = request.cursor === undefined ? undefined : decodeListCursor(request.cursor);
  const { kind, ref, createdAfter, createdBefore, text } = request;
  const status = request.status === 'scheduled' ? 'pending' : request.status;
  const waiting = status === 'pending' ? { scheduled: request.status === 'scheduled', now: engineNow() } : undefined;
  const filter = { kind, status, waiting, ref, createdAfter, createdBefore, text, limit: limit + 1 };
  const scans = createdAfter !== undefined || createdBefore !== undefined || text !== undefined;
  let fromSeq: number | undefined;
  let top = beforeSeq;
  if (scans) {
    // Without a cursor the window starts just above the newest job (one read of the primary key's end).
    top ??= ((await store.list({ limit: 1 }))[0]?.seq ?? 0) + 1;
    fromSeq = Math.max(1, top - SCAN_WINDOW);
  }
  const rows = await store.list({ ...filter, beforeSeq: top, fromSeq });
  const jobs = rows.slice(0, limit);
  if (rows.length > limit) return { jobs, nextCursor: encodeListCursor(jobs[jobs.length - 1]!.seq) };
  return { jobs, nextCursor: fromSeq !== undefined && fromSeq > 1 ? encodeListCursor(fromSeq) : null };
}
