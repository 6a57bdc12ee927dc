// Streams an uploaded CSV file (RFC 4180; `,` `;` tab or `|` as separator; CRLF, LF and CR line ends, even mixed;
// optional BOM; UTF-8 or ISO-8859-1) as batches of records with the physical line each starts on. Nothing but the
// current record (at most maxRecordBytes, at most MAX_COLUMNS fields) and batch is held in memory.
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { parse, CsvError, type Options, type Parser } from 'csv-parse';
import { createTaskError } from '../../src/contracts/task-errors.js';
import { MAX_COLUMNS } from '../datasets/dataset-file.js';
import { CSV_DELIMITERS, type CsvDelimiter } from '../../src/contracts/import-contract.js';
import { InvalidUtf8Error, lineAtByteOffset } from './utf8-validator.js';
import { createCsvRecordLimit } from './csv-record-limit.js';
import { createDecoder, invalidUtf8Message, rethrowingOwnErrors, type UploadReadOptions } from './upload-pipeline.js';

/** A field is `null` when it was empty and unquoted, `''` when written as `""`. */
export type CsvField = string | null;

export interface CsvRecord {
  fields: CsvField[];
  /** 1-based physical line the record starts on (quoted line breaks make a record span several lines). */
  line: number;
}

export interface CsvVisitor {
  header(fields: CsvField[]): void;
  rows(batch: CsvRecord[]): void;
}

/** What csv-parse emits with `raw: true`: the fields, and the record's source text. */
interface ParsedRecord {
  record: string[];
  raw: string;
}

export interface CsvReadOptions extends UploadReadOptions {
  /** `,` when absent. */
  delimiter?: CsvDelimiter;
  /** Unquoted fields equal to one of these are null, like an empty unquoted field. */
  nullTokens?: ReadonlySet<string>;
}

export async function readCsvUpload(file: string, options: CsvReadOptions, visitor: CsvVisitor): Promise<void> {
  const batchSize = options.batchSize ?? 2000;
  const delimiter = options.delimiter ?? ',';
  const nullTokens = options.nullTokens ?? NO_TOKENS;
  let headerRaw = '';
  // Lines are counted here, not by csv-parse, whose count is off by one for every CRLF inside a quoted field:
  // every physical line yields a record (empty lines are not skipped), and a record spans 1 + the line breaks
  // inside its fields.
  let nextRecordLine = 1;
  let width = -1;
  let consumerError: unknown;
  async function consume(records: AsyncIterable<ParsedRecord>): Promise<void> {
    let batch: CsvRecord[] = [];
    for await (const { record, raw } of records) {
      const line = nextRecordLine;
      nextRecordLine += 1 + countLineBreaks(record);
      const fields = markNulls(record, raw, delimiter, nullTokens);
      if (width === -1) {
        width = fields.length; // at most MAX_COLUMNS: createCsvRecordLimit saw to it
        headerRaw = raw;
        visitor.header(fields);
        continue;
      }
      if (fields.length !== width) {
        // A blank line cannot be a record of a multi-column file; in a one-column file it is a null.
        if (width > 1 && fields.length === 1 && fields[0] === null) continue;
        throw createTaskError(
          'invalid_payload',
          `line ${line} of the CSV has ${fields.length} field${fields.length === 1 ? '' : 's'}, but the header has ${width}${delimiterHint(delimiter, headerRaw + raw)}`,
        );
      }
      batch.push({ fields, line });
      if (batch.length >= batchSize) {
        visitor.rows(batch);
        batch = [];
      }
    }
    if (batch.length > 0) visitor.rows(batch);
  }

  try {
    await pipeline(
      createReadStream(file, { highWaterMark: 1024 * 1024 }),
      createDecoder(options),
      // Before the parser, which holds a record whole before it emits it.
      createCsvRecordLimit({ maxRecordBytes: options.maxRecordBytes, maxFields: MAX_COLUMNS, delimiter }),
      createCsvParser(delimiter),
      rethrowingOwnErrors(consume, (err) => (consumerError = err)),
      { signal: options.signal },
    );
  } catch (err) {
    throw await describeCsvFailure(consumerError ?? err, file, delimiter);
  }
  if (width === -1) throw createTaskError('invalid_payload', 'the CSV has no header row');
}

/**
 * The record delimiters are given, not discovered: until csv-parse has found one it tries all three at every byte
 * and allocates four Buffers each time, so a 15 MB first line took 9 s per pass. Given, they also make mixed line
 * ends mean what the line numbers here (and createCsvRecordLimit) already take them to mean.
 */
const NO_TOKENS: ReadonlySet<string> = new Set();

const CSV_DIALECT: Options = {
  bom: true,
  quote: '"',
  escape: '"',
  record_delimiter: ['\r\n', '\n', '\r'],
  relax_column_count: true,
  skip_empty_lines: false,
};

