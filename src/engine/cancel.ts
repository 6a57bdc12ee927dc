import { engineNow } from './clock.js';
import type { CancelResult } from './engine-types.js';
import { isTerminal, type Job } from './job.js';
import type { JobStore } from './job-store.js';

export interface CancelDeps {
  store: JobStore;
  /** Aborts the job's attempt if this process runs it; resolves after its outcome is written. */
  abortHere(jobId: string): Promise<boolean>;
  onChange(job: Job): void;
  onFinished(job: Job): void;
}

/**
 * A pending job is cancelled by one conditional write; a running one here is aborted; one running elsewhere is
 * flagged for its owner (whose heartbeat stops it, or whose recovery ends it cancelled). Each step re-reads the
 * row: the job may have been claimed, finished or recovered in between.
 */
export async function cancelJob(id: string, deps: CancelDeps): Promise<CancelResult | undefined> {
  const { store } = deps;
  for (;;) {
    const job = await store.get(id);
    if (!job) return undefined;
    if (isTerminal(job.status)) return { state: 'already_finished', job };
    const now = engineNow();
    if (job.status === 'pending') {
      const cancelled = await store.cancelPending(id, { code: 'cancelled', message: 'The job was cancelled before it started.' }, now);
      if (cancelled) {
        deps.onChange(cancelled);
        deps.onFinished(cancelled);
        return { state: 'cancelled', job: cancelled };
      }
      continue; // claimed meanwhile: cancel it as a running job
    }
    if (await deps.abortHere(id)) {
      const after = (await store.get(id))!;
      // The attempt may have finished on its own before the abort reached it: then there was nothing to cancel.
      if (after.status === 'cancelled') return { state: 'cancelled', job: after };
      return isTerminal(after.status) ? { state: 'already_finished', job: after } : { state: 'cancel_requested', job: after };
    }
    const flagged = await store.requestCancel(id, now);
    if (flagged) {
      deps.onChange(flagged);
      return { state: 'cancel_requested', job: flagged };
    }
  }
}
