import type { Logger } from 'pino';
import { attemptFields, recordOutcome, type AttemptReport, type OutcomeWriterOptions } from './attempt-outcome.js';
import type { BackoffOptions } from './backoff.js';
import { engineNow } from './clock.js';
import type { Fence, Job, RegisteredKind } from './job.js';
import type { FlowLimits, LimitName } from './flow-control.js';
import type { JobStore } from './job-store.js';
import { abortedOutcome } from './outcomes.js';
import type { AbortReason, RunningTask, TaskOutcome, WorkerPool } from './pool.js';

export type { AttemptReport } from './attempt-outcome.js';

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
  /** Concurrency and rate limits, checked by the store inside each claim. */
  flow?: FlowLimits;
  /** A limit left a due job of `kind` pending in a claim. */
  onLimitWait?(kind: string, limit: LimitName): void;
  onChange(job: Job): void;
  onAttemptEnd(report: AttemptReport): void;
}

/**
 * Claim-ahead: for kinds whose attempts here are short, each thread gets a backlog of claimed jobs worth about
 * CLAIM_AHEAD_BUDGET_MS of their running time (by the kind's average), between 1 and CLAIM_AHEAD_MAX_PER_THREAD
 * jobs, so that a thread that frees up starts its next job at once and outcomes and claims share large commits.
 */
export const CLAIM_AHEAD_BUDGET_MS = 10;
export const CLAIM_AHEAD_MAX_PER_THREAD = 32;
/** A kind is claimed ahead only while its attempts here average less than this. */
export const CLAIM_AHEAD_BELOW_MS = 50;
/**
 * A claimed-ahead job that waited longer than this for its thread has its startedAt written again (markStarted):
 * the backlog's own budget, so that only a wait longer than planned costs a write (one per job under load at 5 ms).
 */
export const STARTED_AT_SLACK_MS = CLAIM_AHEAD_BUDGET_MS;

interface Attempt {
  job: Job;
  fence: Fence;
  /** Set once a thread runs it; undefined while it waits in the backlog. */
  task: RunningTask | undefined;
  /** The threads its kind may use (RegisteredKind.maxThreads), read once at the claim. */
  threads: number;
  /** performance.now() of the claim, then of the start on a thread. */
  claimedAt: number;
  startedAt: number | undefined;
  /** Resolves the attempt's one outcome: the task's, or an abort's while it waited. */
  end(outcome: TaskOutcome): void;
  /** Settles after the attempt's one outcome has been written (or discarded by the fence). */
  settled: Promise<void>;
}

const attemptKey = (fence: Fence) => `${fence.id}:${fence.attempt}`;

/**
 * Claims pending jobs up to what the pool can run — plus, for kinds whose attempts are short, a backlog of up to
 * CLAIM_AHEAD_PER_THREAD per thread, so that a thread that frees up starts its next job at once instead of after
 * a commit — runs each on the pool, and writes exactly one outcome per attempt: every claimed job leaves `running`
 * through complete, endAttempt or release (a backlog job that never started too) — or, if its lease was taken
 * over meanwhile, through the process that took it. An outcome the store refuses (locked, full) is written again
 * until it lands; until then the attempt stays tracked, so its lease stays renewed and nobody re-runs it.
 */
