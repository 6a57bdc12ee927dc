// One NDJSON line read as a record: validated as strict JSON and split into its top-level keys and values in a
// single pass (see parseObjectLine).
import { createTaskError } from '../../src/contracts/task-errors.js';
import { MAX_COLUMNS } from '../datasets/dataset-file.js';
import { JsonNested, JsonNumber, type JsonCell } from './type-inference.js';

export interface NdjsonRecord {
  /** In the order written; a key repeated within a line keeps its first place and last value, as JSON.parse does. */
  keys: string[];
  values: JsonCell[];
  line: number;
}

/**
 * One pass over the line that both validates it as strict JSON (what JSON.parse accepts) and collects the
 * top-level members. JSON.parse is not used on the line: it would build the whole value, which for a line of a
 * million tiny keys (or a nested object of them) costs twenty times the line's size in heap, and it forgets what
 * must be kept anyway: the key order as written (JavaScript puts integer-like keys first) and the exact text of
 * numbers. Nested arrays and objects are validated but kept as their text.
 */
export function parseObjectLine(text: string, line: number): NdjsonRecord {
  try {
    const start = skipWhitespace(text, 0);
    if (text.charCodeAt(start) !== 0x7b /* { */) {
      expectEnd(text, scanValue(text, start));
      throw createTaskError('invalid_payload', `line ${line} of the NDJSON is not a JSON object`);
    }
    const record = scanObject(text, start, line);
    expectEnd(text, record.end);
    return { keys: record.keys, values: record.values, line };
  } catch (err) {
    if (!(err instanceof JsonSyntaxError)) throw err;
    throw createTaskError('invalid_payload', `line ${line} of the NDJSON is not valid JSON: ${err.message}`, { cause: err });
  }
}

class JsonSyntaxError extends Error {
  constructor(text: string, index: number, expected: string) {
    const found = index >= text.length ? 'the end of the line' : JSON.stringify(String.fromCodePoint(text.codePointAt(index)!));
    super(`expected ${expected}, found ${found} at column ${index + 1}`);
    this.name = 'JsonSyntaxError';
  }
}

const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;

function expectEnd(text: string, index: number): void {
  const end = skipWhitespace(text, index);
  if (end < text.length) throw new JsonSyntaxError(text, end, 'the end of the line');
}

/**
 * A key repeated within the line keeps the position of its first occurrence and the value of its last, as
 * JSON.parse and Object.keys would have it. More distinct keys than a dataset can have columns can never import:
 * the line fails there, before holding the rest of its keys.
 */
function scanObject(text: string, start: number, line: number): { keys: string[]; values: JsonCell[]; end: number } {
  const keys: string[] = [];
  const values: JsonCell[] = [];
  const positions = new Map<string, number>();
  let i = skipWhitespace(text, start + 1);
  if (text.charCodeAt(i) === CLOSE_OBJECT) return { keys, values, end: i + 1 };
  for (;;) {
    if (text.charCodeAt(i) !== QUOTE) throw new JsonSyntaxError(text, i, 'a key');
    const keyEnd = scanString(text, i);
    const key = decodeString(text, i, keyEnd);
    i = skipWhitespace(text, keyEnd);
    if (text.charCodeAt(i) !== COLON) throw new JsonSyntaxError(text, i, '":"');
    i = skipWhitespace(text, i + 1);
    const first = text.charCodeAt(i);
    let value: JsonCell;
    let end: number;
    if (first === QUOTE) {
      end = scanString(text, i);
      value = decodeString(text, i, end);
    } else if (first === OPEN_OBJECT || first === OPEN_ARRAY) {
      end = scanValue(text, i);
      value = new JsonNested(text.slice(i, end));
    } else {
      end = scanScalar(text, i);
      value = first === 0x74 /* t */ ? true : first === 0x66 /* f */ ? false : first === 0x6e /* n */ ? null : new JsonNumber(text.slice(i, end));
    }
    const position = positions.get(key);
    if (position !== undefined) {
      values[position] = value;
    } else {
      if (keys.length === MAX_COLUMNS) {
        throw createTaskError('invalid_payload', `line ${line} of the NDJSON brings the number of keys over ${MAX_COLUMNS}`);
      }
      positions.set(key, keys.length);
      keys.push(key);
      values.push(value);
    }
    i = skipWhitespace(text, end);
    const next = text.charCodeAt(i);
    if (next === CLOSE_OBJECT) return { keys, values, end: i + 1 };
    if (next !== COMMA) throw new JsonSyntaxError(text, i, '"," or "}"');
    i = skipWhitespace(text, i + 1);
  }
}

/**
 * Any JSON value starting at `start` (no whitespace before it); returns the index just past it. Iterative, with
 * the open containers on a byte stack, so that deep nesting costs a byte per level and no call stack.
 */
