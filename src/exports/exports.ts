import { stat, rm } from 'node:fs/promises';
import type { CancelResult, Engine, SubmitResult } from '../engine/engine.js';
import type { Job } from '../engine/job.js';
import type { Datasets } from '../datasets/datasets.js';
import { containedPath, exportPath } from '../contracts/data-layout.js';
import { exportExtension, type ExportCompression, type ExportFormatName, type ExportPayload, type ExportResult } from '../contracts/export-contract.js';

export interface CreateExportRequest {
  dataset_id: string;
  format: ExportFormatName;
  columns?: string[];
  compression?: ExportCompression;
  priority?: number;
  max_attempts?: number;
  timeout_ms?: number;
}

export type CreateExportOutcome =
  | ({ ok: true } & SubmitResult)
  | { ok: false; reason: 'dataset_not_found' | 'dataset_not_ready' | 'unknown_column'; message: string; details?: unknown };

export type DownloadOutcome =
  | { state: 'not_found' }
  | { state: 'not_ready'; job: Job }
  | { state: 'failed'; job: Job }
  | { state: 'gone'; job: Job }
  | { state: 'ready'; job: Job; artifact: ExportResult; path: string; size: number; mtime: Date };

export type RemoveExportOutcome = { state: 'not_found' } | { state: 'deleted' } | CancelResult;

/** Exports are jobs of kind `export`; their files live in `<dataDir>/exports/` until `resultTtlMs` after they finish. */
export class Exports {
  readonly #engine: Engine;
  readonly #datasets: Datasets;
  readonly resultTtlMs: number;

  constructor(engine: Engine, datasets: Datasets, resultTtlMs: number) {
    this.#engine = engine;
    this.#datasets = datasets;
    this.resultTtlMs = resultTtlMs;
  }

  /** Checks the dataset and columns now (422/409 at enqueue), so that most mistakes never reach a worker. */
  async create(request: CreateExportRequest, idempotency?: { idempotencyKey: string; requestHash: string }): Promise<CreateExportOutcome> {
    const dataset = await this.#datasets.get(request.dataset_id);
    if (!dataset) return { ok: false, reason: 'dataset_not_found', message: `No dataset with id ${request.dataset_id}.` };
    if (dataset.status !== 'ready') {
      return { ok: false, reason: 'dataset_not_ready', message: `The dataset is ${dataset.status === 'importing' ? 'still importing' : 'not usable: its import failed'}.` };
    }
    const known = new Set(dataset.columns!.map((c) => c.name));
    const unknown = (request.columns ?? []).filter((name) => !known.has(name));
    if (unknown.length > 0) {
      return { ok: false, reason: 'unknown_column', message: `The dataset has no column ${unknown.map((n) => JSON.stringify(n)).join(', ')}.`, details: { unknown_columns: unknown } };
    }
    const payload: ExportPayload = {
      dataset_id: request.dataset_id,
      format: request.format,
      ...(request.columns ? { columns: request.columns } : {}),
      compression: request.compression ?? 'none',
      filename_base: dataset.name,
    };
    const result = await this.#engine.submit({
      kind: 'export',
      payload,
      priority: request.priority,
      maxAttempts: request.max_attempts,
      timeoutMs: request.timeout_ms,
      ...idempotency,
    });
    return { ok: true, ...result };
  }

  async get(id: string): Promise<Job | undefined> {
    const job = await this.#engine.get(id);
    return job?.kind === 'export' ? job : undefined;
  }

  /** The job document's `result` for an export: where to download it, what it is, until when it is kept. */
  async describeResult(job: Job): Promise<Record<string, unknown> | null> {
    if (job.status !== 'succeeded' || !job.result) return null;
    const artifact = job.result as ExportResult;
    const expiresAt = new Date((job.finishedAt ?? job.updatedAt) + this.resultTtlMs).toISOString();
    const available = (await this.#fileStat(job)) !== undefined;
    return {
      download_url: `/exports/${job.id}/download`,
      bytes: artifact.bytes,
      rows: artifact.rows,
      sha256: artifact.sha256,
      content_type: artifact.content_type,
      filename: artifact.filename,
      expires_at: expiresAt,
      expired: !available,
    };
  }

  async download(id: string): Promise<DownloadOutcome> {
    const job = await this.get(id);
    if (!job) return { state: 'not_found' };
    if (job.status === 'pending' || job.status === 'running') return { state: 'not_ready', job };
    if (job.status !== 'succeeded') return { state: 'failed', job };
    const artifact = job.result as ExportResult;
    const path = this.#fileOf(job);
    const stats = await this.#fileStat(job);
    if (!path || !stats) return { state: 'gone', job };
    return { state: 'ready', job, artifact, path, size: stats.size, mtime: stats.mtime };
  }

  /** Cancels a pending or running export; deletes the file of a finished one (the job row stays, as history). */
  async remove(id: string): Promise<RemoveExportOutcome> {
    const job = await this.get(id);
    if (!job) return { state: 'not_found' };
    if (job.status === 'pending' || job.status === 'running') return (await this.#engine.cancel(id))!;
    const file = job.status === 'succeeded' ? this.#fileOf(job) : undefined;
    if (file) await rm(file, { force: true });
    return { state: 'deleted' };
  }

  async #fileStat(job: Job) {
    const path = this.#fileOf(job);
    if (!path) return undefined;
    try {
      const stats = await stat(path);
      return stats.isFile() ? stats : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * The export's file, derived from its job id and the payload the server built — never from a path stored in
   * a row — and checked to resolve inside the data directory. Undefined when it cannot name a file there.
   */
  #fileOf(job: Job): string | undefined {
    const { format, compression } = job.payload as Partial<ExportPayload>;
    try {
      return containedPath(this.#engine.dataDir, exportPath(this.#engine.dataDir, job.id, exportExtension(format!, compression)));
    } catch {
      return undefined;
    }
  }
}
