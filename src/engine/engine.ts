import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pino, type Logger } from 'pino';
import { migrate } from '../db/migrate.js';
import { openDatabase, type Durability } from '../db/open-database.js';
import type { BackoffOptions } from './backoff.js';
import { Dispatcher, type AttemptReport } from './dispatcher.js';
import { EngineError } from './engine-error.js';
import { isTerminal, TIMER_LIMIT_MS, type Job, type JobStatus, type NewJob } from './job.js';
import { SqliteJobStore, type JobStore } from './job-store.js';
import { LeaseKeeper } from './leases.js';
import { WorkerPool } from './pool.js';
import { workerModuleUrl } from '../runtime/single-executable.js';

export interface EngineOptions {
  /** Holds jobs.db and everything the jobs write. Created if missing. */
  dataDir: string;
  /** Worker threads in the pool. Default: cores − 1, at least 1. */
  threads?: number;
  /** Heap limit of each worker thread, MB. Default 512. */
  workerMemoryMb?: number;
  /** Lease of a running job, ms; renewed every third of it. Default 15000. */
  leaseMs?: number;
  durability?: Durability;
  /** Pending jobs beyond which enqueue refuses with `queue_full`. Default 10000. */
  maxPending?: number;
  /** Attempts of a new job unless it says otherwise. Default 3. */
  defaultMaxAttempts?: number;
  /** The longest `timeoutMs` a job may ask for; enqueue refuses more with `timeout_too_long`. Default 7 days. */
  maxTimeoutMs?: number;
  /** Timeout of a job that gives none, ms. Default `maxTimeoutMs`, so that no job runs unbounded. */
  defaultTimeoutMs?: number;
  /** Exponential backoff between retries, ms. Default base 1000, max 300000. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** How often to look for jobs this process was not told about (other processes). Default 1000 ms. */
  pollIntervalMs?: number;
  /** How long a cancelled task may take to stop on its own (ctx.signal) before its thread is terminated. Default 200 ms. */
  abortGraceMs?: number;
  /** Minimum interval between two progress messages of one job, ms. Default 250. */
  progressIntervalMs?: number;
  /** Piscina niceIncrement for worker threads (Linux; needs @napi-rs/nice). Default 0. */
  niceIncrement?: number;
  logger?: Logger;
  /** Use another store (e.g. another database) instead of `<dataDir>/jobs.db`. */
  store?: JobStore;
}

export interface EnqueueRequest {
  kind: string;
  payload: unknown;
  priority?: number;
  maxAttempts?: number;
  timeoutMs?: number | null;
  /** Epoch ms before which the job is not started. */
  runAt?: number;
  /** With `requestHash`: a second request with the same key gets the first job back (a different hash: conflict). */
  idempotencyKey?: string;
  requestHash?: string;
}

export interface SubmitResult {
  job: Job;
  /** False when an earlier job with the same idempotency key was returned. */
  created: boolean;
}

export interface ListJobsRequest {
  kind?: string;
  status?: JobStatus;
  limit?: number;
  /** The `nextCursor` of the previous page. */
  cursor?: string;
}

export type CancelResult =
  | { state: 'cancelled'; job: Job }
  | { state: 'cancel_requested'; job: Job }
  | { state: 'already_finished'; job: Job };

export interface EngineEvents {
  /** Every new state of a job written by this engine (insert, claim, progress, outcome, cancel, recovery). */
  change: [job: Job];
  /** An attempt run by this process ended and its outcome was written (a retry, a release or a final status). */
  attemptEnd: [report: AttemptReport];
  /** This engine recovered an orphan: its attempt ended as `lost` (the job is back to pending, or failed). */
  recovered: [job: Job];
  /** Emitted once per job that reached a final status through this engine, whichever way it got there. */
  finished: [job: Job];
  /** After close(): the pool is down and the database closed. */
  closed: [];
}

export interface EngineStats {
  threads: number;
  busyThreads: number;
  closing: boolean;
}