function createCsvParser(delimiter: CsvDelimiter): Parser {
  return parse({
    ...CSV_DIALECT,
    delimiter,
    // `raw` is how empty quoted fields are told from empty unquoted ones: csv-parse's `cast` callback would
    // tell too, but builds an info object per field and made parsing ten times slower.
    raw: true,
  });
}

/** CRLF, CR and LF each count one. Counted in place: a match() array of a quoted field's 2 million lines is not. */
function countLineBreaks(fields: readonly string[]): number {
  let count = 0;
  for (const field of fields) {
    const lf = field.indexOf('\n');
    const cr = field.indexOf('\r');
    if (lf === -1 && cr === -1) continue;
    for (let i = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr); i < field.length; i++) {
      const c = field.charCodeAt(i);
      if (c === 0x0a) {
        count++;
      } else if (c === 0x0d) {
        count++;
        if (field.charCodeAt(i + 1) === 0x0a) i++;
      }
    }
  }
  return count;
}

/** Empty unquoted fields and unquoted null tokens become null; `""` stays the empty string, `"NA"` the text. */
function markNulls(fields: string[], raw: string, delimiter: string, nullTokens: ReadonlySet<string>): CsvField[] {
  const isNull = nullTokens.size === 0 ? (field: string) => field === '' : (field: string) => field === '' || nullTokens.has(field);
  if (!fields.some(isNull)) return fields;
  const quoted = raw.indexOf('"') === -1 ? null : quotedFields(raw, fields.length, delimiter);
  return fields.map((field, i) => (isNull(field) && !quoted?.[i] ? null : field));
}

/**
 * Said when a record has the wrong number of fields and the file also holds another of the separators offload
 * reads: the usual cause is a file separated by `;` (or tabs) read with the wrong one.
 */
function delimiterHint(delimiter: CsvDelimiter, text: string): string {
  const others = CSV_DELIMITERS.filter((candidate) => candidate !== delimiter && text.includes(candidate));
  if (others.length === 0) return '';
  const shown = others.map(describeDelimiter).join(' or ');
  return ` (fields were split on ${describeDelimiter(delimiter)}; the file also has ${shown}: if that is its separator, upload it with ?delimiter=${encodeURIComponent(others[0]!)})`;
}

export function describeDelimiter(delimiter: string): string {
  return delimiter === '\t' ? 'tab' : JSON.stringify(delimiter);
}

/** Which fields of one record's source text start with a quote; the text is known to be well-formed CSV. */
function quotedFields(raw: string, count: number, delimiter: string): boolean[] {
  const flags: boolean[] = [];
  let i = 0;
  while (flags.length < count) {
    const isQuoted = raw.charCodeAt(i) === 0x22;
    flags.push(isQuoted);
    if (isQuoted) {
      i++;
      for (;;) {
        const quote = raw.indexOf('"', i);
        i = quote + 1;
        if (raw.charCodeAt(i) !== 0x22) break; // a doubled quote is an escaped one
        i++;
      }
    }
    const separator = raw.indexOf(delimiter, i);
    if (separator === -1) break;
    i = separator + 1;
  }
  return flags;
}

/**
 * The line on which record number `recordIndex` (0-based, header included) starts, found by parsing the file
 * again up to it. Only on the error path, where csv-parse says how many records it had emitted.
 */
async function lineOfRecord(file: string, recordIndex: number, delimiter: CsvDelimiter): Promise<number> {
  let line = 1;
  let seen = 0;
  // on_record runs synchronously as each record is parsed; records emitted as data would be dropped when the
  // parse error destroys the stream in the same chunk.
  const parser = parse({
    ...CSV_DIALECT,
    delimiter,
    on_record: (record: string[]) => {
      if (seen++ < recordIndex) line += 1 + countLineBreaks(record);
      return null;
    },
  });
  try {
    await pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), parser);
  } catch {
    // The same parse error again, after the records that matter.
  }
  return line;
}

const CSV_PROBLEMS: Record<string, string> = {
  CSV_QUOTE_NOT_CLOSED: 'a quoted field is never closed',
  CSV_INVALID_CLOSING_QUOTE: 'a closing quote is followed by something other than the separator or a line end',
  INVALID_OPENING_QUOTE: 'a quote appears inside an unquoted field (quote the whole field and double the inner quote)',
  CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE: 'a closing quote is followed by something other than the separator or a line end',
};

async function describeCsvFailure(err: unknown, file: string, delimiter: CsvDelimiter): Promise<unknown> {
  if (err instanceof InvalidUtf8Error) {
    const line = await lineAtByteOffset(file, err.byteOffset);
    return createTaskError('invalid_payload', invalidUtf8Message('CSV', line, err.byteOffset), { cause: err });
  }
  if (err instanceof CsvError) {
    const problem = CSV_PROBLEMS[err.code] ?? err.message;
    const records = (err as CsvError & { records?: unknown }).records;
    const where = typeof records === 'number' ? `the record starting at line ${await lineOfRecord(file, records, delimiter)}` : 'the file';
    return createTaskError('invalid_payload', `malformed CSV in ${where}: ${problem}`, { cause: err });
  }
  return err;
}
