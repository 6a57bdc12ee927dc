// Parsers decode bytes with replacement characters, so invalid UTF-8 would silently become U+FFFD in the dataset.
// This stage refuses it instead, and passes the bytes on unchanged, cut only at character boundaries.
import { createReadStream } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
import { isUtf8 } from 'node:buffer';

export class InvalidUtf8Error extends Error {
  constructor(readonly byteOffset: number) {
    super(`invalid UTF-8 at byte ${byteOffset}`);
    this.name = 'InvalidUtf8Error';
  }
}

export interface Utf8ValidatorOptions {
  /** Called with the running total of bytes validated so far. */
  onBytes?(totalBytes: number): void;
}

export function createUtf8Validator(options: Utf8ValidatorOptions = {}): Transform {
  let carry: Buffer = Buffer.alloc(0);
  let offset = 0; // of the first byte of `carry` in the file

  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      const bytes = carry.length === 0 ? chunk : Buffer.concat([carry, chunk]);
      const end = completeCharactersEnd(bytes);
      const complete = bytes.subarray(0, end);
      if (!isUtf8(complete)) {
        callback(new InvalidUtf8Error(offset + firstInvalidOffset(complete)));
        return;
      }
      carry = Buffer.from(bytes.subarray(end));
      offset += end;
      options.onBytes?.(offset);
      callback(null, complete.length > 0 ? complete : undefined);
    },
    flush(callback: TransformCallback) {
      // A multi-byte character cut off by the end of the file.
      callback(carry.length > 0 ? new InvalidUtf8Error(offset) : null);
    },
  });
}

/** Where the last character that might still continue in the next chunk starts. */
function completeCharactersEnd(bytes: Buffer): number {
  const length = bytes.length;
  for (let back = 1; back <= Math.min(3, length); back++) {
    const byte = bytes[length - back]!;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte: look further back for the lead byte
    const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return needed > back ? length - back : length;
  }
  return length; // only continuation bytes at the end: isUtf8 will reject them
}

/** Only on the error path: the longest valid prefix, found by bisection with a streaming decoder. */
function firstInvalidOffset(bytes: Buffer): number {
  const isValidPrefix = (end: number): boolean => {
    try {
      // stream: true tolerates a character cut off at `end`, so only a real error throws.
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, end), { stream: true });
      return true;
    } catch {
      return false;
    }
  };
  let low = 0; // valid
  let high = bytes.length; // invalid
  while (high - low > 1) {
    const middle = (low + high) >>> 1;
    if (isValidPrefix(middle)) low = middle;
    else high = middle;
  }
  return low;
}

/** The 1-based line that holds the byte at `byteOffset`, counted by reading the file again (error path only). */
export async function lineAtByteOffset(file: string, byteOffset: number): Promise<number> {
  let line = 1;
  if (byteOffset <= 0) return line;
  for await (const chunk of createReadStream(file, { end: byteOffset - 1 }) as AsyncIterable<Buffer>) {
    for (let index = chunk.indexOf(0x0a); index !== -1; index = chunk.indexOf(0x0a, index + 1)) line++;
  }
  return line;
}
