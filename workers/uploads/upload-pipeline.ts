// What the CSV and NDJSON readers share.

export interface UploadReadOptions {
  signal: AbortSignal;
  onBytesRead(totalBytes: number): void;
  batchSize?: number;
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
