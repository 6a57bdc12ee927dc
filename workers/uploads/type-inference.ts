// Column types are inferred over the whole upload (first pass) and every value is converted to its column's type
// (second pass), so a column is `integer` only if every non-empty cell in it is one.
import type { CellValue, ColumnType } from '../datasets/dataset-file.js';

/**
 * What one cell looks like on its own. `empty` is a CSV field written as `""`: the empty string in a text column,
 * null in any other, so it never decides a column's type.
 */
export type CellKind = 'null' | 'empty' | ColumnType;

/** `undefined` while a column has seen only nulls and empty strings. */
export type InferredType = ColumnType | undefined;

export function mergeKind(current: InferredType, kind: CellKind): InferredType {
  if (kind === 'null' || kind === 'empty' || current === kind) return current;
  if (current === undefined) return kind;
  if ((current === 'integer' && kind === 'real') || (current === 'real' && kind === 'integer')) return 'real';
  return 'text';
}

/** A column of nothing but nulls holds text: the most general type, and the one any later value fits. */
export function finalType(inferred: InferredType): ColumnType {
  return inferred ?? 'text';
}

// Canonical spellings only: "007", "+5", "1_000" and " 1" stay text so that no character of the upload is lost.
// 16 digits at most, then the exact-range check: integers beyond 2^53−1 cannot be held exactly and stay text.
const CSV_INTEGER = /^(?:0|-?[1-9]\d{0,15})$/;
const CSV_REAL = /^-?(?:0|[1-9]\d*)(?:\.\d+(?:[eE][+-]?\d+)?|[eE][+-]?\d+)$/;

export function classifyCsvCell(value: string | null): CellKind {
  if (value === null) return 'null';
  if (value === '') return 'empty';
  const first = value.charCodeAt(0);
  const startsLikeNumber = first === 45 /* - */ || (first >= 48 && first <= 57);
  if (startsLikeNumber) {
    if (CSV_INTEGER.test(value)) return Number.isSafeInteger(Number(value)) ? 'integer' : 'text';
    if (CSV_REAL.test(value)) return Number.isFinite(Number(value)) ? 'real' : 'text';
    return 'text';
  }
  return isBooleanWord(value) ? 'boolean' : 'text';
}

function isBooleanWord(value: string): boolean {
  if (value.length !== 4 && value.length !== 5) return false;
  const lower = value.toLowerCase();
  return lower === 'true' || lower === 'false';
}

export function convertCsvCell(value: string | null, type: ColumnType): CellValue {
  if (value === null) return null;
  if (value === '') return type === 'text' ? '' : null;
  switch (type) {
    case 'integer':
    case 'real':
      return Number(value);
    case 'boolean':
      return value.toLowerCase() === 'true';
    case 'text':
      return value;
  }
}

/** A JSON number as written in the upload: JSON.parse would round integers beyond 2^53 and forget `1.0`. */
export class JsonNumber {
  constructor(readonly source: string) {}
}

/** A nested array or object, kept as its JSON text. */
export class JsonNested {
  constructor(readonly source: string) {}
}

export type JsonCell = null | boolean | string | JsonNumber | JsonNested;

const JSON_INTEGER = /^-?\d+$/;

export function classifyJsonCell(value: JsonCell): CellKind {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'string' || value instanceof JsonNested) return 'text';
  const number = Number(value.source);
  if (JSON_INTEGER.test(value.source)) return Number.isSafeInteger(number) ? 'integer' : 'text';
  return Number.isFinite(number) ? 'real' : 'text';
}

export function convertJsonCell(value: JsonCell, type: ColumnType): CellValue {
  if (value === null) return null;
  if (type === 'text') {
    if (typeof value === 'string') return value;
    if (typeof value === 'boolean') return value ? 'true' : 'false';
    return value.source;
  }
  if (value instanceof JsonNumber) return Number(value.source);
  return value as boolean; // the column is boolean: inference allowed nothing else here
}
