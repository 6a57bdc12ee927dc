import type { Database } from 'better-sqlite3';

export interface DatasetRecord {
  id: string;
  name: string;
  jobId: string;
  createdAt: number;
  seq: number;
}

/**
 * The `datasets` table, where the jobs are: in jobs.db with the SQLite store (below), in PostgreSQL with the
 * PostgreSQL store (postgres-dataset-catalog.ts). Rows of a dataset live in its own file, not here.
 */
export interface DatasetCatalog {
  create(record: Omit<DatasetRecord, 'seq'>): Promise<void>;
  get(id: string): Promise<DatasetRecord | undefined>;
  /** Newest first; `beforeSeq` is the cursor. */
  list(page: { limit: number; beforeSeq?: number }): Promise<DatasetRecord[]>;
  /** False when there was no such row. */
  remove(id: string): Promise<boolean>;
  close(): Promise<void>;
}

/** All SQL of the `datasets` table in SQLite (catalog migration 0001). */
export class SqliteDatasetCatalog implements DatasetCatalog {
  readonly #db: Database;
  readonly #sql;

  /** `db`: from openCatalogDatabase (datasets.ts); closed by close(). */
  constructor(db: Database) {
    this.#db = db;
    this.#sql = {
      insert: db.prepare(`INSERT INTO datasets (id, name, job_id, created_at) VALUES (@id, @name, @job_id, @created_at)`),
      get: db.prepare(`SELECT seq, id, name, job_id AS jobId, created_at AS createdAt FROM datasets WHERE id = ?`),
      list: db.prepare(`
        SELECT seq, id, name, job_id AS jobId, created_at AS createdAt FROM datasets
        WHERE (@before IS NULL OR seq < @before) ORDER BY seq DESC LIMIT @limit`),
      remove: db.prepare(`DELETE FROM datasets WHERE id = ?`),
    };
  }

  async create(record: Omit<DatasetRecord, 'seq'>): Promise<void> {
    this.#sql.insert.run({ id: record.id, name: record.name, job_id: record.jobId, created_at: record.createdAt });
  }

  async get(id: string): Promise<DatasetRecord | undefined> {
    return this.#sql.get.get(id) as DatasetRecord | undefined;
  }

  async list({ limit, beforeSeq }: { limit: number; beforeSeq?: number }): Promise<DatasetRecord[]> {
    return this.#sql.list.all({ limit, before: beforeSeq ?? null }) as DatasetRecord[];
  }

  async remove(id: string): Promise<boolean> {
    return this.#sql.remove.run(id).changes > 0;
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}
