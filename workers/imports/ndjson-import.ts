// An NDJSON upload into a dataset. Columns are the union of all keys, in the order each was first seen; a missing
// key is null. Pass 1 collects the keys and types the columns, pass 2 converts and writes the rows.
import type { ImportResult } from '../../src/contracts/import-contract.js';
import { createTaskError } from '../../src/contracts/task-errors.js';
import { MAX_COLUMNS, type CellValue } from '../datasets/dataset-file.js';
import { readNdjsonUpload, type NdjsonRecord } from '../uploads/ndjson-upload.js';
import { makeUniqueColumnNames } from '../uploads/column-names.js';
import { classifyJsonCell, convertJsonCell } from '../uploads/type-inference.js';
import { createColumnTyping, finishColumnTyping, observeCell } from './column-typing.js';
import { describeResult, writeDataset, type ImportOptions } from './import-options.js';

export async function importNdjson(options: ImportOptions): Promise<ImportResult> {
  const positions = new Map<string, number>();
  // Keys are unique within a record, so a key is its column's name (only an empty key is renamed, at the end).
  const typing = createColumnTyping([], []);
  const forcedByKey = new Map(options.columnTypes.map(({ name, type }) => [name, type]));
  const keys: string[] = [];
  let records = 0;
  await readNdjsonUpload(options.file, options.readOptions(2), (batch) => {
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
  });
  if (records === 0) throw createTaskError('invalid_payload', 'the NDJSON has no records (only blank lines)');
  if (positions.size === 0) throw createTaskError('invalid_payload', 'the NDJSON records have no keys');
  createColumnTyping(keys, options.columnTypes); // fails for a forced name no record has

  const names = makeUniqueColumnNames(keys);
  const columns = finishColumnTyping(typing, names);
  const types = columns.map((column) => column.type);
  const { rows } = await writeDataset(options.openWriter(columns), (insert) =>
    readNdjsonUpload(options.file, options.readOptions(1), (batch) => {
      insert(
        batch.map((record) => {
          nullifyTokens(record, options.nullTokens);
          const row: CellValue[] = new Array<CellValue>(types.length).fill(null);
          for (let k = 0; k < record.keys.length; k++) {
            const position = positions.get(record.keys[k]!);
            if (position === undefined) throw new Error(`the upload changed between passes (new key on line ${record.line})`);
            row[position] = convertJsonCell(record.values[k]!, types[position]!);
          }
          return row;
        }),
      );
    }),
  );
  return describeResult(options, { rows, columns, format: 'ndjson', delimiter: null, warnings: [] });
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
