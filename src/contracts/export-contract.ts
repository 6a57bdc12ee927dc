// What the server and the `export` job kind agree on: the payload the server builds, the result the worker
// returns, and the formats with their file extensions and content types.
import * as zlib from 'node:zlib';

/** The job kind that runs exports. */
export const EXPORT_KIND = 'export';

export const EXPORT_FORMATS = Object.freeze({
  csv: { extension: 'csv', contentType: 'text/csv; charset=utf-8' },
  ndjson: { extension: 'ndjson', contentType: 'application/x-ndjson' },
  json: { extension: 'json', contentType: 'application/json' },
  xlsx: { extension: 'xlsx', contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' },
  parquet: { extension: 'parquet', contentType: 'application/vnd.apache.parquet' },
} as const);
export type ExportFormatName = keyof typeof EXPORT_FORMATS;
export const EXPORT_FORMAT_NAMES = Object.freeze(Object.keys(EXPORT_FORMATS)) as readonly ExportFormatName[] as [ExportFormatName, ...ExportFormatName[]];

export const EXPORT_COMPRESSIONS = ['none', 'gzip'] as const;
export type ExportCompression = (typeof EXPORT_COMPRESSIONS)[number];

/**
 * Compression inside a Parquet file (per column chunk), which every Parquet reader decodes — unlike gzip around the
 * whole file. `zstd` needs node:zlib's Zstandard (Node ≥ 22.15); isParquetCodecAvailable says whether this runtime has it.
 */
export const PARQUET_CODECS = ['snappy', 'zstd', 'gzip', 'none'] as const;
export type ParquetCodec = (typeof PARQUET_CODECS)[number];

export function isParquetCodecAvailable(codec: ParquetCodec): boolean {
  return codec !== 'zstd' || typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync === 'function';
}

export function isExportFormatName(value: unknown): value is ExportFormatName {
  return typeof value === 'string' && Object.hasOwn(EXPORT_FORMATS, value);
}

/** The file's extension, e.g. `csv` or `csv.gz`: its name in the data directory is `<jobId>.<extension>`. */
export function exportExtension(format: ExportFormatName, compression: ExportCompression | undefined): string {
  const { extension } = EXPORT_FORMATS[format];
  return compression === 'gzip' ? `${extension}.gz` : extension;
}

export interface ExportPayload {
  dataset_id: string;
  format: ExportFormatName;
  /** Which columns, in which order; all of them in dataset order when absent. */
  columns?: string[];
  compression?: ExportCompression;
  /** The download name without extension, usually the dataset's name; the dataset id when absent. */
  filename_base?: string;
  /** Parquet only: snappy when absent. */
  parquet_codec?: ParquetCodec;
  /** Who writes the file, e.g. `offload 0.1.0`: Parquet's `created_by` names it with the writer library's version. */
  producer?: string;
  /**
   * How a CSV export splits its rows over threads; the defaults when absent. Never set by the HTTP API: tests and
   * benchmarks use it to exercise many ranges and helpers on small datasets.
   */
  tuning?: ExportTuning;
}

export interface ExportTuning {
  /** Rowids per range that one thread renders (default 65,536). */
  range_rows?: number;
  /** Rows a dataset needs per thread before another thread is used (default 200,000). */
  min_rows_per_thread?: number;
}

/** At most this many threads work on one export (its own included), when the engine has them free. */
export const EXPORT_MAX_THREADS = 4;

export interface ExportResult {
  /**
   * Where the worker wrote it, relative to the data directory (`exports/<jobId>.<ext>`). Informational: the server
   * derives the path from the job's id and payload and never opens a path read from a result row.
   */
  file: string;
  bytes: number;
  rows: number;
  /** Of the file as stored (the compressed bytes when gzip), hex. */
  sha256: string;
  /** Of the file as stored: `application/gzip` when gzip. */
  content_type: string;
  /** Sanitised download name with extension(s), e.g. `sales.csv.gz`. */
  filename: string;
}
