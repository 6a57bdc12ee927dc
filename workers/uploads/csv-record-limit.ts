// A pass-through stage in front of csv-parse that bounds each record while the bytes stream by: its size in bytes
// and its number of fields. csv-parse's own `max_record_size` is no such bound: it adds the decoded length
// (UTF-16 units) of the record's finished fields to the byte length of the field being read, leaves out the
// separators, quotes and line ends, and never limits the number of fields — a row of 15 million commas is 15
// million empty strings in one array (450 MB of heap) before anyone can look at it.
import { Transform, type TransformCallback } from 'node:stream';
import { createTaskError } from '../../src/contracts/task-errors.js';
import { recordTooLargeMessage } from './upload-pipeline.js';

export interface CsvRecordLimits {
  /** Bytes of a record as written, separators and quotes included, line end excluded. */
  maxRecordBytes: number;
  /** Fields in any record, the header included. */
  maxFields: number;
  /** The field separator, one ASCII character; `,` when absent. */
  delimiter?: string;
}

// Where the scanner is within a record. It follows csv-parse with `"` as both quote and escape and CR, LF and
// CRLF as record delimiters (see csv-upload.ts): a quote opens a quoted field only as its first byte, and in a
// quoted field `""` is a quote while `"` before anything else closes it. Input csv-parse rejects (a quote inside
// an unquoted field, text after a closing quote) is counted as unquoted text; the parser fails on it anyway.
const FIELD_START = 0;
const UNQUOTED = 1;
const QUOTED = 2;
const QUOTED_AFTER_QUOTE = 3; // a quote inside a quoted field: an escaped quote if another follows, else the end

export const QUOTE = 0x22;
export const CR = 0x0d;
export const LF = 0x0a;
const BOM = [0xef, 0xbb, 0xbf];

export function createCsvRecordLimit({ maxRecordBytes, maxFields, delimiter = ',' }: CsvRecordLimits): Transform {
  const SEPARATOR = delimiter.charCodeAt(0);
  let state = FIELD_START;
  let recordBytes = 0;
  let fields = 1;
  let headerFields = -1; // until the first record ends
  let line = 1; // physical line of the byte being scanned: CR, LF and CRLF each end one
  let recordLine = 1;
  let afterCr = false;
  let bomBytesSeen = 0; // of a UTF-8 BOM at the very start, which csv-parse drops; -1 once past it

  const tooLarge = (): Error =>
    createTaskError('record_too_large', recordTooLargeMessage(`the CSV record starting at line ${recordLine}`, maxRecordBytes));
  const tooWide = (): Error =>
    headerFields === -1
      ? createTaskError('invalid_payload', `the CSV header has more than ${maxFields} columns; at most ${maxFields} are supported`)
      : createTaskError('invalid_payload', `line ${recordLine} of the CSV has more than ${maxFields} fields, but the header has ${headerFields}`);

  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      let i = 0;
      while (bomBytesSeen !== -1 && i < chunk.length) {
        if (chunk[i] === BOM[bomBytesSeen]) {
          i++;
          if (++bomBytesSeen === BOM.length) bomBytesSeen = -1;
        } else {
          // Not a BOM after all: its first bytes were the start of an unquoted field.
          if (bomBytesSeen > 0) {
            state = UNQUOTED;
            recordBytes = bomBytesSeen;
          }
          bomBytesSeen = -1;
        }
      }
      for (; i < chunk.length; i++) {
        const byte = chunk[i]!;
        if (byte === CR || byte === LF) {
          if (byte === CR || !afterCr) line++;
          afterCr = byte === CR;
          if (state !== QUOTED) {
            // The end of a record (or the LF of a CRLF that just ended one, where nothing has been counted yet).
            if (headerFields === -1) headerFields = fields;
            state = FIELD_START;
            recordBytes = 0;
            fields = 1;
            recordLine = line;
            continue;
          }
        } else {
          afterCr = false;
          if (state === FIELD_START) {
            state = byte === QUOTE ? QUOTED : byte === SEPARATOR ? FIELD_START : UNQUOTED;
          } else if (state === QUOTED) {
            if (byte === QUOTE) state = QUOTED_AFTER_QUOTE;
          } else if (state === QUOTED_AFTER_QUOTE) {
            state = byte === QUOTE ? QUOTED : byte === SEPARATOR ? FIELD_START : UNQUOTED;
          } else if (byte === SEPARATOR) {
            state = FIELD_START;
          }
          if (byte === SEPARATOR && state === FIELD_START && ++fields > maxFields) {
            callback(tooWide());
            return;
          }
        }
        if (++recordBytes > maxRecordBytes) {
          callback(tooLarge());
          return;
        }
      }
      callback(null, chunk);
    },
  });
}
