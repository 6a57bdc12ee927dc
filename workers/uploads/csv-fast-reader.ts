// The fast way through a CSV upload: one scan of the decoded text per read chunk, fields cut out with slice(), and
// records handed on as flat arrays (no object per record). It reads the same dialect as csv-upload.ts (csv-parse
// with CSV_DIALECT) and gives the same fields, nulls and line numbers, but only for input it is sure of: on
// anything else — malformed quoting, a record of the wrong width, one near the size or field limit, no header —
// it throws CsvOutsideFastPath, and the caller reads the file with csv-upload.ts instead, which accepts and refuses
// exactly what it always did, with the same messages. The reference reader stays the one definition of the dialect;
// test/csv-fast-reader.test.ts compares the two on generated input.
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { CsvDelimiter } from '../../src/contracts/import-contract.js';
import { MAX_COLUMNS } from '../datasets/dataset-file.js';
import type { CsvField, CsvReadOptions } from './csv-upload.js';
import { createDecoder } from './upload-pipeline.js';
import { CR, LF, QUOTE } from './csv-record-limit.js';

/** `count` records of `width` fields each, row after row in `fields`; `lines[r]` is where record r starts. */
export interface CsvRows {
  width: number;
  count: number;
  fields: CsvField[];
  lines: number[];
}

export interface CsvRowsVisitor {
  header(fields: CsvField[]): void;
  rows(batch: CsvRows): void;
}

/** The input needs the reference reader (csv-upload.ts): to be read as it reads it, or to fail as it fails. */
export class CsvOutsideFastPath extends Error {
  override name = 'CsvOutsideFastPath';
}

/** Half csv-upload.ts's chunk: progress moves twice as often now that most imports read the file once. */
const READ_CHUNK_BYTES = 512 * 1024;

const BOM = 0xfeff;

const FIELD_START = 0;
const UNQUOTED = 1;
const QUOTED = 2;
const AFTER_QUOTE = 3; // a quote inside a quoted field: an escaped quote if another follows, else the end

export async function readCsvUploadFast(file: string, options: CsvReadOptions, visitor: CsvRowsVisitor): Promise<void> {
  const parser = createFastCsvParser({
    delimiter: options.delimiter ?? ',',
    nullTokens: options.nullTokens ?? new Set(),
    // A UTF-16 unit is 1 to 3 UTF-8 bytes: past a third of the limit, only the reference reader can tell.
    maxRecordUnits: Math.floor(options.maxRecordBytes / 3),
    batchSize: options.batchSize ?? 2000,
    visitor,
  });
  // The stage's own error: pipeline() may reject with the AbortError of the stream it destroyed instead (Node 20).
  let stageError: unknown;
  const parse = (step: () => void): void => {
    try {
      step();
    } catch (err) {
      stageError = err;
      throw err;
    }
  };
  try {
    await pipeline(
      createReadStream(file, { highWaterMark: READ_CHUNK_BYTES }),
      createDecoder(options),
      async (chunks: AsyncIterable<Buffer>) => {
        for await (const chunk of chunks) parse(() => parser.write(chunk.toString('utf8')));
        parse(() => parser.end());
      },
      { signal: options.signal },
    );
  } catch (err) {
    const own = stageError ?? err;
    // The visitor's errors (a value that does not fit its forced type) and aborts are the import's; anything the
    // file itself caused (invalid UTF-8, an unreadable file) the reference reader finds again and describes.
    if (own === stageError || options.signal.aborted) throw own;
    throw new CsvOutsideFastPath('the reference reader describes this failure', { cause: own });
  }
}

interface ParserOptions {
  delimiter: CsvDelimiter;
  nullTokens: ReadonlySet<string>;
  maxRecordUnits: number;
  batchSize: number;
  visitor: CsvRowsVisitor;
}

