import { stat, rm, writeFile } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { containedPath, exportDeletedMarkerPath, exportPath } from '../contracts/data-layout.js';
import {
  EXPORT_KIND,
  exportExtension,
  type ExportCompression,
  type ExportFormatName,
  type ExportPayload,
  type ExportResult,
  type ParquetCodec,
} from '../contracts/export-contract.js';
import type { Datasets } from '../datasets/datasets.js';
import { DomainError } from '../domain-error.js';
import type { CancelResult, Engine, EnqueueResult } from '../engine/engine.js';
import type { Job } from '../engine/job.js';

export interface CreateExportRequest {
  dataset_id: string;
  format: ExportFormatName;
  columns?: string[];
  compression?: ExportCompression;
  parquet_codec?: ParquetCodec;
  priority?: number;
  max_attempts?: number;
  timeout_ms?: number;
  /** Not started before this many ms from now (the engine's clock). */
  delayMs?: number;
  /** Checked by the caller against the server's allow-list (see callbacks/callback-address.ts). */
  callback_url?: string;
  /** Flow control: exports of one tenant, say, claimed round-robin with other keys and capped by --group-limit. */
  group_key?: string;
}

export interface ExportFile {
  job: Job;
  result: ExportResult;
  path: string;
  stats: Stats;
}

export type RemoveExportOutcome = { state: 'deleted' } | Exclude<CancelResult, { state: 'already_finished' }>;

/** Exports are jobs of kind `export`; their files live in `<dataDir>/exports/` until `resultTtlMs` after they finish. */
export class Exports {
  readonly #engine: Engine;
  readonly #datasets: Datasets;
  readonly resultTtlMs: number;
  readonly #producer: string | undefined;

  /** `producer` names the software in the files' metadata (Parquet's created_by), e.g. `offload 0.1.0`. */
  constructor(engine: Engine, datasets: Datasets, resultTtlMs: number, { producer }: { producer?: string } = {}) {
    this.#engine = engine;
    this.#datasets = datasets;
    this.resultTtlMs = resultTtlMs;
    this.#producer = producer;
  }

