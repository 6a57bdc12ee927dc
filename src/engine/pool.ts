import { randomUUID } from 'node:crypto';
import { BroadcastChannel, type Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { workerModuleUrl } from '../runtime/single-executable.js';
import { HeapGuard, supportsHeapGuard, v8HeapLimitMb, YOUNG_GENERATION_MB } from './heap-guard.js';
import { abortedOutcome, fromRejection, fromReply, overHeapLimitOutcome } from './outcomes.js';
import type { JobError } from './job.js';
import type { FromWorkerMessage, TaskProgress, TaskReply, TaskRequest, ToWorkerMessage } from '../contracts/task-protocol.js';

export interface WorkerPoolOptions {
  threads: number;
  /** Heap limit of each worker thread, in MB (V8 old generation). */
  workerMemoryMb: number;
  /** How long a cooperative abort (ctx.signal) may take before the thread is terminated, in ms. */
  abortGraceMs: number;
  progressIntervalMs: number;
  /** Piscina's niceIncrement: lowers worker threads' scheduling priority so the event loop stays first in line. */
  niceIncrement?: number;
  /** A thread told to terminate that has not exited after this long counts as a zombie, in ms. Default 2000. */
  zombieAfterMs?: number;
  onError(err: unknown): void;
  /** A task gave back lent threads (see JobContext.keepThreads): there is room for more work. */
  onThreadsFreed?(): void;
}

export interface TaskSpec {
  moduleUrl: string;
  /** The codes this kind's tasks may fail with besides task_error (registered with the kind). */
  taskErrorCodes: ReadonlySet<string>;
  payload: unknown;
  jobId: string;
  attempt: number;
  dataDir: string;
  /** Threads the task may use, its own included (1 when absent); idle ones are lent up to this. */
  maxThreads?: number;
  /** Idle threads not to lend: jobs started right after this one need them. */
  keepIdle?: number;
  onProgress(progress: TaskProgress): void;
}

/** Why the engine stopped a task; decides what is written to the job. */
export type AbortReason = 'cancelled' | 'timeout' | 'shutdown' | 'lease_lost' | 'oom';

export type TaskOutcome =
  | { ok: true; value: unknown; progress: TaskProgress | null }
  | { ok: false; error: JobError; retryable: boolean; aborted: AbortReason | null; stack?: string | null };

export interface RunningTask {
  /** Settles once, with the outcome; never rejects. */
  readonly outcome: Promise<TaskOutcome>;
  /** Asks the task to stop (ctx.signal), then terminates its thread after the grace period. Idempotent. */
  abort(reason: AbortReason, graceMs?: number): void;
}

// CommonJS on purpose: Piscina loads its worker file with require() first, and on Node 20.19+ require() of an ES
// module loading in the same thread crashed the whole process (V8 fatal "IsGraphAsync must be used on an
// instantiated module"), seen once in a full test run. A .cjs runner never takes the require(esm) path.
const workerUrl = new URL('../../workers/runner.cjs', import.meta.url);

/** A healthy thread exits ~20 ms after terminate(); one still there after this is stuck in native code. */
const ZOMBIE_AFTER_MS = 2_000;

/** The `workerDestroy` argument of Piscina 5 (its PiscinaWorker, not exported by the package). */
interface PiscinaWorkerInfo {
  readonly id: number;
}

/** The Piscina pool, and the translation of everything it can report into a job outcome. */
export class WorkerPool {
  readonly #piscina: Piscina;
  readonly #options: WorkerPoolOptions;
  readonly #channel = new BroadcastChannel(`offload:${randomUUID()}`);
  readonly #progressListeners = new Map<string, (progress: TaskProgress) => void>();
  #busy = 0;
  /** Every thread Piscina started that has not emitted 'exit' yet, with when it was told to terminate. */
  readonly #threads = new Map<Worker, { terminatedAt: number | null }>();
  #destroyed = false;
  readonly #heapGuard: HeapGuard | undefined;
  /** Tasks whose thread is not known yet: told it by the runner's `started` message. */
  readonly #startListeners = new Map<string, (threadId: number) => void>();
  /** Tasks holding lent threads, by `jobId:attempt`: how to give back some of them. */
  readonly #keepListeners = new Map<string, (threads: number) => void>();

  constructor(options: WorkerPoolOptions) {
    this.#options = options;
    const guarded = supportsHeapGuard();
    this.#piscina = new Piscina({
      filename: workerModuleUrl(workerUrl).href,
      minThreads: options.threads,
      maxThreads: options.threads,
      concurrentTasksPerWorker: 1,
      // 'sync' lets a timer left by a finished task fire during the next, unrelated one, which is then rejected with
      // its error: the wrong job would be blamed.
      atomics: 'disabled',
      idleTimeout: Number.MAX_SAFE_INTEGER,
      resourceLimits: { maxOldGenerationSizeMb: v8HeapLimitMb(options.workerMemoryMb, guarded), maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
      ...(options.niceIncrement ? { niceIncrement: options.niceIncrement } : {}),
    });
    this.#heapGuard = guarded ? new HeapGuard(options.workerMemoryMb, () => this.#piscina.threads) : undefined;
    // Without a listener, one stray worker error crashes the whole process.
    this.#piscina.on('error', options.onError);
    // terminate() cannot stop a thread blocked in a native call (execFileSync, a long SQLite statement): Piscina
    // forgets it and starts a replacement at once, while the old thread lives on until the call returns.
    this.#piscina.on('workerCreate', () => {
      this.#trackThreads();
      // Piscina 5.3.2 takes the late 'exit' of such a thread after destroy() for a crash and starts a new thread in
      // the destroyed pool, which nothing would stop (piscinajs/piscina#430 fixed this only during destroy()).
      if (this.#destroyed) void this.#piscina.destroy();
    });
    this.#piscina.on('workerDestroy', (worker: PiscinaWorkerInfo) => {
      // Emitted after terminate() was called and before Piscina drops the thread from `threads`. A thread that
      // exited by itself (process.exit) already has threadId -1: nothing to wait for.
      this.#trackThreads();
      for (const [thread, state] of this.#threads) {
        if (thread.threadId === worker.id && state.terminatedAt === null) state.terminatedAt = Date.now();
      }
    });
    this.#channel.onmessage = (event) => {
      const message = (event as { data: FromWorkerMessage }).data;
      const key = `${message.jobId}:${message.attempt}`;
      if (message.type === 'progress') this.#progressListeners.get(key)?.({ done: message.done, total: message.total });
      else if (message.type === 'started') this.#startListeners.get(key)?.(message.threadId);
      else if (message.type === 'threads') this.#keepListeners.get(key)?.(message.threads);
    };
  }

  get threads(): number {
    return this.#options.threads;
  }

  get busy(): number {
    return this.#busy;
  }

  /**
   * Threads told to terminate that have not exited within zombieAfterMs: each still holds a core or memory
   * until its native call returns. One that exits at last is no longer counted.
   */
  get zombieThreads(): number {
    const since = Date.now() - (this.#options.zombieAfterMs ?? ZOMBIE_AFTER_MS);
    let zombies = 0;
    for (const { terminatedAt } of this.#threads.values()) if (terminatedAt !== null && terminatedAt <= since) zombies++;
    return zombies;
  }

  #trackThreads(): void {
    for (const thread of this.#piscina.threads) {
      if (this.#threads.has(thread) || thread.threadId === -1) continue;
      this.#threads.set(thread, { terminatedAt: null });
      thread.once('exit', () => this.#threads.delete(thread));
    }
  }

  run(spec: TaskSpec): RunningTask {
    const controller = new AbortController();
    const key = `${spec.jobId}:${spec.attempt}`;
    let abortReason: AbortReason | null = null;
    let hardAbortTimer: NodeJS.Timeout | undefined;
    let finished = false;

    // run() may resolve before every progress message arrived: the reply carries the final counts.
    this.#progressListeners.set(key, spec.onProgress);
    let usedMb: { heapMb: number; externalMb: number } | undefined;
    if (this.#heapGuard) {
      const guard = this.#heapGuard;
      this.#startListeners.set(key, (threadId) => {
        this.#startListeners.delete(key);
        if (!finished) guard.watch(key, { threadId, onOverLimit: (heapMb, externalMb) => ((usedMb = { heapMb, externalMb }), task.abort('oom', 0)) });
      });
    }
    // Lent threads stay idle in Piscina: the task runs its own helpers on them; counting them busy keeps the
    // dispatcher from claiming work for them meanwhile.
    let lent = Math.max(0, Math.min((spec.maxThreads ?? 1) - 1, this.#options.threads - this.#busy - 1 - (spec.keepIdle ?? 0)));
    const request: TaskRequest = {
      moduleUrl: spec.moduleUrl,
      payload: spec.payload,
      jobId: spec.jobId,
      attempt: spec.attempt,
      dataDir: spec.dataDir,
      threads: 1 + lent,
      channel: this.#channel.name,
      progressIntervalMs: this.#options.progressIntervalMs,
    };
    this.#busy += 1 + lent;
    if (lent > 0) {
      this.#keepListeners.set(key, (threads) => {
        const back = Math.min(lent, lent + 1 - threads);
        if (back <= 0 || finished) return;
        lent -= back;
        this.#busy -= back;
        this.#options.onThreadsFreed?.();
      });
    }
    const outcome = this.#piscina
      .run(request, { signal: controller.signal })
      .then(
        (reply: TaskReply): TaskOutcome => (abortReason ? this.#aborted(abortReason, usedMb) : fromReply(reply, spec.taskErrorCodes)),
        (err: unknown): TaskOutcome => (abortReason ? this.#aborted(abortReason, usedMb) : fromRejection(err, this.#options.workerMemoryMb)),
      )
      .finally(() => {
        finished = true;
        this.#busy -= 1 + lent;
        clearTimeout(hardAbortTimer);
        this.#progressListeners.delete(key);
        this.#startListeners.delete(key);
        this.#keepListeners.delete(key);
        this.#heapGuard?.unwatch(key);
      });

    const task: RunningTask = {
      outcome,
      abort: (reason, graceMs = this.#options.abortGraceMs) => {
        if (abortReason || finished) return;
        abortReason = reason;
        this.#channel.postMessage({ type: 'abort', reason, jobId: spec.jobId, attempt: spec.attempt } satisfies ToWorkerMessage);
        if (graceMs <= 0) controller.abort(reason);
        else hardAbortTimer = setTimeout(() => controller.abort(reason), graceMs);
      },
    };
    return task;
  }

  #aborted(reason: AbortReason, usedMb: { heapMb: number; externalMb: number } | undefined): TaskOutcome {
    return reason === 'oom' ? overHeapLimitOutcome(this.#options.workerMemoryMb, usedMb) : abortedOutcome(reason);
  }


  async destroy(): Promise<void> {
    this.#destroyed = true;
    this.#heapGuard?.stop();
    this.#channel.close();
    await this.#piscina.destroy();
  }
}
