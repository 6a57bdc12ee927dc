// A CSV upload into a dataset, in one read of the file when it can be. A column's type depends on all of its
// values, so the rows are written with the types the first batch suggests while every value goes on being
// checked; if the whole file agrees (the usual case), that first read was the import. If a later value changes a
// column's type, the file written so far is dropped, the read goes on only to type the columns, and a second read
// writes the rows — what every import did before. Either way the types and values are those of the whole file.
//
// The fast reader (csv-fast-reader.ts) is tried first; what it is not sure of, the reference reader
// (csv-upload.ts, csv-parse) reads from the start, to the same result or with its error.
import type { CsvDelimiter, DatasetColumn, ImportResult } from '../../src/contracts/import-contract.js';
import type { CellValue, DatasetFileWriter } from '../datasets/dataset-file.js';
import { readCsvUpload, describeDelimiter, type CsvField, type CsvReadOptions } from '../uploads/csv-upload.js';
import { CsvOutsideFastPath, readCsvUploadFast, type CsvRows, type CsvRowsVisitor } from '../uploads/csv-fast-reader.js';
import { detectCsvDelimiter } from '../uploads/csv-delimiter.js';
import { makeUniqueColumnNames } from '../uploads/column-names.js';
import { classifyCsvCell, convertCsvCell, isJsonText, mergeKind, type CellKind } from '../uploads/type-inference.js';
import { columnsSoFar, createColumnTyping, finishColumnTyping, observeCell, type ColumnTyping } from './column-typing.js';
import { createTypeGuess, describeResult, writeDataset, type ImportOptions } from './import-options.js';

type ReadCsvRows = (file: string, options: CsvReadOptions, visitor: CsvRowsVisitor) => Promise<void>;

export async function importCsv(options: ImportOptions): Promise<ImportResult> {
  const delimiter: CsvDelimiter = options.delimiter ?? (await detectCsvDelimiter(options.file));
  try {
    return await importCsvWith(readCsvUploadFast, options, delimiter);
  } catch (err) {
    if (!(err instanceof CsvOutsideFastPath)) throw err;
  }
  return importCsvWith(readCsvRowsWithCsvParse, options, delimiter);
}

/** The reference reader, its records regrouped as the fast reader hands them on. */
const readCsvRowsWithCsvParse: ReadCsvRows = (file, options, visitor) =>
  readCsvUpload(file, options, {
    header: (fields) => visitor.header(fields),
    rows(batch) {
      const fields: CsvField[] = [];
      for (const record of batch) for (const field of record.fields) fields.push(field);
      visitor.rows({ width: batch[0]!.fields.length, count: batch.length, fields, lines: batch.map((record) => record.line) });
    },
  });

async function importCsvWith(read: ReadCsvRows, options: ImportOptions, delimiter: CsvDelimiter): Promise<ImportResult> {
  const dialect = { delimiter, nullTokens: options.nullTokens };
  let names: string[] = [];
  let typing: ColumnTyping = { forced: [], inferred: [] };
  const guess = createTypeGuess(options);
  try {
    await read(options.file, { ...options.readOptions(1), ...dialect }, {
      header(fields) {
        names = makeUniqueColumnNames(fields.map((field) => field ?? ''));
        typing = createColumnTyping(names, options.columnTypes);
      },
      rows(batch) {
        observeRows(typing, names, batch);
        const columns = columnsSoFar(typing, names);
        const writer = guess.writerFor(columns);
        if (writer) insertConverted(writer, columns, batch);
      },
    });
  } catch (err) {
    guess.abandon();
    throw err;
  }

  const columns = finishColumnTyping(typing, names);
  const { rows } = await writeDataset(guess.final(columns), (writer) =>
    read(options.file, { ...options.readOptions(1), ...dialect }, { header() {}, rows: (batch) => insertConverted(writer, columns, batch) }),
  );
  return describeResult(options, { rows, columns, format: 'csv', delimiter, warnings: csvWarnings(rows, columns.length, delimiter) });
}

/** Types every value of the batch; a value that does not fit a forced type fails the import here, with its line. */
function observeRows(typing: ColumnTyping, names: readonly string[], { width, count, fields, lines }: CsvRows): void {
  const { forced, inferred } = typing;
  for (let r = 0, k = 0; r < count; r++) {
    for (let i = 0; i < width; i++, k++) {
      const type = forced[i];
      const value = fields[k]!;
      if (type === undefined) {
        // Inference stops looking at a column once it is text: nothing can change it back.
        const current = inferred[i];
        if (current === 'text') continue;
        const kind = classifyCsvCell(value);
        if (kind !== current) inferred[i] = mergeKind(current, kind);
      } else {
        observeCell(typing, names, i, kindOf(value, type), lines[r]!, value);
      }
    }
  }
}

/** Converts the batch's values in place to the columns' types and writes them. */
function insertConverted(writer: DatasetFileWriter, columns: readonly DatasetColumn[], { width, count, fields }: CsvRows): void {
  const types = columns.map((column) => column.type);
  const values = fields as CellValue[];
  for (let k = 0, i = 0; k < values.length; k++) {
    values[k] = convertCsvCell(fields[k] as CsvField, types[i]!);
    if (++i === width) i = 0;
  }
  writer.insertFlat(values, count);
}

function kindOf(value: CsvField, forced: string | undefined): CellKind {
  if (forced === 'json' && value !== null && value !== '') return isJsonText(value) ? 'json' : 'text';
  return classifyCsvCell(value);
}

/** Uploads that import but are probably not what was meant say so in the dataset document. */
function csvWarnings(rows: number, width: number, delimiter: CsvDelimiter): string[] {
  const warnings: string[] = [];
  if (rows === 0) warnings.push('the CSV has a header row but no data rows: every column is text (name types with ?types= if that matters)');
  if (width === 1) {
    warnings.push(
      `the CSV has one column (split on ${describeDelimiter(delimiter)}): if the file has more, upload it with ?delimiter= set to its separator (, ; tab or |)`,
    );
  }
  return warnings;
}
