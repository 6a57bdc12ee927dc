import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Engine } from '../engine/engine.js';
import { isTerminal, type Job, type JobError } from '../engine/job.js';
import { openDatabase } from '../db/open-database.js';
import { containedPath, DATA_DIRS, dataSubdir, datasetPath, isUuid, jobsDatabasePath, uploadPath } from '../contracts/data-layout.js';
import type { DatasetColumn, ImportContentType, ImportPayload, ImportResult } from '../contracts/import-contract.js';
import { DatasetCatalog, type DatasetRecord } from './dataset-catalog.js';
import { receiveUpload } from './receive-upload.js';

export type DatasetStatus = 'importing' | 'ready' | 'failed';
export type UploadFormat = ImportContentType;


/** A dataset as the API shows it; status, rows and columns are read from its import job. */
export interface DatasetView {
  id: string;
  name: string;
  status: DatasetStatus;
  rows: number | null;
  columns: DatasetColumn[] | null;
  job_id: string;
  error: JobError | null;
  created_at: string;
}

export type RemoveDatasetResult = 'deleted' | 'not_found' | 'in_use';

/**
 * The dataset catalog and its files. An upload is streamed to `uploads/<id>.upload`, then an `import` job turns it
 * into `datasets/<id>.sqlite`; the upload is removed once that job has finished, whatever the outcome.
 */
export class Datasets {
  readonly #engine: Engine;
  readonly #dataDir: string;
  readonly #catalog: DatasetCatalog;
  readonly #close: () => void;

  readonly #maxRecordBytes: number | undefined;

  /** `maxRecordBytes`: the largest single record an import accepts (the import's own default when undefined). */
  constructor(engine: Engine, { maxRecordBytes }: { maxRecordBytes?: number } = {}) {
    this.#engine = engine;
    this.#dataDir = engine.dataDir;
    this.#maxRecordBytes = maxRecordBytes;
    // Its own connection to jobs.db (already migrated by the engine); same thread, so writes never contend.
    const db = openDatabase(jobsDatabasePath(this.#dataDir), { durability: engine.config.durability });
    this.#catalog = new DatasetCatalog(db);
    this.#close = () => db.close();
    mkdirSync(dataSubdir(this.#dataDir, DATA_DIRS.uploads), { recursive: true });
    engine.on('change', this.#onJobChange);
    engine.once('closed', () => this.close());
  }

  /** Streams the upload to disk, then enqueues its import. The catalog row is written after the job's commit. */
  async create({ name, format, body, limitBytes }: { name: string; format: UploadFormat; body: Readable; limitBytes: number }): Promise<DatasetView> {
    const id = randomUUID();
    const sourcePath = containedPath(this.#dataDir, uploadPath(this.#dataDir, id));
    const bytes = await receiveUpload(body, sourcePath, limitBytes);
    if (bytes === 0) {
      await rm(sourcePath, { force: true });
      throw new EmptyUploadError('The upload is empty: send a CSV file with a header row, or NDJSON lines.');
    }
    try {
      const payload: ImportPayload = {
        dataset_id: id,
        content_type: format,
        ...(this.#maxRecordBytes === undefined ? {} : { max_record_bytes: this.#maxRecordBytes }),
      };
      const job = await this.#engine.enqueue({ kind: 'import', payload });
      const record = { id, name, jobId: job.id, createdAt: job.createdAt };
      this.#catalog.create(record);
      return toView({ ...record, seq: 0 }, job);
    } catch (err) {
      await rm(sourcePath, { force: true });
      throw err;
    }
  }

  async get(id: string): Promise<DatasetView | undefined> {
    const record = this.#catalog.get(id);
    return record && toView(record, await this.#engine.get(record.jobId));
  }

  async list({ limit, cursor }: { limit: number; cursor?: number }): Promise<{ datasets: DatasetView[]; nextCursor: number | null }> {
    const records = this.#catalog.list({ limit: limit + 1, beforeSeq: cursor });
    const page = records.slice(0, limit);
    const datasets = await Promise.all(page.map(async (record) => toView(record, await this.#engine.get(record.jobId))));
    return { datasets, nextCursor: records.length > limit ? page[page.length - 1]!.seq : null };
  }

  /** Refuses while an export of it (or its import) is pending or running. */
  async remove(id: string): Promise<RemoveDatasetResult> {
    if (!this.#catalog.get(id)) return 'not_found';
    if ((await this.#engine.countActiveForDataset(id)) > 0) return 'in_use';
    this.#catalog.remove(id);
    await rm(containedPath(this.#dataDir, datasetPath(this.#dataDir, id)), { force: true });
    return 'deleted';
  }

  close(): void {
    this.#engine.off('change', this.#onJobChange);
    this.#close();
  }

  readonly #onJobChange = (job: Job): void => {
    if (job.kind !== 'import' || !isTerminal(job.status)) return;
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

export class EmptyUploadError extends Error {
  override name = 'EmptyUploadError';
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
    job_id: record.jobId,
    error: job?.status === 'pending' ? null : job?.error ?? null,
    created_at: new Date(record.createdAt).toISOString(),
  };
}
