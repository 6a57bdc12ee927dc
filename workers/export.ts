// Job kind `export`: streams a dataset's rows from its SQLite file through a format writer (workers/formats/)
// and optional gzip into `<dataDir>/exports/<jobId>.<ext>[.gz]`.
//
// Memory stays flat: rows are read in batches of BATCH_ROWS and the next batch is read only once the format writer
// says the output took the previous one. The file appears under its final name only when complete and on disk.
// CSV has its own path (exports/csv-export.ts): SQLite builds the lines, over as many threads as the engine lent
// the job.
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { isMainThread, workerData } from 'node:worker_threads';
import type { JobContext } from '../src/contracts/task-context.js';
import { createAbortError, createTaskError } from '../src/contracts/task-errors.js';
import { isDatasetId, openDatasetForReading, type CellValue, type DatasetReader } from './datasets/dataset-file.js';
import { containedPath, DATA_DIRS, exportPath } from '../src/contracts/data-layout.js';
import {
  EXPORT_COMPRESSIONS,
  EXPORT_FORMAT_NAMES,
  EXPORT_FORMATS,
  exportExtension,
  isExportFormatName,
  isParquetCodecAvailable,
  PARQUET_CODECS,
  type ExportCompression,
  type ExportPayload,
  type ExportResult,
  type ExportTuning,
  type ParquetCodec,
} from '../src/contracts/export-contract.js';
import type { ExportColumn } from './formats/format.js';
import { createArtifactFile } from './exports/artifact-file.js';
import { createDownloadName } from './exports/download-name.js';
import { CSV_HELPER_MARK, runCsvHelper } from './exports/csv-threads.js';
import { writeCsvExport } from './exports/csv-export.js';

const BATCH_ROWS = 1000;

// This module is also the entry of the CSV helper threads it starts (one file to find, in dist/ and in the single
// executable alike).
if (!isMainThread && (workerData as Record<string, unknown> | null)?.[CSV_HELPER_MARK] === true) runCsvHelper();

