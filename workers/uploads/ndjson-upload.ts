// Streams an uploaded NDJSON file: one JSON object per line (LF or CRLF; blank lines skipped; optional BOM), as
// batches of records in the order their keys are written. Nothing but the current line (at most maxRecordBytes) and
// batch is held in memory.
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createTaskError } from '../../src/contracts/task-errors.js';
import { InvalidUtf8Error, lineAtByteOffset } from './utf8-validator.js';
import { parseObjectLine, type NdjsonRecord } from './ndjson-line.js';
import { createDecoder, invalidUtf8Message, recordTooLargeMessage, rethrowingOwnErrors, type UploadReadOptions } from './upload-pipeline.js';


export async function readNdjsonUpload(
  file: string,
  options: UploadReadOptions,
  onRows: (batch: NdjsonRecord[]) => void,
): Promise<void> {
  const batchSize = options.batchSize ?? 2000;
  const { maxRecordBytes } = options;
  let batch: NdjsonRecord[] = [];
  let lineNumber = 0;
  let isFirstRecord = true;

  const handleLine = (bytes: Buffer): void => {
    lineNumber++;
    let text = bytes.toString('utf8');
    if (lineNumber === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (text.trim() === '') return;
    if (isFirstRecord) {
      isFirstRecord = false;
      // A JSON document (an array of objects) is the most common wrong upload; say so instead of "not valid JSON".
      if (text.trimStart().startsWith('[')) {
        throw createTaskError(
          'invalid_payload',
          `the NDJSON looks like a JSON array (line ${lineNumber} starts with "["): send application/x-ndjson with one object per line, not one array`,
        );
      }
    }
    batch.push(parseObjectLine(text, lineNumber));
    if (batch.length >= batchSize) {
      onRows(batch);
      batch = [];
    }
  };

  // A line's length excludes its line end: the LF, and the CR before it. While the line is still pending, a CR
  // at its very end may be the start of a CRLF, so it is not held against the line yet.
  const failIfTooLong = (bytes: number, lastByte: number | undefined): void => {
    if (bytes - (lastByte === 0x0d ? 1 : 0) > maxRecordBytes) {
      throw createTaskError('record_too_large', recordTooLargeMessage(`line ${lineNumber + 1} of the NDJSON`, maxRecordBytes));
    }
  };

  async function consume(chunks: AsyncIterable<Buffer>): Promise<void> {
    // The pieces of the line not ended yet, joined once when its LF arrives (never chunk by chunk).
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    for await (const chunk of chunks) {
      let start = 0;
      for (let end = chunk.indexOf(0x0a); end !== -1; end = chunk.indexOf(0x0a, start)) {
        const piece = chunk.subarray(start, end);
        const lastByte = piece.length > 0 ? piece[piece.length - 1] : pending.at(-1)?.at(-1);
        failIfTooLong(pendingBytes + piece.length, lastByte);
        handleLine(pending.length === 0 ? piece : Buffer.concat([...pending, piece]));
        pending = [];
        pendingBytes = 0;
        start = end + 1;
      }
      if (start < chunk.length) {
        pending.push(chunk.subarray(start));
        pendingBytes += chunk.length - start;
        failIfTooLong(pendingBytes, chunk[chunk.length - 1]);
      }
    }
    if (pending.length > 0) handleLine(Buffer.concat(pending));
    if (batch.length > 0) onRows(batch);
  }

  let consumerError: unknown;
  try {
    await pipeline(
      createReadStream(file, { highWaterMark: 1024 * 1024 }),
      createDecoder(options),
      rethrowingOwnErrors(consume, (err) => (consumerError = err)),
      { signal: options.signal },
    );
  } catch (caught) {
    const err = consumerError ?? caught;
    if (err instanceof InvalidUtf8Error) {
      const line = await lineAtByteOffset(file, err.byteOffset);
      throw createTaskError('invalid_payload', invalidUtf8Message('NDJSON', line, err.byteOffset), {
        cause: err,
      });
    }
    throw err;
  }
}

export type { NdjsonRecord } from './ndjson-line.js';
