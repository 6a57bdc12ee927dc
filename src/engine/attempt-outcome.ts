// How the one outcome of an attempt is written: what each way a task can end becomes in the store, written again
// until the store takes it, then logged and reported.
import type { Logger } from 'pino';
import { computeBackoffMs, type BackoffOptions } from './backoff.js';
import { engineNow } from './clock.js';
import type { Fence, Job, JobError } from './job.js';
import type { JobStore } from './job-store.js';
import type { TaskOutcome } from './pool.js';

export interface AttemptReport {
  job: Job;
  outcome: TaskOutcome;
  durationMs: number;
  /** Time from when the job could first run (run_at) to when this attempt started. */
  waitMs: number;
}

export interface OutcomeWriterOptions {
  store: JobStore;
  backoff: BackoffOptions;
  logger: Logger;
  onChange(job: Job): void;
  onAttemptEnd(report: AttemptReport): void;
  /** True once the shutdown grace is over: outcome writes still failing are given up (the lease then expires). */
  isGivingUp(): boolean;
}

/** How long to wait before writing an outcome again after the store refused it: doubling, capped. */
const OUTCOME_RETRY_FIRST_MS = 100;
const OUTCOME_RETRY_MAX_MS = 5_000;

/** The fields of every log line about one attempt. */
export function attemptFields(job: Job, fence: Fence): { job_id: string; kind: string; attempt: number } {
  return { job_id: job.id, kind: job.kind, attempt: fence.attempt };
}

/**
 * Runs `write` until the store takes it. A failure here is the database's (locked past its busy timeout, disk
 * full, I/O error), not the job's: dropping the outcome would leave the row `running` under a live owner.
 */
async function persist<T>(write: () => Promise<T>, options: OutcomeWriterOptions, fields: object): Promise<T> {
  for (let delay = OUTCOME_RETRY_FIRST_MS; ; delay = Math.min(delay * 2, OUTCOME_RETRY_MAX_MS)) {
    try {
      return await write();
    } catch (err) {
      if (options.isGivingUp()) throw err;
      options.logger.warn({ ...fields, err, retry_in_ms: delay }, 'writing the outcome of the job failed; trying again');
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/**
 * Writes the outcome of attempt `fence` of `job` (as claimed), which ran for `durationMs` (0 if it never started:
 * cancelled or released while it waited for a thread).
 */
export async function recordOutcome(options: OutcomeWriterOptions, job: Job, fence: Fence, outcome: TaskOutcome, durationMs: number): Promise<void> {
  const { store, backoff, logger } = options;
  const fields = attemptFields(job, fence);
  let saved: Job | undefined;
  if (outcome.ok) {
    saved = await persist(() => store.complete(fence, outcome.value, engineNow(), outcome.progress), options, fields);
  } else if (outcome.aborted === 'shutdown') {
    saved = await persist(() => store.release(fence, engineNow()), options, fields);
  } else if (outcome.aborted === 'lease_lost') {
    logger.warn({ ...fields, duration_ms: durationMs }, 'job abandoned: another process took it over after its lease expired');
    return;
  } else {
    const error: JobError = {
      ...outcome.error,
      details: {
        ...outcome.error.details,
        attempt: fence.attempt,
        duration_ms: durationMs,
        ...(outcome.aborted === 'timeout' ? { timeout_ms: job.timeoutMs } : {}),
      },
    };
    const retry = outcome.retryable && fence.attempt < job.maxAttempts;
    const retryInMs = computeBackoffMs(fence.attempt, backoff);
    saved = await persist(() => {
      const now = engineNow();
      return store.endAttempt(
        fence,
        retry ? { status: 'pending', error, runAt: now + retryInMs } : { status: outcome.aborted === 'cancelled' ? 'cancelled' : 'failed', error },
        now,
      );
    }, options, fields);
  }
  if (!saved) {
    logger.warn({ ...fields, duration_ms: durationMs }, 'outcome discarded: the job was taken over after its lease expired');
    return;
  }
  if (outcome.ok || outcome.aborted === 'shutdown' || outcome.aborted === 'cancelled') {
    logger.info({ ...fields, status: saved.status, error_code: saved.error?.code, duration_ms: durationMs }, 'job attempt ended');
  } else {
    // A failed attempt is what an operator looks for: its message and stack at warn, beside the job id.
    const { code, message } = outcome.error;
    logger.warn({ ...fields, status: saved.status, error_code: code, error_message: message, stack: outcome.stack ?? undefined, duration_ms: durationMs }, 'job attempt ended');
  }
  options.onChange(saved);
  options.onAttemptEnd({ job: saved, outcome, durationMs, waitMs: Math.max(0, (job.startedAt ?? saved.updatedAt) - job.runAt) });
}
