import type { Sql } from '../../db/postgres-connection.js';

/** A write of the store: its statements, run on the connection (or transaction) it is given. */
export type PostgresWrite<T> = (sql: Sql) => Promise<T>;

interface QueuedWrite {
  run: PostgresWrite<unknown>;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

/**
 * How the PostgreSQL store commits its writes; every promise resolves only after the COMMIT of its write.
 *
 * - Grouped (`--durability full`, where each commit waits for the server's WAL flush): writes that arrive in the
 *   same turn of the event loop share one transaction, so one flush serves them all — 6.2k → 13.2k concurrent
 *   inserts/s measured (bench/pg-group-commit.ts). If that transaction fails (one write's constraint, a
 *   deadlock with another node), it is rolled back whole and each write is run again in a transaction of its
 *   own, so that only the faulty one fails.
 * - Direct (`normal`: commits do not wait for the flush): each write is its own transaction on the pool, which
 *   measured as fast or faster than grouping (12.7k vs 10.6k/s): nothing to share.
 */
export class PostgresCommits {
  readonly #sql: Sql;
  readonly #grouped: boolean;
  #queue: QueuedWrite[] = [];
  #flushing = new Set<Promise<void>>();

  constructor(sql: Sql, { grouped }: { grouped: boolean }) {
    this.#sql = sql;
    this.#grouped = grouped;
  }

  /** `atomic`: the write has several statements that must commit together (direct mode wraps them in a transaction). */
  write<T>(run: PostgresWrite<T>, { atomic = false }: { atomic?: boolean } = {}): Promise<T> {
    if (!this.#grouped) return atomic ? (this.#sql.begin((tx) => run(tx as unknown as Sql)) as Promise<T>) : run(this.#sql);
    return new Promise<T>((resolve, reject) => {
      if (this.#queue.push({ run, resolve: resolve as (value: unknown) => void, reject }) === 1) setImmediate(() => this.#flush());
    });
  }

  /** Resolves once every queued write has committed or failed. */
  async settled(): Promise<void> {
    while (this.#queue.length > 0 || this.#flushing.size > 0) {
      if (this.#queue.length > 0) this.#flush();
      await Promise.allSettled([...this.#flushing]);
    }
  }

  #flush(): void {
    const batch = this.#queue;
    this.#queue = [];
    if (batch.length === 0) return;
    const flushing = this.#commit(batch).finally(() => this.#flushing.delete(flushing));
    this.#flushing.add(flushing);
  }

  async #commit(batch: QueuedWrite[]): Promise<void> {
    if (batch.length > 1) {
      try {
        const results = await this.#sql.begin(async (tx) => {
          const values: unknown[] = [];
          for (const write of batch) values.push(await write.run(tx as unknown as Sql));
          return values;
        });
        batch.forEach((write, i) => write.resolve(results[i]));
        return;
      } catch {
        // Rolled back whole: each write on its own below, so that only the one at fault fails.
      }
    }
    await Promise.all(batch.map(async (write) => {
      try {
        write.resolve(await this.#sql.begin((tx) => write.run(tx as unknown as Sql)));
      } catch (err) {
        write.reject(err);
      }
    }));
  }
}