  /** Checks the dataset and columns now, so that most mistakes never reach a worker. */
  async create(request: CreateExportRequest, idempotency?: { idempotencyKey: string; requestHash: string }): Promise<EnqueueResult> {
    const dataset = await this.#datasets.get(request.dataset_id);
    if (!dataset) throw new DomainError('dataset_not_found', `No dataset with id ${request.dataset_id}.`);
    if (dataset.status !== 'ready') {
      throw new DomainError('dataset_not_ready', `The dataset is ${dataset.status === 'importing' ? 'still importing' : 'not usable: its import failed'}.`);
    }
    const known = new Set(dataset.columns!.map((c) => c.name));
    const unknown = (request.columns ?? []).filter((name) => !known.has(name));
    if (unknown.length > 0) {
      throw new DomainError('unknown_column', `The dataset has no column ${unknown.map((n) => JSON.stringify(n)).join(', ')}.`, {
        details: { unknown_columns: unknown },
      });
    }
    const payload: ExportPayload = {
      dataset_id: request.dataset_id,
      format: request.format,
      ...(request.columns ? { columns: request.columns } : {}),
      compression: request.compression ?? 'none',
      filename_base: dataset.name,
      ...(request.parquet_codec ? { parquet_codec: request.parquet_codec } : {}),
      ...(request.format === 'parquet' && this.#producer ? { producer: this.#producer } : {}),
    };
    return this.#engine.enqueue({
      kind: EXPORT_KIND,
      payload,
      ref: dataset.id,
      priority: request.priority,
      maxAttempts: request.max_attempts,
      timeoutMs: request.timeout_ms,
      delayMs: request.delayMs,
      callbackUrl: request.callback_url,
      groupKey: request.group_key,
      ...idempotency,
    });
  }

  async get(id: string): Promise<Job | undefined> {
    const job = await this.#engine.get(id);
    return job?.kind === EXPORT_KIND ? job : undefined;
  }

  /** The job document's `result` for an export: where to download it, what it is, until when it is kept. */
  async describeResult(job: Job): Promise<Record<string, unknown> | null> {
    if (job.status !== 'succeeded' || !job.result) return null;
    const result = job.result as ExportResult;
    const expiresAt = new Date((job.finishedAt ?? job.updatedAt) + this.resultTtlMs).toISOString();
    return {
      download_url: `/exports/${job.id}/download`,
      bytes: result.bytes,
      rows: result.rows,
      sha256: result.sha256,
      content_type: result.content_type,
      filename: result.filename,
      expires_at: expiresAt,
      expired: (await statFile(this.#fileOf(job))) === undefined,
    };
  }

  /**
   * The finished export's file, or a DomainError saying why there is none. Several nodes share the data directory:
   * a file is served only if it is the one the export wrote (its size as recorded; files are renamed into place
   * whole, never rewritten), so a node whose copy of the directory is missing or behind answers
   * `export_file_unavailable` instead of a wrong file, and `export_gone` only when the file expired or was deleted.
   */
  async file(job: Job): Promise<ExportFile> {
    if (job.status === 'pending' || job.status === 'running') {
      throw new DomainError('export_not_ready', `The export is ${job.status}; download it once it has succeeded.`);
    }
    if (job.status !== 'succeeded') {
      throw new DomainError('export_failed', `The export ended ${job.status}${job.error ? `: ${job.error.message}` : ''}; there is no file.`);
    }
    const path = this.#fileOf(job);
    const stats = await statFile(path);
    const result = job.result as ExportResult;
    if (path && stats && stats.size === result.bytes) return { job, result, path, stats };
    if (!path || (!stats && (await this.#deletedOrExpired(job)))) {
      throw new DomainError('export_gone', 'The export file expired or was deleted; start a new export.');
    }
    throw new DomainError(
      'export_file_unavailable',
      stats
        ? 'The file this node sees is not the one the export wrote (its size differs): the data directory is not shared consistently; try another node.'
        : 'The export succeeded, but this node does not see its file: the data directory must be shared by every node; try another node.',
      { details: { expected_bytes: result.bytes, seen_bytes: stats?.size ?? null } },
    );
  }

  /** Cancels a pending or running export; deletes the file of a finished one (the job row stays, as history). */
  async remove(job: Job): Promise<RemoveExportOutcome> {
    if (job.status === 'pending' || job.status === 'running') {
      const cancelled = await this.#engine.cancel(job.id);
      if (cancelled && cancelled.state !== 'already_finished') return cancelled;
      // It finished meanwhile: deleting a finished export removes its file.
      job = cancelled?.job ?? job;
    }
    const file = job.status === 'succeeded' ? this.#fileOf(job) : undefined;
    if (file) {
      await writeFile(containedPath(this.#engine.dataDir, exportDeletedMarkerPath(this.#engine.dataDir, job.id)), '');
      await rm(file, { force: true });
    }
    return { state: 'deleted' };
  }

  /** Deleted by a client (its marker is there), or past the result TTL, after which retention removes files. */
  async #deletedOrExpired(job: Job): Promise<boolean> {
    if ((job.finishedAt ?? job.updatedAt) + this.resultTtlMs <= Date.now()) return true;
    try {
      return (await statFile(containedPath(this.#engine.dataDir, exportDeletedMarkerPath(this.#engine.dataDir, job.id)))) !== undefined;
    } catch {
      return false;
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

/** The file's stats if it exists and is a regular file. */
async function statFile(path: string | undefined): Promise<Stats | undefined> {
  if (!path) return undefined;
  try {
    const stats = await stat(path);
    return stats.isFile() ? stats : undefined;
  } catch {
    return undefined;
  }
}