export class Dispatcher {
  readonly #options: DispatcherOptions;
  readonly #outcomes: OutcomeWriterOptions;
  /** By `id:attempt`: a job re-claimed here while an older attempt of it still winds down is another entry. */
  readonly #running = new Map<string, Attempt>();
  /** Claimed, not started yet: oldest claim first. */
  #backlog: Attempt[] = [];
  /** Each kind's average attempt duration here, ms (each new attempt weighs half): which kinds are claimed ahead, how far. */
  readonly #averageMs = new Map<string, number>();
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
    this.#outcomes = { ...options, isGivingUp: () => this.#givingUp };
  }

  /** The attempts this process runs, holds claimed ahead, or is still writing the outcome of: only their leases are renewed. */
  runningFences(): Fence[] {
    return [...this.#running.values()].map((attempt) => attempt.fence);
  }

  runningJobIds(): string[] {
    return [...new Set(this.runningFences().map((fence) => fence.id))];
  }

  /** Claimed here and waiting for a thread. */
  get backlogSize(): number {
    return this.#backlog.length;
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
    // Threads given back by a task that was lent them may take waiting jobs before any claim.
    this.#startWaiting();
    if (this.#claiming) {
      this.#claimAgain = true;
      return;
    }
    this.#claimRound = this.#claimRounds();
  }

  /** Aborts the job's attempts here (one waiting for a thread ends at once); resolves once their outcomes are written. */
  async abort(jobId: string, reason: AbortReason, graceMs?: number): Promise<boolean> {
    const attempts = [...this.#running.values()].filter((attempt) => attempt.fence.id === jobId);
    for (const attempt of attempts) this.#abortAttempt(attempt, reason, graceMs);
    await Promise.all(attempts.map((attempt) => attempt.settled));
    return attempts.length > 0;
  }

  /** Stops one attempt whose row moved on (lease taken over): it writes nothing. */
  abandon(fence: Fence): void {
    const attempt = this.#running.get(attemptKey(fence));
    if (attempt) this.#abortAttempt(attempt, 'lease_lost', 0);
  }

  /**
   * Stops claiming and gives the backlog back at once, lets running attempts finish for up to `graceMs`, then
   * terminates the rest and puts them back to pending without counting the attempt.
   */
  async drain(graceMs: number): Promise<{ finished: number; released: number }> {
    this.#stopped = true;
    clearTimeout(this.#pollTimer);
    // A claim queued in the group commit may still land: what it claimed is released there, attempt given back.
    await this.#claimRound;
    const waiting = [...this.#backlog];
    for (const attempt of waiting) this.#abortAttempt(attempt, 'shutdown', 0);
    await Promise.all(waiting.map((attempt) => attempt.settled));
    const all = () => Promise.all([...this.#running.values()].map((a) => a.settled));
    const before = this.#running.size;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all(), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    const released = this.#running.size;
    for (const attempt of this.#running.values()) this.#abortAttempt(attempt, 'shutdown', 0);
    // Outcomes the store keeps refusing are not waited for forever: their leases expire, recovery takes them.
    this.#givingUp = true;
    await all();
    return { finished: before - released, released: released + waiting.length };
  }

  #abortAttempt(attempt: Attempt, reason: AbortReason, graceMs?: number): void {
    if (attempt.task) {
      attempt.task.abort(reason, graceMs);
      return;
    }
    const index = this.#backlog.indexOf(attempt);
    if (index === -1) return;
    this.#backlog.splice(index, 1);
    attempt.end(abortedOutcome(reason === 'oom' ? 'cancelled' : reason));
  }

  async #claimRounds(): Promise<void> {
    const { store, pool, owner, leaseMs, kinds } = this.#options;
    this.#claiming = true;
    try {
      do {
        this.#claimAgain = false;
        if (this.#stopped) break;
        const held = pool.busy + this.#backlog.length;
        const idle = pool.threads - held;
        const { shortKinds, capacity } = this.#claimAhead();
        // Refilled once half of the backlog is gone, so that a claim takes a batch, not one job per outcome.
        const ahead = held > capacity / 2 ? 0 : capacity - Math.max(held, pool.threads);
        if (idle <= 0 && ahead <= 0) break;
        const now = engineNow();
        const exclude = this.runningJobIds();
        // When a limit held a due job back: the earliest time a rate slot opens (Infinity: when a job ends).
        let heldUntil: number | undefined;
        const heldBack = (kind: string, limit: LimitName, retryAt: number | null) => {
          heldUntil = Math.min(heldUntil ?? Infinity, retryAt ?? Infinity);
          this.#options.onLimitWait?.(kind, limit);
        };
        const flow = { limits: this.#options.flow ?? {}, held: heldBack };
        const claims: Array<Promise<Job[]>> = [];
        // Both claims go in one commit: the first fills idle threads with any kind, the second claims short kinds ahead.
        if (idle > 0) claims.push(store.claim({ owner, kinds: kinds.names(), limit: idle, now, leaseMs, exclude, flow }));
        if (ahead > 0) claims.push(store.claim({ owner, kinds: shortKinds, limit: ahead, now, leaseMs, exclude, flow }));
        this.#claimsInFlight++;
        this.#claimsStarted++;
        let claimed: Job[];
        try {
          // Jobs with an attempt still winding down here are not claimed again until it has.
          // One claim may fail where the other committed: what the other claimed is tracked all the same.
          const settled = await Promise.allSettled(claims);
          claimed = settled.flatMap((result) => (result.status === 'fulfilled' ? result.value : []));
          for (const job of claimed) this.#track(job);
          const failed = settled.find((result) => result.status === 'rejected');
          if (failed) throw failed.reason;
          if (this.#stopped) {
            for (const attempt of [...this.#backlog]) this.#abortAttempt(attempt, 'shutdown', 0);
            break;
          }
          this.#startWaiting();
        } finally {
          this.#claimsInFlight--;
        }
        if (claimed.length < Math.max(idle, 0) + Math.max(ahead, 0)) await this.#schedulePoll(now, heldUntil);
      } while (this.#claimAgain);
    } catch (err) {
      this.#options.logger.error({ err }, 'claiming jobs failed; will try again');
      this.#schedulePollIn(this.#options.pollIntervalMs);
    } finally {
      this.#claiming = false;
    }
  }

  /**
   * Wakes at the next due run_at, or after the poll interval, whichever is first. A job due already but held by a
   * limit is not polled for at once: a job ending here wakes the dispatcher, a rate slot at `heldUntil`.
   */
  async #schedulePoll(now: number, heldUntil?: number): Promise<void> {
    const next = await this.#options.store.nextRunAt(this.#options.kinds.names());
    const due = next !== undefined && next <= now;
    const untilDue = next === undefined ? Infinity : due && heldUntil !== undefined ? Math.max(1, heldUntil - now) : Math.max(1, next - now);
    this.#schedulePollIn(Math.min(untilDue, this.#options.pollIntervalMs));
  }

  #schedulePollIn(delayMs: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#pollTimer);
    this.#pollTimer = setTimeout(() => this.wake(), delayMs);
    this.#pollTimer.unref();
  }

  /** A claimed job: leased and tracked from now on, in the backlog until a thread takes it. */
  #track(job: Job): void {
    const fence: Fence = { id: job.id, owner: this.#options.owner, attempt: job.attempts };
    let end!: (outcome: TaskOutcome) => void;
    const outcome = new Promise<TaskOutcome>((resolve) => (end = resolve));
    const threads = this.#options.kinds.get(job.kind)?.maxThreads ?? 1;
    const attempt: Attempt = { job, fence, task: undefined, threads, claimedAt: performance.now(), startedAt: undefined, end, settled: Promise.resolve() };
    attempt.settled = outcome
      .then((result) => {
        // The thread is free now: its next job starts at once, and the refill claim shares this outcome's commit.
        this.#startWaiting();
        this.wake();
        const durationMs = attempt.startedAt === undefined ? 0 : Math.round(performance.now() - attempt.startedAt);
        if (attempt.startedAt !== undefined) this.#noteDuration(job.kind, durationMs);
        return recordOutcome(this.#outcomes, attempt.job, fence, result, durationMs);
      })
      .catch((err) => this.#options.logger.error({ ...attemptFields(job, fence), err }, 'the outcome of the job was not written; its lease will expire and recovery takes it'))
      .finally(() => {
        this.#running.delete(attemptKey(fence));
        this.wake();
      });
    this.#running.set(attemptKey(fence), attempt);
    this.#backlog.push(attempt);
    this.#options.onChange(job);
  }

  #noteDuration(kind: string, durationMs: number): void {
    const before = this.#averageMs.get(kind);
    this.#averageMs.set(kind, before === undefined ? durationMs : (before + durationMs) / 2);
  }

  /** The kinds to claim ahead and how many attempts this process may then hold in all (running and waiting). */
  #claimAhead(): { shortKinds: string[]; capacity: number } {
    const { pool, kinds, flow } = this.#options;
    const shortKinds: string[] = [];
    let slowest = 0;
    // A limited kind is never claimed ahead: a backlog would hold slots of its limit that other processes could
    // use, and a rate counts claims, so jobs waiting in a backlog would start closer together than the rate allows.
    const groupLimited = Boolean(flow?.groups?.concurrency || flow?.groups?.rate);
    const limited = (kind: string) => groupLimited || flow?.kinds?.[kind] !== undefined;
    for (const [kind, ms] of this.#averageMs) {
      if (ms >= CLAIM_AHEAD_BELOW_MS || !kinds.get(kind) || limited(kind)) continue;
      shortKinds.push(kind);
      slowest = Math.max(slowest, ms);
    }
    if (shortKinds.length === 0) return { shortKinds, capacity: pool.threads };
    const perThread = Math.min(CLAIM_AHEAD_MAX_PER_THREAD, Math.max(1, Math.floor(CLAIM_AHEAD_BUDGET_MS / Math.max(slowest, 0.01))));
    return { shortKinds, capacity: pool.threads * (1 + perThread) };
  }

  /** Starts backlog jobs while the pool has a free thread (never after drain began: the backlog is given back). */
  #startWaiting(): void {
    const { pool } = this.#options;
    // Kinds that use several threads start last, lent only threads that no other waiting job needs (a stable sort;
    // called at every wake, so only when such a job waits at all).
    if (this.#backlog.length > 1 && this.#backlog.some((attempt) => attempt.threads > 1)) {
      this.#backlog.sort((x, y) => x.threads - y.threads);
    }
    while (!this.#stopped && pool.busy < pool.threads && this.#backlog.length > 0) {
      const attempt = this.#backlog.shift()!;
      this.#start(attempt, this.#backlog.length);
    }
  }

  #start(attempt: Attempt, keepIdle: number): void {
    const { pool, dataDir, kinds, logger } = this.#options;
    const { job, fence } = attempt;
    const kind = kinds.get(job.kind)!;
    const task = pool.run({
      moduleUrl: kind.moduleUrl,
      taskErrorCodes: kind.taskErrorCodes,
      payload: job.payload,
      jobId: job.id,
      attempt: fence.attempt,
      dataDir,
      maxThreads: kind.maxThreads,
      keepIdle,
      onProgress: ({ done, total }) => void this.#saveProgress(fence, done, total),
    });
    attempt.task = task;
    attempt.startedAt = performance.now();
    // Ref'd on purpose: the process must not exit while a job still waits for its timeout.
    const timeout = job.timeoutMs ? setTimeout(() => task.abort('timeout', 0), job.timeoutMs) : undefined;
    void task.outcome.then((outcome) => {
      clearTimeout(timeout);
      attempt.end(outcome);
    });
    // Asked while it was pending again after a graceful shutdown (the flag survives a release).
    if (job.cancelRequested) task.abort('cancelled');
    let startedAt = job.startedAt ?? engineNow();
    if (attempt.startedAt - attempt.claimedAt > STARTED_AT_SLACK_MS) void this.#markStarted(attempt, (startedAt = engineNow()));
    logger.info({ ...attemptFields(job, fence), wait_ms: Math.max(0, startedAt - job.runAt) }, 'job started');
  }

  /** The claim wrote its own time as startedAt: a job that waited for its thread gets the time it really started. */
  async #markStarted(attempt: Attempt, startedAt: number): Promise<void> {
    attempt.job = { ...attempt.job, startedAt };
    try {
      const job = await this.#options.store.markStarted(attempt.fence, startedAt);
      if (job) this.#options.onChange(job);
    } catch (err) {
      this.#options.logger.warn({ err, job_id: attempt.fence.id }, 'writing the start time of the job failed');
    }
  }

  async #saveProgress(fence: Fence, done: number, total: number | null): Promise<void> {
    try {
      const job = await this.#options.store.saveProgress(fence, done, total, engineNow());
      if (job) this.#options.onChange(job);
    } catch (err) {
      this.#options.logger.warn({ err, job_id: fence.id }, 'saving progress failed');
    }
  }
}
