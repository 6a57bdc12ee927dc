// The narrow interface every export format implements, so that workers/export.ts knows nothing about any of them.
import type { Writable } from 'node:stream';
import type { CellValue, DatasetColumn } from '../datasets/dataset-file.js';

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
  createWriter(columns: readonly DatasetColumn[], out: Writable): FormatWriter;
}
