// How NDJSON and JSON write one row: an object whose keys are the column names in dataset order.
// null → null, booleans → true/false, integers → digits, reals → number-text.ts, text → a JSON string
// (JSON.stringify: control characters as \uXXXX, everything else as UTF-8), dates and timestamps → their ISO-8601
// text as a JSON string, json → the JSON value itself (stored as JSON text, validated at import), so a nested
// value read from NDJSON is written back as the same nested value.
import type { CellValue, ColumnType, DatasetColumn } from '../datasets/dataset-file.js';
import { formatReal } from './number-text.js';

type Encode = (value: CellValue) => string;

const ENCODERS: Record<ColumnType, Encode> = {
  integer: (value) => (value === null ? 'null' : String(value)),
  real: (value) => (value === null ? 'null' : formatReal(value as number)),
  boolean: (value) => (value === null ? 'null' : value ? 'true' : 'false'),
  text: (value) => (value === null ? 'null' : JSON.stringify(value)),
  date: (value) => (value === null ? 'null' : `"${value as string}"`),
  timestamp: (value) => (value === null ? 'null' : `"${value as string}"`),
  json: (value) => (value === null ? 'null' : (value as string)),
};

export type EncodeObject = (row: readonly CellValue[]) => string;

export function createObjectEncoder(columns: readonly DatasetColumn[]): EncodeObject {
  const encoders = columns.map((column) => ENCODERS[column.type]);
  const keys = columns.map((column, i) => `${i === 0 ? '{' : ','}${JSON.stringify(column.name)}:`);
  const width = columns.length;
  return (row) => {
    let text = '';
    for (let i = 0; i < width; i++) text += keys[i]! + encoders[i]!(row[i]!);
    return `${text}}`;
  };
}
