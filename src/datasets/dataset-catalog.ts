import type { Database } from 'better-sqlite3';

export interface DatasetRecord {
  id: string;
  name: string;
  jobId: string;
  createdAt: number;
  seq: number;
}

/** All SQL of the `datasets` table (migration 0002). Rows of a dataset live in its own file, not here. */
export class DatasetCatalog {
  readonly #sql;

  constructor(db: Database) {
    this.#sql = {
      insert: db.prepare(`INSERT INTO datasets (id, name, job_id, created_at) VALUES (@id, @name, @job_id, @created_at)`),
      get: db.prepare(`SELECT seq, id, name, job_id AS jobId, created_at AS createdAt FROM datasets WHERE id = ?`),
      list: db.prepare(`
        SELECT seq, id, name, job_id AS jobId, created_at AS createdAt FROM datasets
        WHERE (@before IS NULL OR seq < @before) ORDER BY seq DESC LIMIT @limit`),
      remove: db.prepare(`DELETE FROM datasets WHERE id = ?`),
    };
  }

  create(record: Omit<DatasetRecord, 'seq'>): void {
    this.#sql.insert.run({ id: record.id, name: record.name, job_id: record.jobId, created_at: record.createdAt });
  }

  get(id: string): DatasetRecord | undefined {
    return this.#sql.get.get(id) as DatasetRecord | undefined;
  }

  list({ limit, beforeSeq }: { limit: number; beforeSeq?: number }): DatasetRecord[] {
    return this.#sql.list.all({ limit, before: beforeSeq ?? null }) as DatasetRecord[];
  }

  remove(id: string): boolean {
    return this.#sql.remove.run(id).changes > 0;
  }
}
