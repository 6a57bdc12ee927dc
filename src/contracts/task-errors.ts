// How a task says why it failed. An error with `code` set to one of the codes its kind was registered with is
// written with that code; `retryable: true` asks the engine for a retry; anything else is a `task_error`.

/** The validation codes of the dataset kinds (import and export). */
export const DATASET_TASK_ERROR_CODES = ['dataset_not_found', 'invalid_payload', 'unsupported_format', 'record_too_large'] as const;
export type DatasetTaskErrorCode = (typeof DATASET_TASK_ERROR_CODES)[number];

export type TaskError = Error & { code: string };

export function createTaskError<Code extends string>(code: Code, message: string, options?: { cause?: unknown }): Error & { code: Code } {
  return Object.assign(new Error(message, options), { code });
}

/** What a job throws when it stops because its signal was aborted; the engine already knows why. */
export function createAbortError(signal: AbortSignal): Error {
  const error = new Error(`the job was aborted (${String(signal.reason)})`, { cause: signal.reason });
  error.name = 'AbortError';
  return error;
}
