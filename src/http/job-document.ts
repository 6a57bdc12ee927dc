import { engineNow } from '../engine/clock.js';
import { displayStatus, type Job } from '../engine/job.js';
import type { AttemptRecord } from '../engine/job-store.js';
import type { JobDocument } from './schemas.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The API's view of a job: the job document of every job route; with its attempts, for the one-job GETs. */
export function toJobDocument(job: Job, attempts?: readonly AttemptRecord[]): JobDocument {
  const progress =
    job.progressDone === null
      ? null
      : {
          done: job.progressDone,
          total: job.progressTotal,
          percent: job.progressTotal ? Math.round((job.progressDone / job.progressTotal) * 1000) / 10 : null,
        };
  const waitingForRetry = job.status === 'pending' && (job.attempts > 0 || job.runAt > job.createdAt);
  return {
    job_id: job.id,
    kind: job.kind,
    status: displayStatus(job, engineNow()),
    progress,
    attempts: job.attempts,
    max_attempts: job.maxAttempts,
    next_run_at: waitingForRetry ? iso(job.runAt) : null,
    priority: job.priority,
    timeout_ms: job.timeoutMs,
    error: job.error,
    result: job.result,
    payload: job.payload,
    created_at: iso(job.createdAt)!,
    started_at: iso(job.startedAt),
    finished_at: iso(job.finishedAt),
    ...(attempts === undefined
      ? {}
      : {
          attempt_history: attempts.map((a) => ({
            attempt: a.attempt,
            outcome: a.outcome,
            error: a.error,
            owner: a.owner,
            started_at: iso(a.startedAt),
            ended_at: iso(a.endedAt)!,
          })),
        }),
  };
}

/** The job document without payload, result and attempt history: what the event feed sends for each change. */
export function toJobSummary(job: Job): Omit<JobDocument, 'payload' | 'result' | 'attempt_history'> {
  const { payload: _payload, result: _result, ...summary } = toJobDocument(job);
  return summary;
}
