import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DomainError } from '../domain-error.js';


/**
 * Streams a request body to `file`, never holding it whole in memory, and stops as soon as it passes
 * `limitBytes`. On any failure the partial file is removed. Resolves with the byte count.
 */
export async function receiveUpload(body: Readable, file: string, limitBytes: number): Promise<number> {
  let bytes = 0;
  const limit = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      if (bytes > limitBytes) callback(new DomainError('upload_too_large', `The upload is larger than the limit of ${limitBytes} bytes.`));
      else callback(null, chunk);
    },
  });
  try {
    await pipeline(body, limit, createWriteStream(file, { flags: 'wx' }));
    return bytes;
  } catch (err) {
    await rm(file, { force: true });
    throw err;
  }
}
