import type { Logger } from 'pino';
import { computeBackoffMs, type BackoffOptions } from './backoff.js';
import type { Fence, Job, JobError, RegisteredKind } from './job.js';
import type { JobStore } from './job-store.js';
import type { AbortReason, RunningTask, TaskOutcome, WorkerPool } from './pool.js';

export interface AttemptReport {
  job: Job;
  outcome: TaskOutcome;
  durationMs: number;
  /** Time from when the job could first run (run_at) to when this attempt started. */
  waitMs: number;
}

export interface DispatcherOptions {
  store: JobStore;
  pool: WorkerPool;
  owner: string;
  leaseMs: number;
  dataDir: string;
  /** Read at each claim, so kinds registered later are picked up. */
  kinds: { get(kind: string): RegisteredKind | undefined; names(): string[] };
  backoff: BackoffOptions;
  /** How often to look for work that this process was not told about (other processes, run_at reached). */
  pollIntervalMs: number;
  logger: Logger;
  onChange(job: Job): void;
  onAttemptEnd(report: AttemptReport): void;
}

interface Attempt {
  job: Job;
  fence: Fence;
  task: RunningTask;
  startedAt: number;
  /** Settles after the attempt's one outcome has been written (or discarded by the fence). */
  settled: Promise<void>;
}

/**
 * Claims pending jobs only while a thread is free, runs each on the pool, and writes exactly one outcome per
 * attempt: every claimed job leaves `running` through complete, endAttempt or release — or, if its lease was
 * taken over meanwhile, through the process that took it.
 */
export class Dispatcher {
  readonly #options: DispatcherOptions;
  readonly #running = new Map<string, Attempt>();
  #claiming = false;
  #claimAgain = false;
  #stopped = false;
  #pollTimer: NodeJS.Timeout | undefined;

  constructor(options: DispatcherOptions) {
    this.#options = options;
  }

