// Messages that cross the thread boundary between the dispatcher (main thread) and workers/runner.cts.

export interface TaskRequest {
  moduleUrl: string;
  payload: unknown;
  jobId: string;
  attempt: number;
  dataDir: string;
  /** See JobContext.threads. */
  threads?: number;
  /**
   * Name of the pool's BroadcastChannel: progress goes to the main thread and abort requests to the workers on
   * it. One channel per pool, not a MessageChannel per task: creating and transferring a port for every task
   * cost about a fifth of the main thread's time per no-op job.
   */
  channel: string;
  progressIntervalMs: number;
}

export interface SerializedTaskError {
  name: string;
  message: string;
  /** A job error code the task chose (e.g. `dataset_not_found`), or the error's own `code` property. */
  code: string | null;
  retryable: boolean;
  stack: string | null;
}

export interface TaskProgress {
  done: number;
  total: number | null;
}

/**
 * The runner always resolves with one of these: Piscina drops custom properties of thrown errors, so a task
 * failure travels as a value, and any rejection of `pool.run()` means the thread itself failed.
 */
export type TaskReply =
  | { ok: true; value: unknown; progress: TaskProgress | null }
  | { ok: false; error: SerializedTaskError; progress: TaskProgress | null };

/** Messages name their attempt: a channel is shared by every task of the pool. */
export interface AttemptRef {
  jobId: string;
  attempt: number;
}
export type ToWorkerMessage = { type: 'abort'; reason: string } & AttemptRef;
export type FromWorkerMessage =
  | ({ type: 'progress' } & AttemptRef & TaskProgress)
  /** Sent as a task starts: which thread runs it, so that the main thread can watch that thread's heap. */
  | ({ type: 'started'; threadId: number } & AttemptRef)
  /** The task keeps only this many of the threads it was given (JobContext.keepThreads); the rest go back. */
  | ({ type: 'threads'; threads: number } & AttemptRef);
