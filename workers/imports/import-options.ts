// What both imports get: how to read the upload, where to write, and the shape of their result.
import type { CsvDelimiter, DatasetColumn, ImportResult, ColumnType, UploadCharset } from '../../src/contracts/import-contract.js';
import type { CellValue, DatasetFileWriter } from '../datasets/dataset-file.js';
import type { UploadReadOptions } from '../uploads/upload-pipeline.js';
import type { ImportProgress } from './import-progress.js';

export interface ImportOptions {
  file: string;
  /** Options for a read of the upload that starts now; `reads` of them are expected from here on, this one included. */
  readOptions(reads: number): UploadReadOptions;
  progress: ImportProgress;
  openWriter(columns: DatasetColumn[]): DatasetFileWriter;
  delimiter: CsvDelimiter | undefined;
  nullTokens: ReadonlySet<string>;
  charset: UploadCharset;
  columnTypes: { name: string; type: ColumnType }[];
}

/** Writes the second pass's rows; the file is removed if anything fails. */
export async function writeDataset(
  writer: DatasetFileWriter,
  readRows: (insert: (rows: CellValue[][]) => void) => Promise<void>,
): Promise<{ rows: number }> {
  try {
    await readRows((rows) => writer.insertRows(rows));
    return { rows: writer.finish().rowCount };
  } catch (err) {
    writer.abandon();
    throw err;
  }
}

export function describeResult(
  options: ImportOptions,
  fields: { rows: number; columns: DatasetColumn[]; format: 'csv' | 'ndjson'; delimiter: CsvDelimiter | null; warnings: string[] },
): ImportResult {
  return { ...fields, charset: options.charset, null_tokens: [...options.nullTokens] };
}
