import { Worker } from 'node:worker_threads';

/**
 * How the heap limit a user asked for (--worker-memory-mb) is kept on every Node line. V8's own limit
 * (`resourceLimits.maxOldGenerationSizeMb`) ends in ERR_WORKER_OUT_OF_MEMORY only at best: depending on the shape
 * of the allocation, reaching it can abort the whole process instead (nodejs/node#47224; on Node 24 the oom
 * fixture did in 7 of 8 runs). So where the parent thread can read a worker's heap (`worker.getHeapStatistics()`,
 * Node ≥ 22), V8's limit is set above the user's and a guard samples each busy thread's heap, terminating the
 * task's thread once it passes the user's limit — well before V8's fatal path. A spike faster than the sampling
 * can still reach V8's limit; the poison rule (`crashed`) is what catches a process that dies of it.
 */
export const HEAP_SAMPLE_MS = 25;

export function supportsHeapGuard(): boolean {
  return typeof (Worker.prototype as { getHeapStatistics?: unknown }).getHeapStatistics === 'function';
}

/** V8's limit for a thread whose guarded limit is `limitMb`: room for the guard to act before V8 does. */
export function v8HeapLimitMb(limitMb: number, guarded: boolean): number {
  return guarded ? Math.max(limitMb * 2, limitMb + 256) : limitMb;
}

export interface GuardedTask {
  threadId: number;
  /** Called once, when the thread's heap passed the limit. */
  onOverLimit(usedMb: number): void;
}

/** Samples the heap of every thread running a guarded task while there is one. */
export class HeapGuard {
  readonly #limitBytes: number;
  readonly #threads: () => readonly Worker[];
  readonly #tasks = new Map<string, GuardedTask>();
  #timer: NodeJS.Timeout | undefined;
  #sampling = false;

  constructor(limitMb: number, threads: () => readonly Worker[]) {
    this.#limitBytes = limitMb * 1024 * 1024;
    this.#threads = threads;
  }

  watch(key: string, task: GuardedTask): void {
    this.#tasks.set(key, task);
    if (!this.#timer) {
      this.#timer = setInterval(() => void this.#sample(), HEAP_SAMPLE_MS);
      this.#timer.unref();
    }
  }

  unwatch(key: string): void {
    this.#tasks.delete(key);
    if (this.#tasks.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  async #sample(): Promise<void> {
    if (this.#sampling) return;
    this.#sampling = true;
    try {
      const byThread = new Map(this.#threads().map((worker) => [worker.threadId, worker]));
      await Promise.all(
        [...this.#tasks].map(async ([key, task]) => {
          const worker = byThread.get(task.threadId) as (Worker & { getHeapStatistics?: () => Promise<{ used_heap_size: number }> }) | undefined;
          if (!worker?.getHeapStatistics) return;
          const { used_heap_size: used } = await worker.getHeapStatistics().catch(() => ({ used_heap_size: 0 }));
          if (used > this.#limitBytes && this.#tasks.get(key) === task) {
            this.#tasks.delete(key);
            task.onOverLimit(Math.round(used / (1024 * 1024)));
          }
        }),
      );
    } finally {
      this.#sampling = false;
    }
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#tasks.clear();
  }
}