/** The scanner itself, fed decoded text chunk by chunk (cut at character boundaries). */
export function createFastCsvParser({ delimiter, nullTokens, maxRecordUnits, batchSize, visitor }: ParserOptions): {
  write(text: string): void;
  end(): void;
} {
  const SEPARATOR = delimiter.charCodeAt(0);
  const hasTokens = nullTokens.size > 0;
  let width = -1; // until the header is read
  let header: CsvField[] = [];
  let fields: CsvField[] = [];
  let lines: number[] = [];
  let count = 0;
  let recordFields = 0; // fields of the current record pushed so far
  let line = 1; // where the current record starts
  let breaksInRecord = 0; // line breaks inside its quoted fields
  let state = FIELD_START;
  let escaped = false; // the current quoted field holds a doubled quote
  let started = false; // the current record has a character (so the end of the file ends it)
  let afterCr = false; // the last record ended on CR: an LF right after belongs to it
  let atStart = true;
  let carry = ''; // the unfinished field, from its first character (after the opening quote)
  let carriedUnits = 0; // units of the current record before `carry`
  let fieldStart = 0; // of the unfinished field in the chunk's text: the carry starts there
  let recordStart = 0; // where the current record started in the chunk's text (negative: in an earlier chunk)

  const pushField = (value: CsvField): void => {
    if (++recordFields > MAX_COLUMNS) throw new CsvOutsideFastPath('too many fields');
    if (width === -1) header.push(value);
    else fields.push(value);
  };
  const unquoted = (text: string, start: number, end: number): CsvField => {
    if (start === end) return null;
    const value = text.slice(start, end);
    return hasTokens && nullTokens.has(value) ? null : value;
  };
  const quoted = (text: string, start: number, end: number): string => {
    const value = text.slice(start, end);
    breaksInRecord += countLineBreaks(value);
    return escaped ? value.replaceAll('""', '"') : value;
  };
  const flush = (): void => {
    if (count === 0) return;
    visitor.rows({ width, count, fields, lines });
    fields = [];
    lines = [];
    count = 0;
  };
  /** After a field that ended at `at` with `c`, a separator or a line end: where scanning goes on. */
  const fieldEnded = (value: CsvField, text: string, at: number, c: number): number => {
    pushField(value);
    state = FIELD_START;
    if (c === SEPARATOR) return (fieldStart = at + 1);
    const next = endOfLine(text, at, c);
    endRecord();
    return (fieldStart = recordStart = next);
  };
  const endRecord = (): void => {
    if (width === -1) {
      width = recordFields;
      visitor.header(header);
      header = [];
    } else if (recordFields !== width) {
      // A blank line cannot be a record of a multi-column file (csv-upload.ts skips it); anything else is the
      // reference reader's to report, with its hint about separators.
      if (!(width > 1 && recordFields === 1 && fields[fields.length - 1] === null)) throw new CsvOutsideFastPath('a record of another width');
      fields.length -= 1;
    } else {
      lines.push(line);
      if (++count >= batchSize) flush();
    }
    line += 1 + breaksInRecord;
    breaksInRecord = 0;
    recordFields = 0;
    started = false;
    carriedUnits = 0;
  };

  return {
    write(chunk) {
      let i = carry.length;
      const text = carry.length === 0 ? chunk : carry + chunk;
      const n = text.length;
      fieldStart = 0;
      recordStart = -carriedUnits;
      if (atStart && n > 0) {
        atStart = false;
        if (text.charCodeAt(0) === BOM) fieldStart = recordStart = i = 1;
      }
      if (afterCr && i < n) {
        afterCr = false;
        if (text.charCodeAt(i) === LF) fieldStart = recordStart = ++i;
      }
      while (i < n) {
        const c = text.charCodeAt(i);
        if (state === FIELD_START) {
          started = true;
          if (c === QUOTE) {
            state = QUOTED;
            escaped = false;
            fieldStart = i + 1;
          } else if (c === SEPARATOR) {
            pushField(null);
            fieldStart = i + 1;
          } else if (c === CR || c === LF) {
            i = fieldEnded(null, text, i, c);
            continue;
          } else {
            state = UNQUOTED;
            fieldStart = i;
          }
          i++;
        } else if (state === UNQUOTED) {
          let j = i;
          let d = c;
          while (d !== SEPARATOR && d !== CR && d !== LF && d !== QUOTE) {
            if (++j === n) break;
            d = text.charCodeAt(j);
          }
          if (j === n) {
            i = n;
            break;
          }
          if (d === QUOTE) throw new CsvOutsideFastPath('a quote inside an unquoted field');
          i = fieldEnded(unquoted(text, fieldStart, j), text, j, d);
        } else if (state === QUOTED) {
          const q = text.indexOf('"', i);
          if (q === -1) {
            i = n;
            break;
          }
          state = AFTER_QUOTE;
          i = q + 1;
        } else {
          // AFTER_QUOTE
          if (c === QUOTE) {
            escaped = true;
            state = QUOTED;
            i++;
            continue;
          }
          if (c !== SEPARATOR && c !== CR && c !== LF) throw new CsvOutsideFastPath('text after a closing quote');
          i = fieldEnded(quoted(text, fieldStart, i - 1), text, i, c);
        }
        if (i - recordStart > maxRecordUnits) throw new CsvOutsideFastPath('a record near the size limit');
      }
      if (i > n) {
        // The record ended on the chunk's last CR: its LF, if any, is in the next chunk.
        afterCr = true;
        carry = '';
        carriedUnits = 0;
        return;
      }
      if (n - recordStart > maxRecordUnits) throw new CsvOutsideFastPath('a record near the size limit');
      carriedUnits = fieldStart - recordStart;
      carry = text.slice(fieldStart);
    },
    end() {
      if (state === QUOTED) throw new CsvOutsideFastPath('an unclosed quote');
      if (started) {
        if (state === UNQUOTED) pushField(unquoted(carry, 0, carry.length));
        else if (state === AFTER_QUOTE) pushField(quoted(carry, 0, carry.length - 1));
        else pushField(null);
        endRecord();
      }
      if (width === -1) throw new CsvOutsideFastPath('no header row');
      flush();
    },
  };
}

/** Past the record's line end: CRLF is one; a CR at the very end of the text is flagged by returning n + 1. */
function endOfLine(text: string, i: number, c: number): number {
  if (c === LF) return i + 1;
  if (i + 1 === text.length) return i + 2;
  return text.charCodeAt(i + 1) === LF ? i + 2 : i + 1;
}

/** CRLF, CR and LF each count one (as csv-upload.ts counts them). */
function countLineBreaks(value: string): number {
  if (value.indexOf('\n') === -1 && value.indexOf('\r') === -1) return 0;
  let breaks = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === LF) breaks++;
    else if (c === CR) {
      breaks++;
      if (value.charCodeAt(i + 1) === LF) i++;
    }
  }
  return breaks;
}
