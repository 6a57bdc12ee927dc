import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Engine } from '../engine/engine.js';
import { isTerminal, type Job, type JobError } from '../engine/job.js';
import type { Database } from 'better-sqlite3';
import { containedPath, DATA_DIRS, dataSubdir, datasetPath, isUuid, jobsDatabasePath, uploadPath } from '../contracts/data-layout.js';
import { openMigratedDatabase } from '../db/migrate.js';
import type { Durability } from '../db/open-database.js';
import { DomainError } from '../domain-error.js';
import { migrationsDirectory } from '../runtime/single-executable.js';
import { IMPORT_KIND, type DatasetColumn, type ImportContentType, type ImportPayload, type ImportResult } from '../contracts/import-contract.js';
import type { DatasetCatalog, DatasetRecord } from './dataset-catalog.js';
import { receiveUpload } from './receive-upload.js';
import { readDatasetPreview, type DatasetPreview } from './dataset-preview.js';

export type DatasetStatus = 'importing' | 'ready' | 'failed';
export type UploadFormat = ImportContentType;

/** How the import reads an upload (the query options of POST /datasets); see ImportPayload. */
export interface ImportOptions {
  delimiter?: ImportPayload['delimiter'];
  nullTokens: string[];
  charset: NonNullable<ImportPayload['charset']>;
  columnTypes: NonNullable<ImportPayload['column_types']>;
}


/** A dataset as the API shows it; status, rows and columns are read from its import job. */
export interface DatasetView {
  id: string;
  name: string;
  status: DatasetStatus;
  rows: number | null;
  columns: DatasetColumn[] | null;
  /** From the import's result: how the upload was read, and what looked wrong. */
  import: Required<Pick<ImportResult, 'format' | 'delimiter' | 'charset' | 'null_tokens'>> | null;
  warnings: string[];
  job_id: string;
  error: JobError | null;
  created_at: string;
}

/** The catalog's table and its migrations, a set of their own in the jobs database (after the engine's). */
export const CATALOG_MIGRATIONS = {
  component: 'catalog',
  // A getter: in the single executable the files exist only once extracted, after this module loaded.
  get dir() {
    return migrationsDirectory('catalog', new URL('./migrations/', import.meta.url));
  },
};

/**
 * A connection of the catalog's own to `<dataDir>/jobs.db`, its tables brought up to date; same thread as the job
 * store, so their writes never contend. Run after the job store opened (its migrations come first).
 */
export function openCatalogDatabase(dataDir: string, { durability = 'normal' }: { durability?: Durability } = {}): Database {
  // Its writes are synchronous: a short busy timeout, so that a lock held elsewhere fails a request (503)
  // instead of stalling the event loop.
  return openMigratedDatabase(jobsDatabasePath(dataDir), CATALOG_MIGRATIONS, { durability, busyTimeoutMs: 100 });
}

/**
 * The dataset catalog and its files. An upload is streamed to `uploads/<id>.upload`, then an `import` job turns it
 * into `datasets/<id>.sqlite`; the upload is removed once that job has finished, whatever the outcome.
 */
export class Datasets {
  readonly #engine: Engine;
  readonly #dataDir: string;
  readonly #catalog: DatasetCatalog;
  readonly #maxRecordBytes: number | undefined;

