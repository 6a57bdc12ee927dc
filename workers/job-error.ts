import type { JobErrorCode } from '../src/engine/job.js';

/** The codes a worker module may choose for its failure; the runner forwards `code`, anything else is a task_error. */
export type TaskErrorCode = Extract<JobErrorCode, 'dataset_not_found' | 'invalid_payload' | 'unsupported_format' | 'record_too_large'>;

export type TaskError = Error & { code: TaskErrorCode };

export function createTaskError(code: TaskErrorCode, message: string, options?: { cause?: unknown }): TaskError {
  return Object.assign(new Error(message, options), { code });
}

/** What a job throws when it stops because its signal was aborted; the engine already knows why. */
export function createAbortError(signal: AbortSignal): Error {
  const error = new Error(`the job was aborted (${String(signal.reason)})`, { cause: signal.reason });
  error.name = 'AbortError';
  return error;
}