export default async function exportDataset(payload: unknown, ctx: JobContext): Promise<ExportResult> {
  const request = parseExportPayload(payload);
  const gzip = request.compression === 'gzip';
  const extension = exportExtension(request.format, request.compression);
  const finalPath = containedPath(ctx.dataDir, exportPath(ctx.dataDir, ctx.jobId, extension));
  const exportsDir = path.dirname(finalPath);
  const fileName = path.basename(finalPath);

  const dataset = openDatasetForReading(ctx.dataDir, request.dataset_id);
  try {
    const columnIndexes = selectColumns(dataset, request.columns);
    const columns = columnIndexes.map((index) => ({ ...dataset.columns[index]!, nullCount: dataset.nullCounts[index]! }));
    const total = dataset.rowCount;
    ctx.progress(0, total);

    await removeTempFilesOfJob(exportsDir, ctx.jobId);
    const artifact = await createArtifactFile(
      finalPath,
      path.join(exportsDir, `${fileName}.attempt-${ctx.attempt}.tmp`),
      { gzip },
    );
    try {
      const rows =
        request.format === 'csv'
          ? await writeCsvExport({
              reader: dataset,
              dataDir: ctx.dataDir,
              datasetId: request.dataset_id,
              columnIndexes,
              out: artifact.input,
              ctx,
              threads: ctx.threads ?? 1,
              helperModuleUrl: new URL(import.meta.url),
              tuning: request.tuning,
            })
          : await writeWithFormatWriter(request, dataset, columnIndexes, columns, artifact.input, ctx);
      const { bytes, sha256 } = await artifact.complete();
      return {
        file: `${DATA_DIRS.exports}/${fileName}`,
        bytes,
        rows,
        sha256,
        content_type: gzip ? 'application/gzip' : EXPORT_FORMATS[request.format].contentType,
        filename: createDownloadName(request.filename_base, request.dataset_id, extension),
      };
    } catch (err) {
      await artifact.discard(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  } finally {
    dataset.close();
  }
}

/** The other formats: rows as arrays, in batches, through the format's writer (workers/formats/). */
async function writeWithFormatWriter(
  request: ExportPayload,
  dataset: DatasetReader,
  columnIndexes: number[],
  columns: ExportColumn[],
  out: Writable,
  ctx: JobContext,
): Promise<number> {
  ctx.keepThreads?.(1);
  // Loaded here, not at the top: CSV exports and their helper threads never need XLSX or Parquet code.
  const { FORMAT_WRITERS } = await import('./formats/registry.js');
  const writer = FORMAT_WRITERS[request.format].createWriter(columns, out, {
    parquetCodec: request.parquet_codec ?? 'snappy',
    producer: request.producer ?? 'offload',
  });
  const total = dataset.rowCount;
  let rows = 0;
  let batch: CellValue[][] = [];
  const writeBatch = async (): Promise<void> => {
    await writer.writeRows(batch);
    rows += batch.length;
    batch = [];
    ctx.progress(rows, total);
    if (ctx.signal.aborted) throw createAbortError(ctx.signal);
  };
  for (const row of dataset.iterateRows(columnIndexes)) {
    batch.push(row);
    if (batch.length === BATCH_ROWS) await writeBatch();
  }
  if (batch.length > 0) await writeBatch();
  await writer.end();
  return rows;
}

export function parseExportPayload(payload: unknown): ExportPayload {
  if (payload === null || typeof payload !== 'object') throw createTaskError('invalid_payload', 'the payload must be an object');
  const { dataset_id, format, columns, compression, filename_base, parquet_codec, producer, tuning } = payload as Record<string, unknown>;
  if (!isDatasetId(dataset_id)) throw createTaskError('invalid_payload', 'dataset_id must be a UUID');
  if (typeof format !== 'string') throw createTaskError('invalid_payload', 'format is required');
  if (!isExportFormatName(format)) {
    throw createTaskError(
      'unsupported_format',
      `format ${JSON.stringify(format)} is not supported; use one of ${EXPORT_FORMAT_NAMES.join(', ')}`,
    );
  }
  if (columns !== undefined) {
    if (!Array.isArray(columns) || columns.length === 0 || !columns.every((name) => typeof name === 'string')) {
      throw createTaskError('invalid_payload', 'columns must be a non-empty array of column names');
    }
    if (new Set(columns).size !== columns.length) throw createTaskError('invalid_payload', 'columns names a column twice');
  }
  if (compression !== undefined && !EXPORT_COMPRESSIONS.includes(compression as ExportCompression)) {
    throw createTaskError('invalid_payload', `compression must be one of ${EXPORT_COMPRESSIONS.join(', ')}`);
  }
  if (filename_base !== undefined && typeof filename_base !== 'string') {
    throw createTaskError('invalid_payload', 'filename_base must be a string');
  }
  if (format === 'parquet' && compression === 'gzip') {
    throw createTaskError('invalid_payload', 'compression gzip would wrap the Parquet file, which Parquet readers cannot open; use parquet_codec gzip');
  }
  if (parquet_codec !== undefined) {
    if (format !== 'parquet') throw createTaskError('invalid_payload', 'parquet_codec applies to parquet exports only');
    if (!PARQUET_CODECS.includes(parquet_codec as ParquetCodec)) throw createTaskError('invalid_payload', `parquet_codec must be one of ${PARQUET_CODECS.join(', ')}`);
    if (!isParquetCodecAvailable(parquet_codec as ParquetCodec)) throw createTaskError('invalid_payload', `parquet_codec ${String(parquet_codec)} is not available on this Node.js`);
  }
  if (producer !== undefined && typeof producer !== 'string') throw createTaskError('invalid_payload', 'producer must be a string');
  if (tuning !== undefined) parseTuning(tuning);
  return {
    dataset_id,
    format,
    columns: columns as string[] | undefined,
    compression: compression as ExportCompression | undefined,
    filename_base: filename_base as string | undefined,
    parquet_codec: parquet_codec as ParquetCodec | undefined,
    producer: producer as string | undefined,
    ...(tuning === undefined ? {} : { tuning: tuning as ExportTuning }),
  };
}

function parseTuning(tuning: unknown): void {
  if (tuning === null || typeof tuning !== 'object') throw createTaskError('invalid_payload', 'tuning must be an object');
  for (const [key, value] of Object.entries(tuning)) {
    if (key !== 'range_rows' && key !== 'min_rows_per_thread') throw createTaskError('invalid_payload', `tuning has no field ${JSON.stringify(key)}`);
    if (!Number.isSafeInteger(value) || (value as number) < 1) throw createTaskError('invalid_payload', `tuning.${key} must be a positive integer`);
  }
}

function selectColumns(dataset: DatasetReader, names: readonly string[] | undefined): number[] {
  if (names === undefined) return dataset.columns.map((_column, index) => index);
  const positions = new Map(dataset.columns.map((column, index) => [column.name, index]));
  const unknown = names.filter((name) => !positions.has(name));
  if (unknown.length > 0) {
    const listed = unknown.slice(0, 5).map((name) => JSON.stringify(name)).join(', ');
    const more = unknown.length > 5 ? ` and ${unknown.length - 5} more` : '';
    throw createTaskError('invalid_payload', `the dataset has no column ${listed}${more}`);
  }
  return names.map((name) => positions.get(name)!);
}

/** Earlier attempts of this job that were killed leave their temporary files; no two attempts run at once. */
async function removeTempFilesOfJob(exportsDir: string, jobId: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(exportsDir);
  } catch {
    return;
  }
  await Promise.all(
    names
      .filter((name) => name.startsWith(`${jobId}.`) && name.endsWith('.tmp'))
      .map((name) => rm(path.join(exportsDir, name), { force: true })),
  );
}
