import { engineNow } from './clock.js';
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

/** How long to wait before writing an outcome again after the store refused it: doubling, capped. */
const OUTCOME_RETRY_FIRST_MS = 100;
const OUTCOME_RETRY_MAX_MS = 5_000;

const attemptKey = (fence: Fence) => `${fence.id}:${fence.attempt}`;

/**
 * Claims pending jobs only while a thread is free, runs each on the pool, and writes exactly one outcome per
 * attempt: every claimed job leaves `running` through complete, endAttempt or release — or, if its lease was
 * taken over meanwhile, through the process that took it. An outcome the store refuses (locked, full) is written
 * again until it lands; until then the attempt stays tracked, so its lease stays renewed and nobody re-runs it.
 */
export class Dispatcher {
  readonly #options: DispatcherOptions;
  /** By `id:attempt`: a job re-claimed here while an older attempt of it still winds down is another entry. */
  readonly #running = new Map<string, Attempt>();
  #claiming = false;
  #claimAgain = false;
  #claimRound: Promise<void> = Promise.resolve();
  #claimsInFlight = 0;
  #claimsStarted = 0;
  #stopped = false;
  /** Set once the shutdown grace is over: outcome writes still failing are given up (the lease then expires). */
  #givingUp = false;
  #pollTimer: NodeJS.Timeout | undefined;

  constructor(options: DispatcherOptions) {
    this.#options = options;
  }

