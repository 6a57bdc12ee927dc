import { openMigratedPostgres } from '../db/postgres-migrate.js';
import { prepareNamedSql, runSql, runSqlCount, type Sql } from '../db/postgres-connection.js';
import type { Durability } from '../db/open-database.js';
import { migrationsDirectory } from '../runtime/single-executable.js';
import type { DatasetCatalog, DatasetRecord } from './dataset-catalog.js';

/** The catalog's table in PostgreSQL and its migrations, a set of their own (after the job store's). */
export const POSTGRES_CATALOG_MIGRATIONS = {
  component: 'catalog',
  // A getter: in the single executable the files exist only once extracted, after this module loaded.
  get dir() {
    return migrationsDirectory('pg-catalog', new URL('./postgres-migrations/', import.meta.url));
  },
};

const COLUMNS = `seq, id, name, job_id AS "jobId", created_at AS "createdAt"`;

/** All SQL of the `datasets` table in PostgreSQL. */
const SQL = prepareNamedSql({
  insert: `INSERT INTO datasets (id, name, job_id, created_at) VALUES (@id, @name, @job_id, @created_at)`,
  get: `SELECT ${COLUMNS} FROM datasets WHERE id = @id`,
  list: `SELECT ${COLUMNS} FROM datasets WHERE seq < @before ORDER BY seq DESC LIMIT @limit`,
  remove: `DELETE FROM datasets WHERE id = @id`,
});

/** Connects (a small pool of its own: catalog requests are few) and brings the table up to date. */
export async function openPostgresDatasetCatalog(url: string, { durability = 'normal' }: { durability?: Durability } = {}): Promise<PostgresDatasetCatalog> {
  return new PostgresDatasetCatalog(await openMigratedPostgres(url, POSTGRES_CATALOG_MIGRATIONS, { max: 3, durability }));
}

export class PostgresDatasetCatalog implements DatasetCatalog {
  readonly #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  async create(record: Omit<DatasetRecord, 'seq'>): Promise<void> {
    await runSql(this.#sql, SQL.insert, { id: record.id, name: record.name, job_id: record.jobId, created_at: record.createdAt });
  }

  async get(id: string): Promise<DatasetRecord | undefined> {
    return (await runSql<DatasetRecord>(this.#sql, SQL.get, { id }))[0];
  }

  async list({ limit, beforeSeq }: { limit: number; beforeSeq?: number }): Promise<DatasetRecord[]> {
    return runSql<DatasetRecord>(this.#sql, SQL.list, { limit, before: beforeSeq ?? Number.MAX_SAFE_INTEGER });
  }

  async remove(id: string): Promise<boolean> {
    return (await runSqlCount(this.#sql, SQL.remove, { id })) > 0;
  }

  async close(): Promise<void> {
    await this.#sql.end({ timeout: 5 });
  }
}
