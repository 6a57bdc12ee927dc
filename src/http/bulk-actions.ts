import type { Engine } from '../engine/engine.js';
import type { DisplayStatus, Job } from '../engine/job.js';
import { IMPORT_KIND } from '../contracts/import-contract.js';
import { toListRequest, type BulkActionResult, type JobFilter } from './console-schemas.js';

export type BulkAction = 'cancel' | 'retry';

/**
 * The statuses an action applies to, as displayed (scheduled and pending split the pending jobs): a status filter
 * narrows them, and one outside them matches nothing.
 */
const APPLIES_TO: Record<BulkAction, readonly DisplayStatus[]> = { cancel: ['scheduled', 'pending', 'running'], retry: ['failed', 'cancelled'] };
/** Pages read at most per call (each one index range, or one window of a scan). */
const PAGES_AT_MOST = 200;
const PAGE_SIZE = 100;
/** Cancels in flight at once: each of a running job waits for its thread to stop. */
const PARALLEL = 16;

/** Whether a job may run again through the API: an import's upload is gone once it ended, so it cannot. */
export function canRunAgain(job: Job): boolean {
  return job.kind !== IMPORT_KIND;
}

/**
 * Cancels, or runs again, the jobs matching `filter`, up to `limit` of them: each status the action applies to is
 * listed on its own (an index range each), page by page, and each job changed by the engine as one request would.
 */
export async function applyBulkAction(engine: Engine, action: BulkAction, filter: JobFilter & { limit: number }): Promise<BulkActionResult> {
  const statuses = APPLIES_TO[action].filter((status) => filter.status === undefined || filter.status === status);
  const result: BulkActionResult = { changed: 0, unchanged: 0, job_ids: [], more: false };
  let pages = 0;
  for (const status of statuses) {
    let cursor: string | undefined;
    do {
      if (result.changed >= filter.limit || ++pages > PAGES_AT_MOST) {
        result.more = true;
        return result;
      }
      const page = await engine.list({ ...toListRequest(filter), status, limit: PAGE_SIZE, cursor });
      const jobs = page.jobs.slice(0, filter.limit - result.changed);
      if (jobs.length < page.jobs.length) result.more = true;
      for (let i = 0; i < jobs.length; i += PARALLEL) {
        const outcomes = await Promise.all(jobs.slice(i, i + PARALLEL).map((job) => changeOne(engine, action, job)));
        outcomes.forEach((changed, j) => {
          if (changed) {
            result.changed++;
            result.job_ids.push(jobs[i + j]!.id);
          } else result.unchanged++;
        });
      }
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }
  return result;
}

async function changeOne(engine: Engine, action: BulkAction, job: Job): Promise<boolean> {
  if (action === 'cancel') {
    const outcome = await engine.cancel(job.id);
    return outcome !== undefined && outcome.state !== 'already_finished';
  }
  if (!canRunAgain(job)) return false;
  return (await engine.retry(job.id))?.state === 'retried';
}
