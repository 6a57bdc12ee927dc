// What a worker module's default export receives and returns: the contract between the engine and every job
// kind, the built-in ones included.

export interface JobContext {
  /** Aborted when the job is cancelled, times out or the engine shuts down; the thread is terminated soon after. */
  signal: AbortSignal;
  /** Reports progress; cheap to call often (throttled before it crosses threads). */
  progress(done: number, total?: number): void;
  jobId: string;
  attempt: number;
  dataDir: string;
  /**
   * Threads this attempt may keep busy, its own included: 1 unless its kind was registered with `maxThreads` and
   * the pool had idle threads when it started, which stay counted busy (lent to it) until it ends or gives them
   * back with keepThreads.
   */
  threads?: number;
  /** Gives back the lent threads beyond `threads` (at least 1, its own), for other jobs; once is enough. */
  keepThreads?(threads: number): void;
}

export type JobHandler = (payload: any, ctx: JobContext) => unknown | Promise<unknown>;
