// CSV as RFC 4180 describes it: UTF-8 without BOM, a header row, CRLF between records, `,` between fields.
// - A field is quoted when it contains `"`, `,`, CR or LF, or is the empty string; inner quotes are doubled and
//   line breaks inside a quoted field are kept as they are.
// - null is an empty unquoted field; the empty string is `""`. offload's import reads them back the same way.
// - Booleans are `true`/`false`; integers are plain digits; reals see number-text.ts.
// - Cells starting with = + - @ are written unchanged: this is a data export, and prefixing them (OWASP's advice
//   against formula injection) would corrupt negative numbers and any text that really starts so. Open untrusted
//   exports in a spreadsheet through its import dialog, or export XLSX, whose text cells are never formulas.
import type { Writable } from 'node:stream';
import type { CellValue, ColumnType, DatasetColumn } from '../datasets/dataset-file.js';
import type { ExportFormat, FormatWriter } from './format.js';
import { createOutputBuffer } from './output-buffer.js';
import { formatReal } from './number-text.js';

const NEEDS_QUOTES = /[",\r\n]/;

export function quoteCsvField(text: string): string {
  if (text !== '' && !NEEDS_QUOTES.test(text)) return text;
  // split/join, not replace(/"/g): on 1 KB cells full of quotes replace() made the whole export twice as slow.
  return `"${text.indexOf('"') === -1 ? text : text.split('"').join('""')}"`;
}

type Encode = (value: CellValue) => string;

const ENCODERS: Record<ColumnType, Encode> = {
  integer: (value) => (value === null ? '' : String(value)),
  real: (value) => (value === null ? '' : formatReal(value as number)),
  boolean: (value) => (value === null ? '' : value ? 'true' : 'false'),
  text: (value) => (value === null ? '' : quoteCsvField(value as string)),
};

export const csvFormat: ExportFormat = {
  extension: 'csv',
  contentType: 'text/csv; charset=utf-8',
  createWriter(columns: readonly DatasetColumn[], out: Writable): FormatWriter {
    const encoders = columns.map((column) => ENCODERS[column.type]);
    const width = encoders.length;
    const output = createOutputBuffer(out);
    output.append(`${columns.map((column) => quoteCsvField(column.name)).join(',')}\r\n`);
    return {
      async writeRows(rows) {
        let text = '';
        for (const row of rows) {
          let line = encoders[0]!(row[0]!);
          for (let i = 1; i < width; i++) line += `,${encoders[i]!(row[i]!)}`;
          text += `${line}\r\n`;
        }
        output.append(text);
        await output.flushIfFull();
      },
      end: () => output.end(),
    };
  },
};
