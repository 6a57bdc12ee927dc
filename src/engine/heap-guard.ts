import { Worker } from 'node:worker_threads';

/**
 * How the heap limit a user asked for (--worker-memory-mb) is kept on every Node line. V8's own limit
 * (`resourceLimits.maxOldGenerationSizeMb`) ends in ERR_WORKER_OUT_OF_MEMORY only at best: depending on the shape
 * of the allocation, reaching it can abort the whole process instead (nodejs/node#47224; on Node 24 the oom
 * fixture did in 7 of 8 runs). So where the parent thread can read a worker's heap (`worker.getHeapStatistics()`,
 * Node ≥ 22), V8's limit is set above the user's and a guard samples each busy thread's heap, terminating the
 * task's thread once its heap passes the user's limit — well before V8's fatal path — or its external memory
 * (Buffers, ArrayBuffers, which V8's limit does not bound) passes EXTERNAL_FACTOR times it. A spike faster than the sampling can still reach V8's
 * limit, or the machine's; the poison rule (`crashed`) is what catches a process that dies of it.
 */
export const HEAP_SAMPLE_MS = 25;

/**
 * The young generation of every worker, MB. Node's defaults differ by line (48 MB on 20 and 22, 192 MB on 24,
 * 96 MB on 26) and Node gives a thread only 16 MB of room past its limit before V8's fatal path (kExtraHeapAllowance
 * in src/node_worker.cc): a scavenge promoting more than that at once aborted the process. With 16 MB: no abort in
 * 663 trials across Node 20/22/24/26, seven allocation patterns, limits of 64/256/512 MB; it also stops the
 * JSON.parse case the guard cannot see (a long native call answers no sample). Cost measured on a JSON.stringify
 * loop: ~0 % on 22, +22 % on 24, +42 % on 26.
 */
export const YOUNG_GENERATION_MB = 16;
/** Memory outside the V8 heap may reach this many times the limit. */
export const EXTERNAL_FACTOR = 4;
const MB = 1024 * 1024;

export function supportsHeapGuard(): boolean {
  return typeof (Worker.prototype as { getHeapStatistics?: unknown }).getHeapStatistics === 'function';
}

/** V8's limit for a thread whose guarded limit is `limitMb`: room for the guard to act before V8 does. */
export function v8HeapLimitMb(limitMb: number, guarded: boolean): number {
  return guarded ? Math.max(limitMb * 2, limitMb + 256) : limitMb;
}

interface HeapUse {
  used_heap_size: number;
  external_memory?: number;
}

export interface GuardedTask {
  threadId: number;
  /** Called once, when the thread's heap (or its external memory) passed its limit. */
  onOverLimit(heapMb: number, externalMb: number): void;
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
          const worker = byThread.get(task.threadId) as (Worker & { getHeapStatistics?: () => Promise<HeapUse> }) | undefined;
          if (!worker?.getHeapStatistics) return;
          const stats = await worker.getHeapStatistics().catch((): HeapUse => ({ used_heap_size: 0, external_memory: 0 }));
          // External memory too (Buffers, ArrayBuffers): V8's limit does not bound it, and a 2 GiB Buffer is one call.
          // Its own, looser cap: Buffers are freed only by a GC, so streaming code holds several times its live data.
          const heap = stats.used_heap_size;
          const external = stats.external_memory ?? 0;
          if ((heap > this.#limitBytes || external > this.#limitBytes * EXTERNAL_FACTOR) && this.#tasks.get(key) === task) {
            this.#tasks.delete(key);
            task.onOverLimit(Math.round(heap / MB), Math.round(external / MB));
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
