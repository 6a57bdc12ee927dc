import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { pino, type Logger } from 'pino';
import type { BackoffOptions } from './backoff.js';
import { engineNow } from './clock.js';
import { cancelJob } from './cancel.js';
import { Dispatcher } from './dispatcher.js';
import { EngineError } from './engine-error.js';
import { QueueRoom } from './queue-room.js';
import { newJob, resolveEngineOptions, timeoutOf, type EngineOptions, type ResolvedEngineOptions } from './engine-options.js';
import type {
  CancelResult, EngineEvents, EngineStats, EnqueueRequest, EnqueueResult, ListJobsRequest, ReadinessReport, RetryResult,
} from './engine-types.js';
import { isTerminal, type Job, type JobStatus } from './job.js';
import { KindRegistry, type RegisterOptions } from './kind-registry.js';
import type { AttemptRecord, ChangePoint, DeliveryAttempt, DeliveryEnd, DeliveryRecord, FinishedInMinute, JobStore } from './job-store.js';
import { startJobRetention, type JobRetention } from './job-retention.js';
import { LeaseKeeper } from './leases.js';
import { checkReadiness } from './readiness.js';
import { listJobs } from './list-jobs.js';
import { WorkerPool } from './pool.js';
import { Scheduler } from './scheduler.js';
import { Schedules } from './schedules.js';

/**
 * The job engine: a durable queue in a JobStore, a Piscina pool, leases and recovery. Knows nothing of HTTP, nor
 * of what its jobs do. Lifecycle: createEngine → register kinds → start → … → close.
 */
export class Engine extends EventEmitter<EngineEvents> {
  readonly dataDir: string;
  readonly ownerId = randomUUID();
  readonly #options: ResolvedEngineOptions;
  readonly #logger: Logger;
  readonly #store: JobStore;
  readonly #kinds = new KindRegistry();
  #pool: WorkerPool | undefined;
  #dispatcher: Dispatcher | undefined;
  #leases: LeaseKeeper | undefined;
  #retention: JobRetention | undefined;
  #scheduler: Scheduler | undefined;
  readonly #now: () => number;
  /** Create, change and delete schedules; their runs are enqueued by this engine's scheduler once started. */
  readonly schedules: Schedules;
  #stopListening: (() => void) | undefined;
  #closing = false;
  #closed: Promise<void> | undefined;
  readonly #queueRoom: QueueRoom;

