// Streams an uploaded NDJSON file: one JSON object per line (LF or CRLF; blank lines skipped; optional BOM), as
// batches of records in the order their keys are written. Nothing but the current line and batch is held in memory.
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createTaskError } from '../job-error.js';
import { createUtf8Validator, InvalidUtf8Error, lineAtByteOffset } from './utf8-validator.js';
import { JsonNested, JsonNumber, type JsonCell } from './type-inference.js';
import { rethrowingOwnErrors, type UploadReadOptions } from './upload-pipeline.js';

export interface NdjsonRecord {
  /** In the order written; a key repeated within a line keeps its last value, as JSON.parse does. */
  keys: string[];
  values: JsonCell[];
  line: number;
}

const MAX_LINE_BYTES = 64 * 1024 * 1024;

export async function readNdjsonUpload(
  file: string,
  options: UploadReadOptions,
  onRows: (batch: NdjsonRecord[]) => void,
): Promise<void> {
  const batchSize = options.batchSize ?? 2000;
  let batch: NdjsonRecord[] = [];
  let lineNumber = 0;

  const handleLine = (bytes: Buffer): void => {
    lineNumber++;
    let text = bytes.toString('utf8');
    if (lineNumber === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (text.trim() === '') return;
    batch.push(parseObjectLine(text, lineNumber));
    if (batch.length >= batchSize) {
      onRows(batch);
      batch = [];
    }
  };

  async function consume(chunks: AsyncIterable<Buffer>): Promise<void> {
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    for await (const chunk of chunks) {
      let start = 0;
      for (let end = chunk.indexOf(0x0a); end !== -1; end = chunk.indexOf(0x0a, start)) {
        const piece = chunk.subarray(start, end);
        handleLine(pending.length === 0 ? piece : Buffer.concat([...pending, piece]));
        pending = [];
        pendingBytes = 0;
        start = end + 1;
      }
      if (start < chunk.length) {
        pending.push(chunk.subarray(start));
        pendingBytes += chunk.length - start;
        if (pendingBytes > MAX_LINE_BYTES) {
          throw createTaskError('invalid_payload', `line ${lineNumber + 1} of the NDJSON is longer than ${MAX_LINE_BYTES} bytes`);
        }
      }
    }
    if (pending.length > 0) handleLine(Buffer.concat(pending));
    if (batch.length > 0) onRows(batch);
  }

  let consumerError: unknown;
  try {
    await pipeline(
      createReadStream(file, { highWaterMark: 1024 * 1024 }),
      createUtf8Validator({ onBytes: options.onBytesRead }),
      rethrowingOwnErrors(consume, (err) => (consumerError = err)),
      { signal: options.signal },
    );
  } catch (caught) {
    const err = consumerError ?? caught;
    if (err instanceof InvalidUtf8Error) {
      const line = await lineAtByteOffset(file, err.byteOffset);
      throw createTaskError('invalid_payload', `the NDJSON is not valid UTF-8: line ${line} (byte ${err.byteOffset})`, {
        cause: err,
      });
    }
    throw err;
  }
}

function parseObjectLine(text: string, line: number): NdjsonRecord {
  let parsed: unknown;
  try {
    // Validates the line; the scan below then reads it again for what JSON.parse loses: the key order as written
    // (JavaScript puts integer-like keys first) and the exact text of numbers.
    parsed = JSON.parse(text);
  } catch (err) {
    throw createTaskError('invalid_payload', `line ${line} of the NDJSON is not valid JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw createTaskError('invalid_payload', `line ${line} of the NDJSON is not a JSON object`);
  }
  const record = scanObject(text, line);
  if (record.keys.length !== Object.keys(parsed).length) keepLastOfRepeatedKeys(record);
  return record;
}

function keepLastOfRepeatedKeys(record: NdjsonRecord): void {
  const last = new Map<string, JsonCell>();
  record.keys.forEach((key, index) => last.set(key, record.values[index]!));
  record.keys = [...last.keys()];
  record.values = [...last.values()];
}

// The scanner trusts that `text` is valid JSON (JSON.parse accepted it), so it only finds token boundaries.
function scanObject(text: string, line: number): NdjsonRecord {
  const keys: string[] = [];
  const values: JsonCell[] = [];
  let i = skipWhitespace(text, 0) + 1; // past '{'
  for (;;) {
    i = skipWhitespace(text, i);
    if (text.charCodeAt(i) === 0x7d /* } */) break;
    const keyEnd = stringEnd(text, i);
    keys.push(decodeString(text, i, keyEnd));
    i = skipWhitespace(text, skipWhitespace(text, keyEnd) + 1); // past ':'
    const first = text.charCodeAt(i);
    let end: number;
    if (first === 0x22 /* " */) {
      end = stringEnd(text, i);
      values.push(decodeString(text, i, end));
    } else if (first === 0x7b /* { */ || first === 0x5b /* [ */) {
      end = nestedEnd(text, i);
      values.push(new JsonNested(text.slice(i, end)));
    } else if (first === 0x74 /* t */) {
      end = i + 4;
      values.push(true);
    } else if (first === 0x66 /* f */) {
      end = i + 5;
      values.push(false);
    } else if (first === 0x6e /* n */) {
      end = i + 4;
      values.push(null);
    } else {
      end = numberEnd(text, i);
      values.push(new JsonNumber(text.slice(i, end)));
    }
    i = skipWhitespace(text, end);
    if (text.charCodeAt(i) === 0x2c /* , */) i++;
  }
  return { keys, values, line };
}

function skipWhitespace(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return i;
    i++;
  }
}

/** `start` is an opening quote; returns the index just past its closing quote. */
function stringEnd(text: string, start: number): number {
  let from = start + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    let backslashes = 0;
    for (let k = quote - 1; text.charCodeAt(k) === 0x5c; k--) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

function decodeString(text: string, start: number, end: number): string {
  const inner = text.slice(start + 1, end - 1);
  return inner.indexOf('\\') === -1 ? inner : (JSON.parse(text.slice(start, end)) as string);
}

function nestedEnd(text: string, start: number): number {
  let depth = 0;
  for (let i = start; ; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      i = stringEnd(text, i) - 1;
    } else if (c === 0x7b || c === 0x5b) {
      depth++;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
}

function numberEnd(text: string, start: number): number {
  let i = start;
  for (;;) {
    const c = text.charCodeAt(i);
    const isNumberChar = (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x45 || c === 0x65;
    if (!isNumberChar) return i;
    i++;
  }
}
