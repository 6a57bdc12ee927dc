// What the CSV and NDJSON readers share.

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