const BUILT_IN_KINDS: Record<string, URL> = {
  export: new URL('../../workers/export.js', import.meta.url),
  import: new URL('../../workers/import.js', import.meta.url),
};

/**
 * The job engine: a durable queue in SQLite, a Piscina pool, leases and recovery. Knows nothing of HTTP.
 * Lifecycle: createEngine → register kinds → start → … → close.
 */
export class Engine extends EventEmitter<EngineEvents> {
  readonly dataDir: string;
  readonly ownerId = randomUUID();
  readonly #options: Required<Omit<EngineOptions, 'store' | 'logger' | 'niceIncrement'>> & { niceIncrement: number };
  readonly #logger: Logger;
  readonly #store: JobStore;
  readonly #kinds = new Map<string, string>();
  /** Kinds only the host application enqueues (its own routes build their payloads); see register(). */
  readonly #internalKinds = new Set<string>();
  #pool: WorkerPool | undefined;
  #dispatcher: Dispatcher | undefined;
  #leases: LeaseKeeper | undefined;
  #closing = false;
  #closed: Promise<void> | undefined;
  /** Inserts queued in the store but not committed yet: counted against --max-pending too. */
  #uncommittedInserts = 0;

  constructor(options: EngineOptions) {
    super();
    this.setMaxListeners(0);
    this.dataDir = resolve(options.dataDir);
    this.#options = {
      dataDir: this.dataDir,
      threads: options.threads ?? Math.max(1, availableParallelism() - 1),
      workerMemoryMb: options.workerMemoryMb ?? 512,
      leaseMs: options.leaseMs ?? 15_000,
      durability: options.durability ?? 'normal',
      maxPending: options.maxPending ?? 10_000,
      defaultMaxAttempts: options.defaultMaxAttempts ?? 3,
      maxTimeoutMs: options.maxTimeoutMs ?? 7 * 24 * 3600 * 1000,
      defaultTimeoutMs: options.defaultTimeoutMs ?? options.maxTimeoutMs ?? 7 * 24 * 3600 * 1000,
      retryBaseMs: options.retryBaseMs ?? 1_000,
      retryMaxMs: options.retryMaxMs ?? 300_000,
      pollIntervalMs: options.pollIntervalMs ?? 1_000,
      abortGraceMs: options.abortGraceMs ?? 200,
      progressIntervalMs: options.progressIntervalMs ?? 250,
      niceIncrement: options.niceIncrement ?? 0,
    };
    validatePositiveInteger('threads', this.#options.threads);
    validatePositiveInteger('workerMemoryMb', this.#options.workerMemoryMb);
    validatePositiveInteger('leaseMs', this.#options.leaseMs);
    validatePositiveInteger('maxPending', this.#options.maxPending);
    validatePositiveInteger('defaultMaxAttempts', this.#options.defaultMaxAttempts);
    validatePositiveInteger('maxTimeoutMs', this.#options.maxTimeoutMs, TIMER_LIMIT_MS);
    validatePositiveInteger('defaultTimeoutMs', this.#options.defaultTimeoutMs, this.#options.maxTimeoutMs);
    this.#logger = options.logger ?? pino({ name: 'offload' });
    mkdirSync(this.dataDir, { recursive: true });
    if (options.store) {
      this.#store = options.store;
    } else {
      const db = openDatabase(join(this.dataDir, 'jobs.db'), { durability: this.#options.durability });
      migrate(db);
      this.#store = new SqliteJobStore(db);
    }
    for (const [kind, distUrl] of Object.entries(BUILT_IN_KINDS)) {
      const url = workerModuleUrl(distUrl);
      if (existsSync(fileURLToPath(url))) {
        this.#kinds.set(kind, url.href);
        this.#internalKinds.add(kind);
      }
    }
  }

  /**
   * Registers a worker module (file path or URL) whose default export runs jobs of `kind`. An `internal` kind is
   * enqueued only by the host application's own code, never on a client's behalf through a generic jobs API
   * (`isPublicKind` says which is which).
   */
  register(kind: string, module: string | URL, { internal = false }: { internal?: boolean } = {}): this {
    if (!/^[a-z0-9][a-z0-9_.-]{0,63}$/i.test(kind)) {
      throw new EngineError('invalid_option', `job kind "${kind}" must be 1-64 letters, digits, '.', '_' or '-'`);
    }
    if (!internal && this.#internalKinds.has(kind)) {
      throw new EngineError('invalid_option', `job kind "${kind}" is built in and cannot be registered again`);
    }
    const url = module instanceof URL ? module : /^[a-z]+:/i.test(module) ? new URL(module) : pathToFileURL(resolve(module));
    if (url.protocol === 'file:' && !existsSync(fileURLToPath(url))) {
      throw new EngineError('invalid_option', `worker module for kind "${kind}" not found: ${fileURLToPath(url)}`);
    }
    this.#kinds.set(kind, url.href);
    if (internal) this.#internalKinds.add(kind);
    this.#dispatcher?.wake();
    return this;
  }

  get kinds(): string[] {
    return [...this.#kinds.keys()];
  }

  /** Registered and not internal: a kind a client may name. */
  isPublicKind(kind: string): boolean {
    return this.#kinds.has(kind) && !this.#internalKinds.has(kind);
  }

  get publicKinds(): string[] {
    return this.kinds.filter((kind) => !this.#internalKinds.has(kind));
  }

  get logger(): Logger {
    return this.#logger;
  }

  get config(): Readonly<EngineOptions> {
    return this.#options;
  }

  /** Recovers jobs left by dead processes, starts the pool and begins claiming. */
  async start(): Promise<void> {
    const backoff = this.#backoff();
    this.#pool = new WorkerPool({
      threads: this.#options.threads,
      workerMemoryMb: this.#options.workerMemoryMb,
      abortGraceMs: this.#options.abortGraceMs,
      progressIntervalMs: this.#options.progressIntervalMs,
      niceIncrement: this.#options.niceIncrement,
      onError: (err) => this.#logger.error({ err }, 'worker pool error'),
    });
    const onChange = (job: Job) => this.emit('change', job);
    const dispatcher = (this.#dispatcher = new Dispatcher({
      store: this.#store,
      pool: this.#pool,
      owner: this.ownerId,
      leaseMs: this.#options.leaseMs,
      dataDir: this.dataDir,
      kinds: this.#kinds,
      backoff,
      pollIntervalMs: this.#options.pollIntervalMs,
      logger: this.#logger,
      onChange,
      onAttemptEnd: (report) => {
        this.emit('attemptEnd', report);
        if (isTerminal(report.job.status)) this.emit('finished', report.job);
      },
    }));
    this.#leases = new LeaseKeeper({
      store: this.#store,
      self: { id: this.ownerId, hostname: hostname(), pid: process.pid, startedAt: Date.now(), heartbeatAt: Date.now() },
      leaseMs: this.#options.leaseMs,
      backoff,
      logger: this.#logger,
      runningJobIds: () => dispatcher.runningJobIds(),
      onLeaseLost: (jobId) => void dispatcher.abort(jobId, 'lease_lost', 0),
      onCancelRequested: (jobId) => void dispatcher.abort(jobId, 'cancelled'),
      onChange,
      onRecovered: (job) => {
        this.emit('recovered', job);
        if (isTerminal(job.status)) this.emit('finished', job);
      },
    });
    const recovered = await this.#leases.start();
    this.#logger.info(
      { owner: this.ownerId, threads: this.#options.threads, recovered: recovered.length, kinds: this.kinds },
      'engine started',
    );
    dispatcher.wake();
  }

  /** Stores a new job; resolves once its row is committed. Inserts arriving in the same tick share one commit. */
  async enqueue(request: EnqueueRequest): Promise<Job> {
    return (await this.submit(request)).job;
  }

  /** enqueue, telling whether the job is new or an earlier one with the same idempotency key. */
  async submit(request: EnqueueRequest): Promise<SubmitResult> {
    if (this.#closing) throw new EngineError('shutting_down', 'The engine is shutting down and accepts no new jobs.');
    if (!this.#kinds.has(request.kind)) {
      throw new EngineError('unknown_kind', `No worker module is registered for job kind "${request.kind}".`);
    }
    const timeoutMs = this.#timeoutOf(request);
    await this.#assertQueueHasRoom();
    const now = Date.now();
    const job: NewJob = {
      id: randomUUID(),
      kind: request.kind,
      payload: request.payload ?? {},
      priority: request.priority ?? 0,
      runAt: request.runAt ?? now,
      maxAttempts: request.maxAttempts ?? this.#options.defaultMaxAttempts,
      timeoutMs,
      createdAt: now,
      idempotencyKey: request.idempotencyKey ?? null,
      requestHash: request.requestHash ?? null,
    };
    this.#uncommittedInserts++;
    let result: SubmitResult;
    try {
      // The store's group commit puts inserts that arrive together into one transaction; waking the dispatcher
      // now queues its claim behind the insert, so an idle thread takes the job in that same commit.
      const inserted = this.#store.insert([job]);
      this.#dispatcher?.wake();
      [result] = (await inserted) as [SubmitResult];
    } finally {
      this.#uncommittedInserts--;
    }
    if (result.created) {
      this.emit('change', result.job);
      this.#dispatcher?.wake();
    }
    if (!result.created && result.job.requestHash !== job.requestHash) {
      throw new EngineError('idempotency_conflict', 'This Idempotency-Key was already used with a different request.');
    }
    return result;
  }

  async countActiveForDataset(datasetId: string): Promise<number> {
    return this.#store.countActiveForDataset(datasetId);
  }

  /** Forgets idempotency keys of jobs finished before `finishedBefore` (they expire with the job's results). */
  async expireIdempotencyKeys(finishedBefore: number): Promise<number> {
    return this.#store.expireIdempotencyKeys(finishedBefore);
  }

  async get(id: string): Promise<Job | undefined> {
    return this.#store.get(id);
  }

  async list(request: ListJobsRequest = {}): Promise<{ jobs: Job[]; nextCursor: string | null }> {
    const limit = request.limit ?? 50;
    const beforeSeq = request.cursor === undefined ? undefined : decodeCursor(request.cursor);
    const rows = await this.#store.list({ kind: request.kind, status: request.status, limit: limit + 1, beforeSeq });
    const jobs = rows.slice(0, limit);
    return { jobs, nextCursor: rows.length > limit ? encodeCursor(jobs[jobs.length - 1]!.seq) : null };
  }

  /**
   * Cancels a pending job at once, or a running one of this process (resolving after its thread stopped and
   * `cancelled` is written). A job running in another process is flagged; its owner stops it at its next heartbeat.
   */
  async cancel(id: string): Promise<CancelResult | undefined> {
    for (;;) {
      const job = await this.#store.get(id);
      if (!job) return undefined;
      if (isTerminal(job.status)) return { state: 'already_finished', job };
      const now = Date.now();
      if (job.status === 'pending') {
        const cancelled = await this.#store.cancelPending(id, { code: 'cancelled', message: 'The job was cancelled before it started.' }, now);
        if (cancelled) {
          this.emit('change', cancelled);
          this.emit('finished', cancelled);
          return { state: 'cancelled', job: cancelled };
        }
        continue; // claimed meanwhile: cancel it as a running job
      }
      if (await this.#dispatcher?.abort(id, 'cancelled')) {
        const after = (await this.#store.get(id))!;
        return isTerminal(after.status) ? { state: 'cancelled', job: after } : { state: 'cancel_requested', job: after };
      }
      const flagged = await this.#store.requestCancel(id, now);
      if (flagged) {
        this.emit('change', flagged);
        return { state: 'cancel_requested', job: flagged };
      }
    }
  }

  /** Calls `listener` with each new state of job `id`; returns the unsubscribe function. */
  watch(id: string, listener: (job: Job) => void): () => void {
    const onChange = (job: Job) => {
      if (job.id === id) listener(job);
    };
    this.on('change', onChange);
    return () => this.off('change', onChange);
  }

  stats(): EngineStats {
    return {
      threads: this.#options.threads,
      busyThreads: this.#pool?.busy ?? 0,
      closing: this.#closing,
    };
  }

  async countPending(): Promise<number> {
    return this.#store.countPending();
  }

  /** Pending and running jobs of the whole database (every process sharing it), per kind. */
  async countByKindAndStatus(): Promise<Array<{ kind: string; status: 'pending' | 'running'; count: number }>> {
    return this.#store.countByKindAndStatus();
  }

  /** True when the database accepts writes and the pool is up. */
  async isReady(): Promise<boolean> {
    if (this.#closing || !this.#pool) return false;
    try {
      await this.#store.ping();
      return true;
    } catch {
      return false;
    }
  }

  get isClosing(): boolean {
    return this.#closing;
  }

  /**
   * Graceful shutdown: refuses new jobs, lets running ones finish for up to `graceMs`, then terminates the rest
   * and puts them back to pending without counting the attempt.
   */
  close({ graceMs = 10_000 }: { graceMs?: number } = {}): Promise<void> {
    this.#closed ??= this.#close(graceMs);
    return this.#closed;
  }

  async #close(graceMs: number): Promise<void> {
    this.#closing = true;
    const drained = await this.#dispatcher?.drain(graceMs);
    await this.#leases?.stop();
    await this.#pool?.destroy();
    await this.#store.close();
    this.#logger.info({ ...drained }, 'engine stopped');
    this.emit('closed');
  }

  /** Pending rows of every process (job_counts) plus this process's inserts not yet committed. */
  async #assertQueueHasRoom(): Promise<void> {
    const pending = await this.#store.countPending();
    if (pending + this.#uncommittedInserts >= this.#options.maxPending) {
      throw new EngineError('queue_full', `The queue already holds ${this.#options.maxPending} pending jobs; try again later.`);
    }
  }

  /** The job's own timeout, within the ceiling, or the default one: every job gets a timeout. */
  #timeoutOf(request: EnqueueRequest): number {
    const { maxTimeoutMs, defaultTimeoutMs } = this.#options;
    if (request.timeoutMs === undefined || request.timeoutMs === null) return defaultTimeoutMs;
    if (!Number.isSafeInteger(request.timeoutMs) || request.timeoutMs < 1) {
      throw new EngineError('invalid_option', 'A job\'s timeoutMs must be a positive integer (milliseconds).');
    }
    if (request.timeoutMs > maxTimeoutMs) {
      throw new EngineError('timeout_too_long', `The timeout of ${request.timeoutMs} ms is over this server's ceiling of ${maxTimeoutMs} ms.`, {
        details: { max_timeout_ms: maxTimeoutMs },
      });
    }
    return request.timeoutMs;
  }

  #backoff(): BackoffOptions {
    return { baseMs: this.#options.retryBaseMs, maxMs: this.#options.retryMaxMs };
  }
}

export function createEngine(options: EngineOptions): Engine {
  return new Engine(options);
}

function validatePositiveInteger(name: string, value: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new EngineError('invalid_option', `options.${name} must be a positive integer`);
  }
  if (value > max) throw new EngineError('invalid_option', `options.${name} must be at most ${max}`);
}

function encodeCursor(seq: number): string {
  return Buffer.from(String(seq)).toString('base64url');
}

function decodeCursor(cursor: string): number {
  const seq = Number(Buffer.from(cursor, 'base64url').toString());
  if (!Number.isSafeInteger(seq) || seq < 0) throw new EngineError('invalid_option', 'The cursor is not one this server issued.');
  return seq;
}
