// What the CSV and NDJSON readers share.
import { transcode } from 'node:buffer';
import { Transform } from 'node:stream';
import type { UploadCharset } from '../../src/contracts/import-contract.js';
import { createUtf8Validator } from './utf8-validator.js';

export interface UploadReadOptions {
  signal: AbortSignal;
  onBytesRead(totalBytes: number): void;
  /**
   * The largest single record accepted, in bytes of the file as written: an NDJSON line without its line end, a
   * CSV record with its separators and quotes but without its line end (a BOM counts toward NDJSON's first line
   * only). A longer one fails with `record_too_large` in the read chunk (1 MiB) where it passes the limit, before
   * it is ever held whole.
   */
  maxRecordBytes: number;
  batchSize?: number;
  /** utf-8 when absent. */
  charset?: UploadCharset;
}

/**
 * The stage that turns the upload's bytes into UTF-8 for the parsers: a validator for UTF-8 (parsers would replace
 * invalid bytes with U+FFFD silently), a transcoder for ISO-8859-1 (every byte is a character, U+0000–U+00FF).
 * Either reports the running count of the upload's own bytes.
 */
export function createDecoder(options: Pick<UploadReadOptions, 'charset' | 'onBytesRead'>): Transform {
  if (options.charset !== 'iso-8859-1') return createUtf8Validator({ onBytes: options.onBytesRead });
  let bytes = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      options.onBytesRead(bytes);
      callback(null, transcode(chunk, 'latin1', 'utf8'));
    },
  });
}

/** Latin-1 files sent without their charset are the usual cause, so the message says how to send one. */
export function invalidUtf8Message(what: 'CSV' | 'NDJSON', line: number, byteOffset: number): string {
  return `the ${what} is not valid UTF-8: line ${line} (byte ${byteOffset}); if the file is ISO-8859-1 (latin-1), upload it with charset=iso-8859-1`;
}

/** The message names the line and the limit, never the file (its path is the server's business). */
export function recordTooLargeMessage(what: string, maxRecordBytes: number): string {
  return `${what} is longer than the limit of ${maxRecordBytes} bytes (--max-record-mb)`;
}

/**
 * When the last stage of a pipeline throws, pipeline() may reject with the AbortError of the upstream stream it
 * destroyed instead (Node 20): keep the stage's own error to report it.
 */
export function rethrowingOwnErrors<T>(
  stage: (source: AsyncIterable<T>) => Promise<void>,
  remember: (err: unknown) => void,
): (source: AsyncIterable<T>) => Promise<void> {
  return async (source) => {
    try {
      await stage(source);
    } catch (err) {
      remember(err);
      throw err;
    }
  };
}