  /**
   * `catalog`: where dataset rows are (SQLite or PostgreSQL, beside the jobs), closed with the engine. `maxRecordBytes`: the largest single record an import
   * accepts (the import's own default when undefined).
   */
  constructor(engine: Engine, catalog: DatasetCatalog, { maxRecordBytes }: { maxRecordBytes?: number } = {}) {
    this.#engine = engine;
    this.#dataDir = engine.dataDir;
    this.#maxRecordBytes = maxRecordBytes;
    this.#catalog = catalog;
    mkdirSync(dataSubdir(this.#dataDir, DATA_DIRS.uploads), { recursive: true });
    engine.on('change', this.#onJobChange);
    engine.once('closed', () => void this.close());
  }

  /** Streams the upload to disk, then enqueues its import. The catalog row is written after the job's commit. */
  async create({ name, format, body, limitBytes, options }: { name: string; format: UploadFormat; body: Readable; limitBytes: number; options?: ImportOptions }): Promise<DatasetView> {
    const id = randomUUID();
    const sourcePath = containedPath(this.#dataDir, uploadPath(this.#dataDir, id));
    const bytes = await receiveUpload(body, sourcePath, limitBytes);
    if (bytes === 0) {
      await rm(sourcePath, { force: true });
      throw new DomainError('upload_empty', 'The upload is empty: send a CSV file with a header row, or NDJSON lines.');
    }
    try {
      const payload: ImportPayload = {
        dataset_id: id,
        content_type: format,
        ...(this.#maxRecordBytes === undefined ? {} : { max_record_bytes: this.#maxRecordBytes }),
        ...(options ? importPayloadOptions(options) : {}),
      };
      // Pinned: the catalog row references the import job and reads the dataset's columns from it.
      const { job } = await this.#engine.enqueue({ kind: IMPORT_KIND, payload, ref: id, pinned: true });
      const record = { id, name, jobId: job.id, createdAt: job.createdAt };
      await this.#catalog.create(record);
      return toView({ ...record, seq: 0 }, job);
    } catch (err) {
      await rm(sourcePath, { force: true });
      throw err;
    }
  }

  async get(id: string): Promise<DatasetView | undefined> {
    const record = await this.#catalog.get(id);
    return record && toView(record, await this.#engine.get(record.jobId));
  }

  async list({ limit, cursor }: { limit: number; cursor?: number }): Promise<{ datasets: DatasetView[]; nextCursor: number | null }> {
    const records = await this.#catalog.list({ limit: limit + 1, beforeSeq: cursor });
    const page = records.slice(0, limit);
    const datasets = await Promise.all(page.map(async (record) => toView(record, await this.#engine.get(record.jobId))));
    return { datasets, nextCursor: records.length > limit ? page[page.length - 1]!.seq : null };
  }

  /** False when there is no such dataset; refuses while its import or an export of it is pending or running. */
  async remove(id: string): Promise<boolean> {
    const record = await this.#catalog.get(id);
    if (!record) return false;
    if ((await this.#engine.countActive({ ref: id })) > 0) {
      throw new DomainError('dataset_in_use', 'The dataset is being imported or exported; cancel those jobs or wait for them to finish.');
    }
    await this.#catalog.remove(id);
    await rm(containedPath(this.#dataDir, datasetPath(this.#dataDir, id)), { force: true });
    // Its import job was pinned to keep the dataset's document whole; with the dataset gone, retention may take it.
    await this.#engine.unpin(record.jobId);
    return true;
  }

  /** Its columns and first rows, once ready; undefined when there is no such dataset or its file is gone. */
  async preview(id: string, limit: number): Promise<{ dataset: DatasetView; preview?: DatasetPreview } | undefined> {
    const dataset = await this.get(id);
    if (!dataset) return undefined;
    return { dataset, preview: dataset.status === 'ready' ? readDatasetPreview(this.#dataDir, dataset.id, limit) : undefined };
  }

  /** Pending and running jobs of this dataset (its import, its exports). */
  async countActiveJobs(id: string): Promise<number> {
    return this.#engine.countActive({ ref: id });
  }

  async close(): Promise<void> {
    this.#engine.off('change', this.#onJobChange);
    await this.#catalog.close();
  }

  readonly #onJobChange = (job: Job): void => {
    if (job.kind !== IMPORT_KIND || !isTerminal(job.status)) return;
    // The path is derived from the id alone, so no payload can point this removal anywhere else.
    const datasetId = (job.payload as { dataset_id?: unknown } | null)?.dataset_id;
    if (!isUuid(datasetId)) return;
    try {
      void rm(containedPath(this.#dataDir, uploadPath(this.#dataDir, datasetId)), { force: true }).catch(() => {});
    } catch (err) {
      this.#engine.logger.warn({ err, dataset_id: datasetId }, 'upload not removed');
    }
  };
}

function toView(record: DatasetRecord, job: Job | undefined): DatasetView {
  const result = job?.status === 'succeeded' ? (job.result as ImportResult) : undefined;
  const status: DatasetStatus = !job || job.status === 'failed' || job.status === 'cancelled' ? 'failed' : result ? 'ready' : 'importing';
  return {
    id: record.id,
    name: record.name,
    status,
    rows: result?.rows ?? null,
    columns: result?.columns ?? null,
    import: result?.format
      ? { format: result.format, delimiter: result.delimiter ?? null, charset: result.charset ?? 'utf-8', null_tokens: result.null_tokens ?? [] }
      : null,
    warnings: result?.warnings ?? [],
    job_id: record.jobId,
    error: job?.status === 'pending' ? null : job?.error ?? null,
    created_at: new Date(record.createdAt).toISOString(),
  };
}

function importPayloadOptions(options: ImportOptions): Partial<ImportPayload> {
  return {
    ...(options.delimiter ? { delimiter: options.delimiter } : {}),
    ...(options.nullTokens.length > 0 ? { null_tokens: options.nullTokens } : {}),
    ...(options.charset !== 'utf-8' ? { charset: options.charset } : {}),
    ...(options.columnTypes.length > 0 ? { column_types: options.columnTypes } : {}),
  };
}
