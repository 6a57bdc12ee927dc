// The narrow interface every export format implements, so that workers/export.ts knows nothing about any of them.
import type { Writable } from 'node:stream';
import type { ParquetCodec } from '../../src/contracts/export-contract.js';
import type { CellValue, DatasetColumn } from '../datasets/dataset-file.js';

/** A column as a writer sees it: the dataset's column, and how many nulls it holds (null when unknown). */
export interface ExportColumn extends DatasetColumn {
  nullCount: number | null;
}

export interface WriterOptions {
  parquetCodec: ParquetCodec;
  /** The producer named in a file's metadata, e.g. `offload 0.1.0`. */
  producer: string;
}

export interface FormatWriter {
  /**
   * Encodes rows (one value per column, in column order; booleans as booleans). Resolves when the output can take
   * more: the caller waits before reading the next batch, which keeps memory flat whatever the dataset's size.
   */
  writeRows(rows: readonly (readonly CellValue[])[]): Promise<void>;
  /** Writes the end of the document and ends `out`. */
  end(): Promise<void>;
}

/** One export format's writer factory; its name, extension and content type are in the contract (EXPORT_FORMATS). */
export interface FormatModule {
  createWriter(columns: readonly ExportColumn[], out: Writable, options: WriterOptions): FormatWriter;
}
