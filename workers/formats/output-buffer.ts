// Text formats build their output as strings and hand it to the stream in ~1 MB pieces: one write per row costs
// far more than the encoding itself.
import type { Writable } from 'node:stream';

const FLUSH_AT_CHARS = 1024 * 1024;

export interface OutputBuffer {
  append(text: string): void;
  /** Writes the buffered text once it is large enough; waits for 'drain' when the stream asks to. */
  flushIfFull(): Promise<void>;
  /** Writes what is left and ends the stream. */
  end(): Promise<void>;
}

export function createOutputBuffer(out: Writable): OutputBuffer {
  let pending = '';
  const flush = async (): Promise<void> => {
    if (pending === '') return;
    const text = pending;
    pending = '';
    if (!out.write(text)) await waitForDrain(out);
  };
  return {
    append(text) {
      pending += text;
    },
    async flushIfFull() {
      if (pending.length >= FLUSH_AT_CHARS) await flush();
    },
    async end() {
      await flush();
      out.end();
    },
  };
}

/**
 * Like once(out, 'drain'), but also settles when the stream is destroyed without an error, so nothing hangs.
 * `downstream`, when given, is watched the same way: a stream that feeds it cannot drain once it is gone.
 */
export function waitForDrain(out: Writable, downstream?: Writable): Promise<void> {
  const watched = downstream ? [out, downstream] : [out];
  const gone = watched.find((stream) => stream.destroyed);
  if (gone) return Promise.reject(gone.errored ?? new Error('the output stream was destroyed'));
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      out.off('drain', onDrain);
      for (const stream of watched) {
        stream.off('error', onError);
        stream.off('close', onClose);
      }
    };
    const onDrain = (): void => {
      cleanup();
      resolve();
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onClose = (): void => {
      cleanup();
      reject(watched.find((stream) => stream.errored)?.errored ?? new Error('the output stream closed before it drained'));
    };
    out.on('drain', onDrain);
    for (const stream of watched) {
      stream.on('error', onError);
      stream.on('close', onClose);
    }
  });
}
