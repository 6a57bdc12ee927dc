// What both imports get: how to read the upload, where to write, and the shape of their result.
import type { CsvDelimiter, DatasetColumn, ImportResult, ColumnType, UploadCharset } from '../../src/contracts/import-contract.js';
import type { DatasetFileWriter } from '../datasets/dataset-file.js';
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

/**
 * Finishes the dataset with `final`'s writer, having the second read write every row first when the writer does
 * not hold them yet; the file is removed if anything fails.
 */
export async function writeDataset(
  { writer, complete }: { writer: DatasetFileWriter; complete: boolean },
  readRows: (writer: DatasetFileWriter) => Promise<void>,
): Promise<{ rows: number }> {
  try {
    if (!complete) await readRows(writer);
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

/**
 * Rows written while the file still agrees with the column types its first batch suggested (see csv-import.ts).
 * `writerFor` answers, after each batch was typed, the writer its rows go to — or undefined once a later batch
 * changed a type, when the rows written so far are dropped and a second read must write them all.
 */
export interface TypeGuess {
  writerFor(columns: DatasetColumn[]): DatasetFileWriter | undefined;
  /** The writer for the dataset's final columns, and whether it already holds every row. */
  final(columns: DatasetColumn[]): { writer: DatasetFileWriter; complete: boolean };
  abandon(): void;
}

export function createTypeGuess(options: ImportOptions): TypeGuess {
  let guess: { columns: DatasetColumn[]; writer: DatasetFileWriter } | undefined;
  let failed = false;
  const drop = (): void => {
    guess?.writer.abandon();
    guess = undefined;
  };
  return {
    writerFor(columns) {
      if (failed) return undefined;
      // No columns yet (NDJSON records without keys so far) cannot be a dataset: the second read will write them.
      if (!guess && columns.length > 0) guess = { columns, writer: options.openWriter(columns) };
      else if (!guess || !sameColumns(columns, guess.columns)) {
        drop();
        failed = true;
        options.progress.expectMoreReads(1);
      }
      return guess?.writer;
    },
    final(columns) {
      if (guess && sameColumns(columns, guess.columns)) return { writer: guess.writer, complete: true };
      drop();
      // No batch at all (a header alone) is complete as it is.
      return { writer: options.openWriter(columns), complete: !failed };
    },
    abandon: drop,
  };
}

function sameColumns(a: readonly DatasetColumn[], b: readonly DatasetColumn[]): boolean {
  return a.length === b.length && a.every((column, i) => column.name === b[i]!.name && column.type === b[i]!.type && (column.timezone ?? null) === (b[i]!.timezone ?? null));
}
