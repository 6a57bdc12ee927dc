// Column types are inferred over the whole upload (first pass) and every value is converted to its column's type
// (second pass), so a column is `integer` only if every non-empty cell in it is one. A type given by the client
// (`types=`) replaces inference: then every value must fit it, and the first that does not fails the import.
import type { CellValue, ColumnType, DatasetColumn } from '../datasets/dataset-file.js';
import { canonicalTemporal, classifyTemporal } from '../datasets/temporal.js';

/**
 * What one cell looks like on its own. `empty` is a CSV field written as `""`: the empty string in a text column,
 * null in any other, so it never decides a column's type. Timestamps are told apart by whether they had a zone.
 */
export type CellKind = 'null' | 'empty' | 'integer' | 'real' | 'boolean' | 'text' | 'date' | 'timestamp' | 'timestamptz' | 'json';

/** `undefined` while a column has seen only nulls and empty strings. */
export type InferredType = Exclude<CellKind, 'null' | 'empty'> | undefined;

export function mergeKind(current: InferredType, kind: CellKind): InferredType {
  if (kind === 'null' || kind === 'empty' || current === kind) return current;
  if (current === undefined) return kind;
  if ((current === 'integer' && kind === 'real') || (current === 'real' && kind === 'integer')) return 'real';
  // Nested values with anything else (NDJSON only): every value stays the JSON it was.
  if (current === 'json' || kind === 'json') return 'json';
  return 'text';
}

/** A column of nothing but nulls holds text: the most general type, and the one any later value fits. */
export function finalColumn(name: string, inferred: InferredType): DatasetColumn {
  if (inferred === 'timestamp') return { name, type: 'timestamp', timezone: null };
  if (inferred === 'timestamptz') return { name, type: 'timestamp', timezone: 'UTC' };
  return { name, type: inferred ?? 'text' };
}

/** Whether a value of `kind` may go into a column forced to `type`. */
export function fitsForcedType(type: ColumnType, kind: CellKind): boolean {
  switch (type) {
    case 'text':
      return true;
    case 'real':
      return kind === 'real' || kind === 'integer' || kind === 'null' || kind === 'empty';
    case 'timestamp':
      return kind === 'timestamp' || kind === 'timestamptz' || kind === 'null' || kind === 'empty';
    default:
      return kind === type || kind === 'null' || kind === 'empty';
  }
}

// Canonical spellings only: "007", "+5", "1_000" and " 1" stay text so that no character of the upload is lost.
// Integers: `0` or an optional `-` and 1 to 16 digits without a leading zero, then the exact-range check (integers
// beyond 2^53−1 cannot be held exactly and stay text). Reals: the same integer part (any length, `-0` too), then a
// fraction (`.` and digits, optionally an exponent) or an exponent alone (`e`/`E`, optional sign, digits), finite.
// Scanned by hand: the two regular expressions that said this cost more than the rest of the typing together.

export function classifyCsvCell(value: string | null): CellKind {
  if (value === null) return 'null';
  if (value === '') return 'empty';
  const first = value.charCodeAt(0);
  if (first >= 48 && first <= 57) {
    const temporal = classifyTemporal(value);
    if (temporal) return temporal;
  }
  if (first === 45 /* - */ || (first >= 48 && first <= 57)) return numberKind(value);
  return isBooleanWord(value) ? 'boolean' : 'text';
}

const isDigit = (code: number): boolean => code >= 48 && code <= 57;

/** Past the digits that start at `i`. */
function skipDigits(value: string, i: number): number {
  while (i < value.length && isDigit(value.charCodeAt(i))) i++;
  return i;
}

/** Past an exponent that starts at `i` (at the `e`), or -1 when there is none to be had there. */
function skipExponent(value: string, i: number): number {
  const e = value.charCodeAt(i);
  if (e !== 101 && e !== 69) return -1;
  i++;
  const sign = value.charCodeAt(i);
  if (sign === 43 || sign === 45) i++;
  const end = skipDigits(value, i);
  return end === i ? -1 : end;
}

function numberKind(value: string): CellKind {
  const negative = value.charCodeAt(0) === 45;
  const start = negative ? 1 : 0;
  const lead = value.charCodeAt(start);
  if (!isDigit(lead)) return 'text';
  const integerEnd = lead === 48 ? start + 1 : skipDigits(value, start);
  if (integerEnd === value.length) {
    if (lead === 48 && negative) return 'text'; // -0
    const digits = integerEnd - start;
    if (digits > 16) return 'text';
    // 15 digits are always below 2^53; only 16 need the check.
    return digits < 16 || Number.isSafeInteger(Number(value)) ? 'integer' : 'text';
  }
  let end: number;
  let exponent = false;
  if (value.charCodeAt(integerEnd) === 46 /* . */) {
    end = skipDigits(value, integerEnd + 1);
    if (end === integerEnd + 1) return 'text';
    if (end < value.length) {
      end = skipExponent(value, end);
      exponent = true;
    }
  } else {
    end = skipExponent(value, integerEnd);
    exponent = true;
  }
  if (end !== value.length) return 'text';
  // Without an exponent only an integer part of over 308 digits can overflow a double.
  return (!exponent && integerEnd - start <= 308) || Number.isFinite(Number(value)) ? 'real' : 'text';
}

/** A CSV cell forced to `json` must be JSON text. */
export function isJsonText(value: string): boolean {
  try {
    JSON.parse(value);
    return true;
  } catch {
    return false;
  }
}

function isBooleanWord(value: string): boolean {
  if (value.length !== 4 && value.length !== 5) return false;
  const lower = value.toLowerCase();
  return lower === 'true' || lower === 'false';
}

/** A text value (a CSV field, or an NDJSON string in a column that is not text) as `type`; it was checked to fit. */
export function convertCsvCell(value: string | null, type: ColumnType): CellValue {
  if (value === null) return null;
  if (value === '') return type === 'text' ? '' : null;
  switch (type) {
    case 'integer':
    case 'real':
      return Number(value);
    case 'boolean':
      return value.toLowerCase() === 'true';
    case 'timestamp':
      return canonicalTemporal(value, 'timestamp');
    case 'text':
    case 'date':
    case 'json':
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

/** JSON strings that are ISO dates or timestamps are those; `forced` reads strings as CSV cells (`"12"` fits integer). */
export function classifyJsonCell(value: JsonCell, forced?: ColumnType): CellKind {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return 'boolean';
  if (value instanceof JsonNested) return 'json';
  if (typeof value === 'string') {
    if (forced !== undefined) return value === '' ? 'text' : classifyCsvCell(value);
    return classifyTemporal(value) ?? 'text';
  }
  const number = Number(value.source);
  if (JSON_INTEGER.test(value.source)) return Number.isSafeInteger(number) ? 'integer' : 'text';
  return Number.isFinite(number) ? 'real' : 'text';
}

export function convertJsonCell(value: JsonCell, type: ColumnType): CellValue {
  if (value === null) return null;
  switch (type) {
    case 'text':
      if (typeof value === 'string') return value;
      if (typeof value === 'boolean') return value ? 'true' : 'false';
      return value.source;
    case 'json':
      if (typeof value === 'string') return JSON.stringify(value);
      if (typeof value === 'boolean') return value ? 'true' : 'false';
      return value.source;
    default:
      if (typeof value === 'string') return convertCsvCell(value, type);
      if (value instanceof JsonNumber) return Number(value.source);
      return value as boolean; // the column is boolean: inference allowed nothing else here
  }
}