  /** The attempts this process runs (or is still writing the outcome of): only their leases are renewed. */
  runningFences(): Fence[] {
    return [...this.#running.values()].map((attempt) => attempt.fence);
  }

  runningJobIds(): string[] {
    return [...new Set(this.runningFences().map((fence) => fence.id))];
  }

  /** A claim committed but not yet tracked may exist: own rows must not be taken for orphans meanwhile. */
  get hasClaimInFlight(): boolean {
    return this.#claimsInFlight > 0;
  }

  /** Claims started so far (see LeaseKeeperOptions.claimsStarted). */
  get claimsStarted(): number {
    return this.#claimsStarted;
  }

  /** Looks for work now. Cheap to call often: calls made while a claim is under way fold into one more round. */
  wake(): void {
    if (this.#stopped) return;
    if (this.#claiming) {
      this.#claimAgain = true;
      return;
    }
    this.#claimRound = this.#claimRounds();
  }

  /** Aborts the job's running attempts; resolves once their outcomes are written. False if none runs here. */
  async abort(jobId: string, reason: AbortReason, graceMs?: number): Promise<boolean> {
    const attempts = [...this.#running.values()].filter((attempt) => attempt.fence.id === jobId);
    for (const attempt of attempts) attempt.task.abort(reason, graceMs);
    await Promise.all(attempts.map((attempt) => attempt.settled));
    return attempts.length > 0;
  }

  /** Stops one attempt whose row moved on (lease taken over): it writes nothing. */
  abandon(fence: Fence): void {
    this.#running.get(attemptKey(fence))?.task.abort('lease_lost', 0);
  }

  /**
   * Stops claiming, lets running attempts finish for up to `graceMs`, then terminates the rest and puts them
   * back to pending without counting the attempt.
   */
  async drain(graceMs: number): Promise<{ finished: number; released: number }> {
    this.#stopped = true;
    clearTimeout(this.#pollTimer);
    // A claim queued in the group commit may still land: what it claimed is released there, attempt given back.
    await this.#claimRound;
    const all = () => Promise.all([...this.#running.values()].map((a) => a.settled));
    const before = this.#running.size;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all(), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    const released = this.#running.size;
    for (const attempt of this.#running.values()) attempt.task.abort('shutdown', 0);
    // Outcomes the store keeps refusing are not waited for forever: their leases expire, recovery takes them.
    this.#givingUp = true;
    await all();
    return { finished: before - released, released };
  }

  async #claimRounds(): Promise<void> {
    const { store, pool, owner, leaseMs, kinds } = this.#options;
    const threadsOf = (job: Job): number => kinds.get(job.kind)?.maxThreads ?? 1;
    this.#claiming = true;
    try {
      do {
        this.#claimAgain = false;
        const free = pool.threads - pool.busy;
        if (this.#stopped || free <= 0) break;
        const now = engineNow();
        this.#claimsInFlight++;
        this.#claimsStarted++;
        let jobs: Job[];
        try {
          // Jobs with an attempt still winding down here are not claimed again until it has.
          jobs = await store.claim({ owner, kinds: kinds.names(), limit: free, now, leaseMs, exclude: this.runningJobIds() });
          if (this.#stopped) {
            await this.#releaseUnstarted(jobs);
            break;
          }
          // Kinds that use several threads start last, lent only threads no other job of this batch needs.
          const ordered = jobs.length > 1 ? [...jobs].sort((a, b) => threadsOf(a) - threadsOf(b)) : jobs;
          ordered.forEach((job, index) => this.#start(job, ordered.length - 1 - index));
        } finally {
          this.#claimsInFlight--;
        }
        if (jobs.length < free) await this.#schedulePoll(now);
      } while (this.#claimAgain);
    } catch (err) {
      this.#options.logger.error({ err }, 'claiming jobs failed; will try again');
      this.#schedulePollIn(this.#options.pollIntervalMs);
    } finally {
      this.#claiming = false;
    }
  }

  /** Claimed as the engine stopped: back to pending, the attempt given back, as if never claimed. */
  async #releaseUnstarted(jobs: Job[]): Promise<void> {
    for (const job of jobs) {
      const released = await this.#options.store.release({ id: job.id, owner: this.#options.owner, attempt: job.attempts }, engineNow());
      if (released) this.#options.onChange(released);
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

  #start(job: Job, keepIdle: number): void {
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
      maxThreads: kind.maxThreads,
      keepIdle,
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
      .catch((err) => log.error({ err }, 'the outcome of the job was not written; its lease will expire and recovery takes it'))
      .finally(() => {
        clearTimeout(timeout);
        this.#running.delete(attemptKey(fence));
        this.wake();
      });
    this.#running.set(attemptKey(fence), attempt);
    // Asked while it was pending again after a graceful shutdown (the flag survives a release).
    if (job.cancelRequested) task.abort('cancelled');
    log.info({ wait_ms: Math.max(0, (job.startedAt ?? engineNow()) - job.runAt) }, 'job started');
    this.#options.onChange(job);
  }

  async #saveProgress(fence: Fence, done: number, total: number | null): Promise<void> {
    try {
      const job = await this.#options.store.saveProgress(fence, done, total, engineNow());
      if (job) this.#options.onChange(job);
    } catch (err) {
      this.#options.logger.warn({ err, job_id: fence.id }, 'saving progress failed');
    }
  }

  /**
   * Runs `write` until the store takes it. A failure here is the database's (locked past its busy timeout, disk
   * full, I/O error), not the job's: dropping the outcome would leave the row `running` under a live owner.
   */
  async #persist<T>(write: () => Promise<T>, log: Logger): Promise<T> {
    for (let delay = OUTCOME_RETRY_FIRST_MS; ; delay = Math.min(delay * 2, OUTCOME_RETRY_MAX_MS)) {
      try {
        return await write();
      } catch (err) {
        if (this.#givingUp) throw err;
        log.warn({ err, retry_in_ms: delay }, 'writing the outcome of the job failed; trying again');
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  async #recordOutcome(attempt: Attempt, outcome: TaskOutcome, log: Logger): Promise<void> {
    const { store, backoff } = this.#options;
    const { job, fence } = attempt;
    const durationMs = Math.round(performance.now() - attempt.startedAt);
    let saved: Job | undefined;
    if (outcome.ok) {
      saved = await this.#persist(() => store.complete(fence, outcome.value, engineNow(), outcome.progress), log);
    } else if (outcome.aborted === 'shutdown') {
      saved = await this.#persist(() => store.release(fence, engineNow()), log);
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
      const retryInMs = computeBackoffMs(fence.attempt, backoff);
      saved = await this.#persist(() => {
        const now = engineNow();
        return store.endAttempt(
          fence,
          retry ? { status: 'pending', error, runAt: now + retryInMs } : { status: outcome.aborted === 'cancelled' ? 'cancelled' : 'failed', error },
          now,
        );
      }, log);
    }
    if (!saved) {
      log.warn({ duration_ms: durationMs }, 'outcome discarded: the job was taken over after its lease expired');
      return;
    }
    if (outcome.ok || outcome.aborted === 'shutdown' || outcome.aborted === 'cancelled') {
      log.info({ status: saved.status, error_code: saved.error?.code, duration_ms: durationMs }, 'job attempt ended');
    } else {
      // A failed attempt is what an operator looks for: its message and stack at warn, beside the job id.
      const { code, message } = outcome.error;
      log.warn({ status: saved.status, error_code: code, error_message: message, stack: outcome.stack ?? undefined, duration_ms: durationMs }, 'job attempt ended');
    }
    this.#options.onChange(saved);
    this.#options.onAttemptEnd({ job: saved, outcome, durationMs, waitMs: Math.max(0, (job.startedAt ?? saved.updatedAt) - job.runAt) });
  }
}
