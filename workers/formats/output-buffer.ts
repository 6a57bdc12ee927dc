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

const FLUSH_AT_BYTES = 1024 * 1024;
/** Room past FLUSH_AT_BYTES so that the last rows of a batch rarely force an early hand-over. */
const BYTE_BUFFER_SIZE = FLUSH_AT_BYTES + 64 * 1024;

/**
 * The byte-level sibling of createOutputBuffer, for writers that encode straight into a Buffer: `buf` and `pos`
 * are public so a hot loop can store bytes itself, after `reserve(n)` made room for n more. A full buffer is
 * handed to the stream as it is and a fresh one allocated (the stream may keep the old one queued), so nothing is
 * ever copied or overwritten.
 */
export interface ByteOutput {
  buf: Buffer;
  pos: number;
  /** Makes room for `bytes` more bytes at `pos`, handing the buffered bytes to the stream first when needed. */
  reserve(bytes: number): void;
  /** Writes a buffer once it passed ~1 MB; waits for 'drain' when any write since the last wait asked to. */
  flushIfFull(): Promise<void>;
  /** Writes what is left and ends the stream. */
  end(): Promise<void>;
}

export function createByteOutput(out: Writable): ByteOutput {
  let mustDrain = false;
  const handOver = (): void => {
    if (output.pos === 0) return;
    const chunk = output.buf.subarray(0, output.pos);
    output.buf = Buffer.allocUnsafe(BYTE_BUFFER_SIZE);
    output.pos = 0;
    if (!out.write(chunk)) mustDrain = true;
  };
  const output: ByteOutput = {
    buf: Buffer.allocUnsafe(BYTE_BUFFER_SIZE),
    pos: 0,
    reserve(bytes) {
      if (output.pos + bytes <= output.buf.length) return;
      handOver();
      if (bytes > output.buf.length) output.buf = Buffer.allocUnsafe(bytes);
    },
    async flushIfFull() {
      if (output.pos >= FLUSH_AT_BYTES) handOver();
      if (mustDrain) {
        mustDrain = false;
        await waitForDrain(out);
      }
    },
    async end() {
      handOver();
      if (mustDrain) {
        mustDrain = false;
        await waitForDrain(out);
      }
      out.end();
    },
  };
  return output;
}