  runningJobIds(): string[] {
    return [...this.#running.keys()];
  }

  /** Looks for work now. Cheap to call often: calls made while a claim is under way fold into one more round. */
  wake(): void {
    if (this.#stopped) return;
    if (this.#claiming) {
      this.#claimAgain = true;
      return;
    }
    void this.#claimRounds();
  }

  /** Aborts a running attempt; resolves once its outcome is written. False if this process does not run it. */
  async abort(jobId: string, reason: AbortReason, graceMs?: number): Promise<boolean> {
    const attempt = this.#running.get(jobId);
    if (!attempt) return false;
    attempt.task.abort(reason, graceMs);
    await attempt.settled;
    return true;
  }

  /**
   * Stops claiming, lets running attempts finish for up to `graceMs`, then terminates the rest and puts them
   * back to pending without counting the attempt.
   */
  async drain(graceMs: number): Promise<{ finished: number; released: number }> {
    this.#stopped = true;
    clearTimeout(this.#pollTimer);
    const all = () => Promise.all([...this.#running.values()].map((a) => a.settled));
    const before = this.#running.size;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all(), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    const released = this.#running.size;
    for (const attempt of this.#running.values()) attempt.task.abort('shutdown', 0);
    await all();
    return { finished: before - released, released };
  }

  async #claimRounds(): Promise<void> {
    const { store, pool, owner, leaseMs, kinds } = this.#options;
    this.#claiming = true;
    try {
      do {
        this.#claimAgain = false;
        const free = pool.threads - pool.busy;
        if (this.#stopped || free <= 0) break;
        const now = Date.now();
        const jobs = await store.claim({ owner, kinds: kinds.names(), limit: free, now, leaseMs });
        for (const job of jobs) this.#start(job);
        if (jobs.length < free) await this.#schedulePoll(now);
      } while (this.#claimAgain);
    } catch (err) {
      this.#options.logger.error({ err }, 'claiming jobs failed; will try again');
      this.#schedulePollIn(this.#options.pollIntervalMs);
    } finally {
      this.#claiming = false;
    }
  }

  /** Wakes at the next due run_at, or after the poll interval, whichever is first. */
  async #schedulePoll(now: number): Promise<void> {
    const next = await this.#options.store.nextRunAt(this.#options.kinds.names());
    const untilDue = next === undefined ? Infinity : Math.max(1, next - now);
    this.#schedulePollIn(Math.min(untilDue, this.#options.pollIntervalMs));
  }

  #schedulePollIn(delayMs: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#pollTimer);
    this.#pollTimer = setTimeout(() => this.wake(), delayMs);
    this.#pollTimer.unref();
  }

  #start(job: Job): void {
    const { pool, owner, dataDir, kinds, logger } = this.#options;
    const fence: Fence = { id: job.id, owner, attempt: job.attempts };
    const log = logger.child({ job_id: job.id, kind: job.kind, attempt: job.attempts });
    const kind = kinds.get(job.kind)!;
    const task = pool.run({
      moduleUrl: kind.moduleUrl,
      taskErrorCodes: kind.taskErrorCodes,
      payload: job.payload,
      jobId: job.id,
      attempt: job.attempts,
      dataDir,
      onProgress: ({ done, total }) => void this.#saveProgress(fence, done, total),
    });
    // Ref'd on purpose: the process must not exit while a job still waits for its timeout.
    const timeout = job.timeoutMs ? setTimeout(() => task.abort('timeout', 0), job.timeoutMs) : undefined;
    const attempt: Attempt = { job, fence, task, startedAt: performance.now(), settled: Promise.resolve() };
    attempt.settled = task.outcome
      .then((outcome) => {
        // The thread is free now: claim its next job in the same commit as this outcome.
        this.wake();
        return this.#recordOutcome(attempt, outcome, log);
      })
      .catch((err) => log.error({ err }, 'writing the outcome of the job failed; its lease will expire and recovery takes it'))
      .finally(() => {
        clearTimeout(timeout);
        this.#running.delete(job.id);
        this.wake();
      });
    this.#running.set(job.id, attempt);
    log.info({ wait_ms: Math.max(0, (job.startedAt ?? Date.now()) - job.runAt) }, 'job started');
    this.#options.onChange(job);
  }

  async #saveProgress(fence: Fence, done: number, total: number | null): Promise<void> {
    try {
      const job = await this.#options.store.saveProgress(fence, done, total, Date.now());
      if (job) this.#options.onChange(job);
    } catch (err) {
      this.#options.logger.warn({ err, job_id: fence.id }, 'saving progress failed');
    }
  }

  async #recordOutcome(attempt: Attempt, outcome: TaskOutcome, log: Logger): Promise<void> {
    const { store, backoff } = this.#options;
    const { job, fence } = attempt;
    const durationMs = Math.round(performance.now() - attempt.startedAt);
    const now = Date.now();
    let saved: Job | undefined;
    if (outcome.ok) {
      saved = await store.complete(fence, outcome.value, now, outcome.progress);
    } else if (outcome.aborted === 'shutdown') {
      saved = await store.release(fence, now);
    } else if (outcome.aborted === 'lease_lost') {
      log.warn({ duration_ms: durationMs }, 'job abandoned: another process took it over after its lease expired');
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
      saved = await store.endAttempt(
        fence,
        retry
          ? { status: 'pending', error, runAt: now + computeBackoffMs(fence.attempt, backoff) }
          : { status: outcome.aborted === 'cancelled' ? 'cancelled' : 'failed', error },
        now,
      );
      if (outcome.stack) log.debug({ stack: outcome.stack }, 'job error stack');
    }
    if (!saved) {
      log.warn({ duration_ms: durationMs }, 'outcome discarded: the job was taken over after its lease expired');
      return;
    }
    log.info(
      { status: saved.status, error_code: saved.status === 'succeeded' ? undefined : saved.error?.code, duration_ms: durationMs },
      'job attempt ended',
    );
    this.#options.onChange(saved);
    this.#options.onAttemptEnd({ job: saved, outcome, durationMs, waitMs: Math.max(0, (job.startedAt ?? now) - job.runAt) });
  }
}
