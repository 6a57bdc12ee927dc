import type { Database } from 'better-sqlite3';

/** The busy timeout of the store's connection: short, so that a lock held elsewhere never stalls the event loop. */
export const STORE_BUSY_TIMEOUT_MS = 20;
const BUSY_FIRST_RETRY_MS = 10;
const BUSY_MAX_RETRY_MS = 250;
/** How long a write waits, asynchronously, for another process's write lock before it fails. */
const BUSY_GIVE_UP_MS = 10_000;

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
}

interface QueuedWrite {
  run(): unknown;
  resolve(value: any): void;
  reject(err: unknown): void;
}

/**
 * Group commit: every write is queued and the queue runs as one `BEGIN IMMEDIATE … COMMIT` on the next turn of
 * the event loop; each promise resolves only after that COMMIT. Writes that arrive together (a burst of enqueues,
 * outcomes and claims of several threads) share one commit — one WAL append, one fsync with durability `full` —
 * instead of one each. Each write runs in a savepoint: a failing one is undone whole, the others commit.
 */
export class GroupCommit {
  readonly #db: Database;
  #queue: QueuedWrite[] = [];
  #flushing: Promise<void> | undefined;
  #busySince: number | undefined;
  #busyDelayMs = BUSY_FIRST_RETRY_MS;

  constructor(db: Database) {
    this.#db = db;
  }

  write<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ run, resolve, reject });
      if (this.#queue.length === 1 && this.#busySince === undefined) this.#scheduleFlush(0);
    });
  }

  /** Resolves once every queued write has committed or failed (flushes may chain). */
  async settled(): Promise<void> {
    while (this.#flushing) {
      const flushing = this.#flushing;
      await flushing;
      if (this.#flushing === flushing) break;
    }
  }

  #scheduleFlush(delayMs: number): void {
    this.#flushing = new Promise((done) => {
      const flush = () => done(this.#flush());
      if (delayMs === 0) setImmediate(flush);
      else setTimeout(flush, delayMs);
    });
  }

  #flush(): void {
    const batch = this.#queue;
    this.#queue = [];
    const results: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    try {
      this.#db.exec('BEGIN IMMEDIATE');
    } catch (error) {
      // Another process holds the write lock. The connection's busy timeout is short so that the event loop is
      // never held for long; the batch waits here, asynchronously, and only fails once the lock outlasts BUSY_GIVE_UP_MS.
      const waited = Date.now() - (this.#busySince ??= Date.now());
      if (isBusy(error) && waited < BUSY_GIVE_UP_MS) {
        this.#queue = batch.concat(this.#queue);
        this.#scheduleFlush(this.#busyDelayMs);
        this.#busyDelayMs = Math.min(this.#busyDelayMs * 2, BUSY_MAX_RETRY_MS);
        return;
      }
      this.#busySince = undefined;
      this.#busyDelayMs = BUSY_FIRST_RETRY_MS;
      for (const write of batch) write.reject(error);
      if (this.#queue.length > 0) this.#scheduleFlush(0);
      return;
    }
    this.#busySince = undefined;
    this.#busyDelayMs = BUSY_FIRST_RETRY_MS;
    for (const write of batch) {
      this.#db.exec('SAVEPOINT write');
      try {
        results.push({ ok: true, value: write.run() });
        this.#db.exec('RELEASE write');
      } catch (error) {
        this.#db.exec('ROLLBACK TO write; RELEASE write');
        results.push({ ok: false, error });
      }
    }
    try {
      this.#db.exec('COMMIT');
    } catch (error) {
      if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
      for (const write of batch) write.reject(error);
      return;
    }
    batch.forEach((write, i) => {
      const result = results[i]!;
      if (result.ok) write.resolve(result.value);
      else write.reject(result.error);
    });
    // Writes queued while this batch waited for the lock go in the next commit.
    if (this.#queue.length > 0) this.#scheduleFlush(0);
  }
}
