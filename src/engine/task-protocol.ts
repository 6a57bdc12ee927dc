// Messages that cross the thread boundary between the dispatcher (main thread) and workers/runner.ts.
import type { MessagePort } from 'node:worker_threads';

export interface TaskRequest {
  moduleUrl: string;
  payload: unknown;
  jobId: string;
  attempt: number;
  dataDir: string;
  /** Carries progress to the main thread and the cooperative abort request to the worker. */
  port: MessagePort;
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

export type ToWorkerMessage = { type: 'abort'; reason: string };
export type FromWorkerMessage = { type: 'progress' } & TaskProgress;
