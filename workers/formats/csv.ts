// CSV as RFC 4180 describes it: UTF-8 without BOM, a header row, CRLF between records, `,` between fields.
// - A field is quoted when it contains `"`, `,`, CR or LF, or is the empty string; inner quotes are doubled and
//   line breaks inside a quoted field are kept as they are.
// - null is an empty unquoted field; the empty string is `""`. offload's import reads them back the same way.
// - Booleans are `true`/`false`; integers are plain digits; reals see number-text.ts; dates and timestamps are their
//   ISO-8601 text (`2014-01-01`, `2001-01-01T17:06:00Z`); nested values (json) their JSON text, quoted like text.
// - Cells starting with = + - @ are written unchanged: this is a data export, and prefixing them (OWASP's advice
//   against formula injection) would corrupt negative numbers and any text that really starts so. Open untrusted
//   exports in a spreadsheet through its import dialog, or export XLSX, whose text cells are never formulas.
import type { Writable } from 'node:stream';
import type { ColumnType, DatasetColumn } from '../datasets/dataset-file.js';
import type { FormatModule, FormatWriter } from './format.js';
import { createByteOutput, type ByteOutput } from './output-buffer.js';

const NEEDS_QUOTES = /[",\r\n]/;

export function quoteCsvField(text: string): string {
  if (text !== '' && !NEEDS_QUOTES.test(text)) return text;
  // split/join, not replace(/"/g): on 1 KB cells full of quotes replace() made the whole export twice as slow.
  return `"${text.indexOf('"') === -1 ? text : text.split('"').join('""')}"`;
}

// The writer encodes straight into a Buffer (output-buffer.ts's ByteOutput): numbers, booleans and ASCII text are
// stored byte by byte in JavaScript, and only non-ASCII text goes through Buffer#write. Building the text as a
// string and encoding it afterwards spent more time flattening and copying strings (and in GC) than encoding.
const INTEGER = 0;
const REAL = 1;
const BOOLEAN = 2;
const TEXT = 3;
const KIND: Record<ColumnType, number> = { integer: INTEGER, real: REAL, boolean: BOOLEAN, text: TEXT, date: TEXT, timestamp: TEXT, json: TEXT };

const QUOTE = 0x22;
const COMMA = 0x2c;
const CR = 0x0d;
const LF = 0x0a;
/** `-1.2345678901234567e-308` and any safe integer fit, with a comma and `.0` to spare. */
const NUMBER_ROOM = 32;

/** Stores an ASCII-only string (a number's text) at `pos`; the caller reserved the room. */
function putAscii(output: ByteOutput, text: string): void {
  const buf = output.buf;
  let pos = output.pos;
  for (let i = 0; i < text.length; i++) buf[pos++] = text.charCodeAt(i);
  output.pos = pos;
}

/** Stores a text field, quoted as quoteCsvField would; the caller reserved 3 bytes per UTF-16 unit plus 2. */
function putText(output: ByteOutput, text: string): void {
  const buf = output.buf;
  const start = output.pos;
  const length = text.length;
  let pos = start;
  let quote = length === 0;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) return putTextSlowly(output, text, start);
    if (code === QUOTE || code === COMMA || code === CR || code === LF) {
      quote = true;
      break;
    }
    buf[pos++] = code;
  }
  if (quote) {
    pos = start;
    buf[pos++] = QUOTE;
    for (let i = 0; i < length; i++) {
      const code = text.charCodeAt(i);
      if (code >= 0x80) return putTextSlowly(output, text, start);
      if (code === QUOTE) buf[pos++] = QUOTE;
      buf[pos++] = code;
    }
    buf[pos++] = QUOTE;
  }
  output.pos = pos;
}

/** Non-ASCII text: every UTF-16 unit takes at most 3 bytes in UTF-8 (a doubled quote 2), so the room suffices. */
function putTextSlowly(output: ByteOutput, text: string, start: number): void {
  output.pos = start + output.buf.write(quoteCsvField(text), start, 'utf8');
}

export const csvFormat: FormatModule = {
  createWriter(columns: readonly DatasetColumn[], out: Writable): FormatWriter {
    const kinds = columns.map((column) => KIND[column.type]);
    const width = kinds.length;
    const output = createByteOutput(out);
    const header = `${columns.map((column) => quoteCsvField(column.name)).join(',')}\r\n`;
    output.reserve(Buffer.byteLength(header, 'utf8'));
    output.pos += output.buf.write(header, output.pos, 'utf8');
    return {
      async writeRows(rows) {
        for (const row of rows) {
          for (let i = 0; i < width; i++) {
            const value = row[i]!;
            const kind = kinds[i]!;
            if (kind === TEXT && value !== null) {
              output.reserve((value as string).length * 3 + 3);
            } else {
              output.reserve(NUMBER_ROOM);
            }
            if (i > 0) output.buf[output.pos++] = COMMA;
            if (value === null) continue;
            if (kind === INTEGER) {
              putAscii(output, String(value));
            } else if (kind === REAL) {
              const text = String(value);
              putAscii(output, text);
              // formatReal, without building the longer string.
              if (Number.isInteger(value) && text.indexOf('e') === -1) {
                output.buf[output.pos++] = 0x2e;
                output.buf[output.pos++] = 0x30;
              }
            } else if (kind === BOOLEAN) {
              putAscii(output, value ? 'true' : 'false');
            } else {
              putText(output, value as string);
            }
          }
          output.reserve(2);
          output.buf[output.pos++] = CR;
          output.buf[output.pos++] = LF;
        }
        await output.flushIfFull();
      },
      end: () => output.end(),
    };
  },
};