function scanValue(text: string, start: number): number {
  let open = new Uint8Array(64); // the closing bracket each open container expects
  let depth = 0;
  let i = start;
  for (;;) {
    // A value is expected at i.
    const c = text.charCodeAt(i);
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      const close = c === OPEN_OBJECT ? CLOSE_OBJECT : CLOSE_ARRAY;
      i = skipWhitespace(text, i + 1);
      if (text.charCodeAt(i) === close) {
        i++;
      } else {
        if (depth === open.length) {
          const grown = new Uint8Array(open.length * 2);
          grown.set(open);
          open = grown;
        }
        open[depth++] = close;
        i = close === CLOSE_OBJECT ? scanKeyAndColon(text, i) : i;
        continue;
      }
    } else {
      i = c === QUOTE ? scanString(text, i) : scanScalar(text, i);
    }
    // After a value: close what it ends, or move on to the next element.
    for (;;) {
      if (depth === 0) return i;
      i = skipWhitespace(text, i);
      const next = text.charCodeAt(i);
      const close = open[depth - 1]!;
      if (next === close) {
        depth--;
        i++;
      } else if (next === COMMA) {
        i = skipWhitespace(text, i + 1);
        if (close === CLOSE_OBJECT) i = scanKeyAndColon(text, i);
        break;
      } else {
        throw new JsonSyntaxError(text, i, close === CLOSE_OBJECT ? '"," or "}"' : '"," or "]"');
      }
    }
  }
}

/** A member's key and colon inside a nested object; returns where its value starts. */
function scanKeyAndColon(text: string, start: number): number {
  if (text.charCodeAt(start) !== QUOTE) throw new JsonSyntaxError(text, start, 'a key');
  const i = skipWhitespace(text, scanString(text, start));
  if (text.charCodeAt(i) !== COLON) throw new JsonSyntaxError(text, i, '":"');
  return skipWhitespace(text, i + 1);
}

/** A number, `true`, `false` or `null` at `start`; returns the index just past it. */
function scanScalar(text: string, start: number): number {
  const c = text.charCodeAt(start);
  if (c === 0x74 && text.startsWith('true', start)) return start + 4;
  if (c === 0x66 && text.startsWith('false', start)) return start + 5;
  if (c === 0x6e && text.startsWith('null', start)) return start + 4;
  return scanNumber(text, start);
}

// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
function scanNumber(text: string, start: number): number {
  let i = start;
  if (text.charCodeAt(i) === 0x2d /* - */) i++;
  if (text.charCodeAt(i) === 0x30 /* 0 */) {
    i++;
  } else {
    if (!isDigit(text.charCodeAt(i))) throw new JsonSyntaxError(text, i, 'a value');
    i = skipDigits(text, i);
  }
  if (text.charCodeAt(i) === 0x2e /* . */) {
    if (!isDigit(text.charCodeAt(i + 1))) throw new JsonSyntaxError(text, i + 1, 'a digit');
    i = skipDigits(text, i + 1);
  }
  const e = text.charCodeAt(i);
  if (e === 0x65 || e === 0x45) {
    i++;
    const sign = text.charCodeAt(i);
    if (sign === 0x2b || sign === 0x2d) i++;
    if (!isDigit(text.charCodeAt(i))) throw new JsonSyntaxError(text, i, 'a digit');
    i = skipDigits(text, i);
  }
  return i;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function skipDigits(text: string, i: number): number {
  while (isDigit(text.charCodeAt(i))) i++;
  return i;
}

/** `start` is an opening quote; returns the index just past its closing quote. */
function scanString(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) return i + 1;
    if (c < 0x20) throw new JsonSyntaxError(text, i, 'a character or an escape in a string');
    if (c === BACKSLASH) {
      const escaped = text.charCodeAt(++i);
      if (escaped === 0x75 /* u */) {
        for (let k = 1; k <= 4; k++) {
          if (!isHexDigit(text.charCodeAt(i + k))) throw new JsonSyntaxError(text, i + k, 'a hexadecimal digit');
        }
        i += 4;
      } else if (!isSimpleEscape(escaped)) {
        throw new JsonSyntaxError(text, i, 'an escape character');
      }
    }
  }
  throw new JsonSyntaxError(text, text.length, 'the closing quote of a string');
}

function isHexDigit(c: number): boolean {
  return isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function isSimpleEscape(c: number): boolean {
  // " \ / b f n r t
  return c === 0x22 || c === 0x5c || c === 0x2f || c === 0x62 || c === 0x66 || c === 0x6e || c === 0x72 || c === 0x74;
}

function decodeString(text: string, start: number, end: number): string {
  const inner = text.slice(start + 1, end - 1);
  // The string is valid JSON (just scanned): parsing it alone only decodes its escapes.
  return inner.indexOf('\\') === -1 ? inner : (JSON.parse(text.slice(start, end)) as string);
}

function skipWhitespace(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return i;
    i++;
  }
}