  constructor(options: EngineOptions) {
    super();
    this.setMaxListeners(0);
    this.dataDir = resolve(options.dataDir);
    this.#options = { ...resolveEngineOptions(options), dataDir: this.dataDir };
    this.#logger = options.logger ?? pino({ name: 'offload' });
    this.#store = options.store;
    this.#queueRoom = new QueueRoom(() => this.#store.countPending(), this.#options.maxPending);
    this.#now = options.now ?? engineNow;
    this.schedules = new Schedules({
      store: this.#store.schedules,
      now: this.#now,
      checkTemplate: (template) => {
        if (!this.#kinds.get(template.kind)) throw new EngineError('unknown_kind', `No worker module is registered for job kind "${template.kind}".`);
        timeoutOf(template.timeoutMs, this.#options);
      },
      onChange: () => this.#scheduler?.wake(),
    });
  }

  /** Registers a worker module (file path or URL) whose default export runs jobs of `kind`. */
  register(kind: string, module: string | URL, options?: RegisterOptions): this {
    this.#kinds.register(kind, module, options);
    this.#dispatcher?.wake();
    return this;
  }

  get kinds(): string[] {
    return this.#kinds.names();
  }

  /** Registered and not internal: a kind a client may name. */
  isPublicKind(kind: string): boolean {
    return this.#kinds.isPublic(kind);
  }

  get publicKinds(): string[] {
    return this.kinds.filter((kind) => this.#kinds.isPublic(kind));
  }

  get logger(): Logger {
    return this.#logger;
  }

  get config(): Readonly<ResolvedEngineOptions> {
    return this.#options;
  }

  /** Recovers jobs left by dead processes, starts the pool, begins claiming and the retention of finished jobs. */
  async start(): Promise<void> {
    const options = this.#options;
    const backoff: BackoffOptions = { baseMs: options.retryBaseMs, maxMs: options.retryMaxMs };
    this.#pool = new WorkerPool({
      threads: options.threads,
      workerMemoryMb: options.workerMemoryMb,
      abortGraceMs: options.abortGraceMs,
      progressIntervalMs: options.progressIntervalMs,
      niceIncrement: options.niceIncrement,
      onError: (err) => this.#logger.error({ err }, 'worker pool error'),
      onThreadsFreed: () => this.#dispatcher?.wake(),
    });
    const onChange = (job: Job) => this.emit('change', job);
    const dispatcher = (this.#dispatcher = new Dispatcher({
      store: this.#store,
      pool: this.#pool,
      owner: this.ownerId,
      leaseMs: options.leaseMs,
      dataDir: this.dataDir,
      kinds: this.#kinds,
      backoff,
      pollIntervalMs: options.pollIntervalMs,
      logger: this.#logger,
      flow: options.flow,
      onLimitWait: (kind, limit) => this.emit('limitWait', kind, limit),
      onChange,
      onAttemptEnd: (report) => {
        this.emit('attemptEnd', report);
        if (isTerminal(report.job.status)) this.emit('finished', report.job);
      },
    }));
    this.#leases = new LeaseKeeper({
      store: this.#store,
      self: { id: this.ownerId, hostname: hostname(), pid: process.pid, startedAt: engineNow(), heartbeatAt: engineNow() },
      leaseMs: options.leaseMs,
      crashLimit: options.crashLimit,
      backoff,
      logger: this.#logger,
      runningFences: () => dispatcher.runningFences(),
      hasClaimInFlight: () => dispatcher.hasClaimInFlight,
      claimsStarted: () => dispatcher.claimsStarted,
      onLeaseLost: (fence) => dispatcher.abandon(fence),
      onCancelRequested: (jobId) => void dispatcher.abort(jobId, 'cancelled'),
      onChange,
      onRecovered: (job) => {
        this.emit('recovered', job);
        if (isTerminal(job.status)) this.emit('finished', job);
      },
    });
    // Work committed by other processes wakes the dispatcher at once, where the store can tell (see JobStore).
    this.#stopListening = this.#store.onJobsAvailable?.(() => dispatcher.wake());
    const recovered = await this.#leases.start();
    this.#retention = startJobRetention({ store: this.#store, ttlMs: options.jobTtlMs, logger: this.#logger });
    this.#scheduler = this.#startScheduler();
    this.#logger.info({ owner: this.ownerId, threads: options.threads, recovered: recovered.length, kinds: this.kinds }, 'engine started');
    dispatcher.wake();
  }

  /**
   * Stores a new job; resolves once its row is committed (inserts arriving in the same tick share one commit).
   * With an idempotency key already used for the same request hash, the earlier job comes back, `created: false`.
   */
  async enqueue(request: EnqueueRequest): Promise<EnqueueResult> {
    if (this.#closing) throw new EngineError('shutting_down', 'The engine is shutting down and accepts no new jobs.');
    if (!this.#kinds.get(request.kind)) {
      throw new EngineError('unknown_kind', `No worker module is registered for job kind "${request.kind}".`);
    }
    const job = newJob(request, this.#options, engineNow());
    await this.#queueRoom.reserve();
    let result: EnqueueResult;
    try {
      // The store's group commit puts inserts that arrive together into one transaction; waking the dispatcher
      // now queues its claim behind the insert, so an idle thread takes the job in that same commit.
      const inserted = this.#store.insert([job]);
      this.#dispatcher?.wake();
      [result] = (await inserted) as [EnqueueResult];
    } finally {
      this.#queueRoom.release();
    }
    if (result.created || result.replaced) {
      this.emit('change', result.job);
      this.#dispatcher?.wake();
    }
    if (result.deduplicated) this.emit('deduplicated', result.job, result.replaced === true);
    if (!result.created && !result.deduplicated && result.job.requestHash !== job.requestHash) {
      throw new EngineError('idempotency_conflict', 'This Idempotency-Key was already used with a different request.');
    }
    return result;
  }

  /** Completion callbacks due now, claimed for `leaseMs` (JobStore.claimDeliveries): for a deliverer to send. */
  async claimDeliveries(limit: number, leaseMs: number): Promise<DeliveryRecord[]> {
    return this.#store.claimDeliveries(engineNow(), limit, leaseMs);
  }

  /** Records how attempt `attempt.attempt` of a claimed delivery went (JobStore.endDeliveryAttempt). */
  async endDeliveryAttempt(id: string, attempt: DeliveryAttempt, end: DeliveryEnd): Promise<DeliveryRecord | undefined> {
    return this.#store.endDeliveryAttempt(id, attempt, end, engineNow());
  }

  /** The completion callbacks of job `id`, oldest first, each with its log of attempts. */
  async deliveries(jobId: string): Promise<DeliveryRecord[]> {
    return this.#store.deliveries(jobId);
  }

  /** Pending and running jobs enqueued with this `ref`, in every process sharing the store. */
  async countActive(filter: { ref: string }): Promise<number> {
    return this.#store.countActive(filter);
  }

  /** Forgets idempotency keys of jobs finished before `finishedBefore` (they expire with the job's results). */
  async expireIdempotencyKeys(finishedBefore: number): Promise<number> {
    return this.#store.expireIdempotencyKeys(finishedBefore);
  }

  /** Lets job retention delete job `id` once it has ended, though it was enqueued `pinned`. */
  async unpin(id: string): Promise<void> {
    await this.#store.unpin(id);
  }

  async get(id: string): Promise<Job | undefined> {
    return this.#store.get(id);
  }

  /** The job's ended attempts, oldest first: each one's outcome and error, none overwritten by the next. */
  async attempts(id: string): Promise<AttemptRecord[]> {
    return this.#store.attempts(id);
  }

  /** One page, newest first; with a time range or text, one bounded window of creation order (see listJobs). */
  async list(request: ListJobsRequest = {}): Promise<{ jobs: Job[]; nextCursor: string | null }> {
    return listJobs(this.#store, request);
  }

  /** Jobs of every process changed after `after`, oldest change first (the store's listUpdatedAfter). */
  async changesAfter(after: ChangePoint, limit: number): Promise<Job[]> {
    return this.#store.listUpdatedAfter(after, limit);
  }

  /** Jobs of the whole database per kind and status, every status. */
  async countAll(): Promise<Array<{ kind: string; status: JobStatus; count: number }>> {
    return this.#store.countAllByKindAndStatus();
  }

  /** Final outcomes per kind, status and minute, finished in [since, until). */
  async finishedPerMinute(since: number, until: number): Promise<FinishedInMinute[]> {
    return this.#store.countFinishedPerMinute(since, until);
  }

  /**
   * Runs a failed or cancelled job again: the same job, back to pending and due now, its attempts counting on
   * with at least one left, its history kept (JobStore.retry). Undefined when there is no such job.
   */
  async retry(id: string): Promise<RetryResult | undefined> {
    if (this.#closing) throw new EngineError('shutting_down', 'The engine is shutting down and runs no job again.');
    const job = await this.#store.retry(id, engineNow());
    if (job) {
      this.emit('change', job);
      this.#dispatcher?.wake();
      return { state: 'retried', job };
    }
    const current = await this.#store.get(id);
    return current && { state: 'not_retryable', job: current };
  }

  /**
   * Cancels a pending job at once, or a running one of this process (resolving after its thread stopped and
   * `cancelled` is written). A job running in another process is flagged; its owner stops it at its next heartbeat.
   */
  async cancel(id: string): Promise<CancelResult | undefined> {
    return cancelJob(id, {
      store: this.#store,
      abortHere: async (jobId) => (await this.#dispatcher?.abort(jobId, 'cancelled')) ?? false,
      onChange: (job) => this.emit('change', job),
      onFinished: (job) => this.emit('finished', job),
    });
  }

  /** Calls `listener` with each new state of job `id`; returns the unsubscribe function. */
  watch(id: string, listener: (job: Job) => void): () => void {
    const onChange = (job: Job) => job.id === id && listener(job);
    this.on('change', onChange);
    return () => this.off('change', onChange);
  }

  stats(): EngineStats {
    const pool = this.#pool;
    return { threads: this.#options.threads, busyThreads: pool?.busy ?? 0, zombieThreads: pool?.zombieThreads ?? 0, closing: this.#closing };
  }

  async countPending(): Promise<number> {
    return this.#store.countPending();
  }

  /** Running jobs per group key in the whole database, the most first, at most `limit` keys. */
  async countRunningByGroup(limit = 20): Promise<Array<{ groupKey: string; count: number }>> {
    return this.#store.countRunningByGroup(limit);
  }

  /** Pending and running jobs of the whole database (every process sharing it), per kind. */
  async countByKindAndStatus(): Promise<Array<{ kind: string; status: 'pending' | 'running'; count: number }>> {
    return this.#store.countByKindAndStatus();
  }

  /**
   * Per kind with pending jobs in the database (every process): ms since its earliest pending `run_at` — how long
   * its longest-waiting due job has been due — or 0 when none is due yet. One index lookup per kind (nextRunAt).
   */
  async oldestDueAges(): Promise<Array<{ kind: string; ageMs: number }>> {
    const pending = (await this.#store.countByKindAndStatus()).filter((row) => row.status === 'pending');
    const now = engineNow();
    return Promise.all(pending.map(async ({ kind }) => ({ kind, ageMs: Math.max(0, now - ((await this.#store.nextRunAt([kind])) ?? now)) })));
  }

  /** True when every check of readiness() passed. */
  async isReady(): Promise<boolean> {
    return (await this.readiness()).ready;
  }

  /**
   * Whether this engine can take jobs, check by check. database: a real write commits within 1 s (this engine's
   * owner heartbeat, queued like every write: a full disk or another process holding the write lock fails it);
   * pool: started and not shutting down; threads: no thread told to terminate is still alive (a zombie).
   */
  async readiness(): Promise<ReadinessReport> {
    return checkReadiness({
      store: this.#store,
      ownerId: this.ownerId,
      poolProblem: this.#closing ? 'The engine is shutting down.' : this.#pool ? undefined : 'The worker pool is not started.',
      zombieThreads: this.#pool?.zombieThreads ?? 0,
    });
  }

  get isClosing(): boolean {
    return this.#closing;
  }

  /**
   * Graceful shutdown: refuses new jobs, lets running ones finish for up to `graceMs`, then terminates the rest
   * and puts them back to pending without counting the attempt. Closes the store.
   */
  close({ graceMs = 10_000 }: { graceMs?: number } = {}): Promise<void> {
    this.#closed ??= this.#close(graceMs);
    return this.#closed;
  }

  async #close(graceMs: number): Promise<void> {
    this.#closing = true;
    // Each step runs whatever the one before did: on a full or locked disk, removing the owner row fails, and the
    // pool must still be destroyed and the database closed.
    const step = (what: string, run: () => Promise<unknown> | undefined) => settle(run, (err) => this.#logger.error({ err }, `${what} failed during shutdown`));
    this.#stopListening?.();
    await step('stopping the scheduler', () => this.#scheduler?.stop());
    await step('stopping job retention', () => this.#retention?.stop());
    const drained = (await step('draining running jobs', () => this.#dispatcher?.drain(graceMs))) as object | undefined;
    await step('stopping the lease keeper', () => this.#leases?.stop());
    await step('stopping the worker pool', () => this.#pool?.destroy());
    await step('closing the store', () => this.#store.close());
    this.#logger.info({ ...drained }, 'engine stopped');
    this.emit('closed');
  }

  #startScheduler(): Scheduler {
    const options = this.#options;
    const scheduler = new Scheduler({
      store: this.#store.schedules,
      logger: this.#logger,
      now: this.#now,
      intervalMs: options.pollIntervalMs,
      kinds: () => this.#kinds.names(),
      hasRoom: () => this.#queueRoom.hasRoom(),
      // A ceiling lowered since the schedule was made caps its timeout rather than stopping its runs.
      newJob: (template, { runAt, now, ref }) => newJob({
        kind: template.kind, payload: template.payload, priority: template.priority, maxAttempts: template.maxAttempts ?? undefined,
        timeoutMs: template.timeoutMs === null ? null : Math.min(template.timeoutMs, options.maxTimeoutMs), runAt, ref,
      }, options, now),
      onRun: (report) => {
        for (const job of report.jobs) this.emit('change', job);
        if (report.jobs.length > 0) this.#dispatcher?.wake();
        this.emit('scheduleRun', report);
      },
      onLostRace: () => this.emit('scheduleRaceLost'),
    });
    scheduler.start();
    return scheduler;
  }
}

async function settle(run: () => Promise<unknown> | undefined, onError: (err: unknown) => void): Promise<unknown> {
  try {
    return await run();
  } catch (err) {
    onError(err);
    return undefined;
  }
}

export function createEngine(options: EngineOptions): Engine {
  return new Engine(options);
}

export type { EngineOptions } from './engine-options.js';
export type { RegisterOptions } from './kind-registry.js';
export type {
  CancelResult, EngineEvents, EngineStats, EnqueueRequest, EnqueueResult, ListJobsRequest, ReadinessReport, RetryResult,
} from './engine-types.js';
