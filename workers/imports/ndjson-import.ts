// An NDJSON upload into a dataset. Columns are the union of all keys, in the order each was first seen; a missing
// key is null. The first read collects the keys and types the columns, writing the rows as it goes while the first
// batch's columns hold; a second read writes them when a later record added a key or changed a type.
import type { ImportResult } from '../../src/contracts/import-contract.js';
import { createTaskError } from '../../src/contracts/task-errors.js';
import type { DatasetColumn } from '../../src/contracts/import-contract.js';
import { MAX_COLUMNS, type CellValue, type DatasetFileWriter } from '../datasets/dataset-file.js';
import { readNdjsonUpload, type NdjsonRecord } from '../uploads/ndjson-upload.js';
import { makeUniqueColumnNames } from '../uploads/column-names.js';
import { classifyJsonCell, convertJsonCell } from '../uploads/type-inference.js';
import { columnsSoFar, createColumnTyping, finishColumnTyping, observeCell } from './column-typing.js';
import { createTypeGuess, describeResult, writeDataset, type ImportOptions } from './import-options.js';

export async function importNdjson(options: ImportOptions): Promise<ImportResult> {
  const positions = new Map<string, number>();
  // Keys are unique within a record, so a key is its column's name (only an empty key is renamed, at the end).
  const typing = createColumnTyping([], []);
  const forcedByKey = new Map(options.columnTypes.map(({ name, type }) => [name, type]));
  const keys: string[] = [];
  let records = 0;
  // As csv-import.ts: the rows are written with the columns of the first batch while the file agrees with them.
  const guess = createTypeGuess(options);
  try {
    await readNdjsonUpload(options.file, options.readOptions(1), (batch) => {
      for (const record of batch) {
        records++;
        nullifyTokens(record, options.nullTokens);
        for (let k = 0; k < record.keys.length; k++) {
          const key = record.keys[k]!;
          let position = positions.get(key);
          if (position === undefined) {
            position = positions.size;
            if (position >= MAX_COLUMNS) {
              throw createTaskError('invalid_payload', `line ${record.line} of the NDJSON brings the number of keys over ${MAX_COLUMNS}`);
            }
            positions.set(key, position);
            keys.push(key);
            typing.forced.push(forcedByKey.get(key));
            typing.inferred.push(undefined);
          }
          const forced = typing.forced[position];
          if (forced === undefined && typing.inferred[position] === 'json') continue; // json takes any value
          const value = record.values[k]!;
          observeCell(typing, keys, position, classifyJsonCell(value, forced), record.line, value);
        }
      }
      const columns = columnsSoFar(typing, makeUniqueColumnNames(keys));
      const writer = guess.writerFor(columns);
      if (writer) insertConverted(writer, columns, positions, batch, options.nullTokens);
    });
    if (records === 0) throw createTaskError('invalid_payload', 'the NDJSON has no records (only blank lines)');
    if (positions.size === 0) throw createTaskError('invalid_payload', 'the NDJSON records have no keys');
    createColumnTyping(keys, options.columnTypes); // fails for a forced name no record has
  } catch (err) {
    guess.abandon();
    throw err;
  }

  const columns = finishColumnTyping(typing, makeUniqueColumnNames(keys));
  const { rows } = await writeDataset(guess.final(columns), (writer) =>
    readNdjsonUpload(options.file, options.readOptions(1), (batch) => {
      // A key the first read never saw: the file changed between the reads.
      for (const record of batch) for (const key of record.keys) if (!positions.has(key)) throw new Error(`the upload changed between passes (new key on line ${record.line})`);
      insertConverted(writer, columns, positions, batch, options.nullTokens);
    }),
  );
  return describeResult(options, { rows, columns, format: 'ndjson', delimiter: null, warnings: [] });
}

/** Converts the batch's records to rows of the columns' types (null for a missing key) and writes them. */
function insertConverted(
  writer: DatasetFileWriter,
  columns: readonly DatasetColumn[],
  positions: ReadonlyMap<string, number>,
  batch: readonly NdjsonRecord[],
  nullTokens: ReadonlySet<string>,
): void {
  const width = columns.length;
  const types = columns.map((column) => column.type);
  const values = new Array<CellValue>(batch.length * width).fill(null);
  batch.forEach((record, r) => {
    nullifyTokens(record, nullTokens);
    for (let k = 0; k < record.keys.length; k++) {
      const position = positions.get(record.keys[k]!)!;
      values[r * width + position] = convertJsonCell(record.values[k]!, types[position]!);
    }
  });
  writer.insertFlat(values, batch.length);
}

/** Strings equal to a null token are nulls (`"NA"` from tools that write R's missing value into JSON). */
function nullifyTokens(record: NdjsonRecord, tokens: ReadonlySet<string>): void {
  if (tokens.size === 0) return;
  const values = record.values;
  for (let k = 0; k < values.length; k++) {
    const value = values[k];
    if (typeof value === 'string' && tokens.has(value)) values[k] = null;
  }
}
