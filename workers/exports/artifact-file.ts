// Writes an export file so that it is either complete or absent: bytes go to a temporary name, through optional
// gzip and a tap that hashes and counts exactly what lands on disk, and the file is renamed to its final name
// only after it was flushed (fsync) — a killed export leaves at most a `.tmp` file that nothing serves.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

export interface ArtifactFile {
  /** Where the format writes; ending it completes the file. */
  readonly input: Writable;
  /** Waits until everything is on disk, then renames the file into place. */
  complete(): Promise<{ bytes: number; sha256: string }>;
  /** Stops writing and deletes the temporary file. */
  discard(reason: Error): Promise<void>;
}

export async function createArtifactFile(finalPath: string, tempPath: string, options: { gzip: boolean }): Promise<ArtifactFile> {
  await mkdir(path.dirname(finalPath), { recursive: true });
  const hash = createHash('sha256');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      bytes += chunk.length;
      callback(null, chunk);
    },
  });
  // flush: true makes the stream fsync before it closes (Node ≥ 20.10).
  const file = createWriteStream(tempPath, { flush: true, highWaterMark: 1024 * 1024 });
  const stages: [Writable, ...Writable[]] = options.gzip ? [createGzip(), tap, file] : [tap, file];
  const written = pipeline(stages as NodeJS.WritableStream[]);
  // Observed by complete() or discard(); without this an early failure would be an unhandled rejection.
  written.catch(() => {});

  return {
    input: stages[0],
    async complete() {
      await written;
      await rename(tempPath, finalPath);
      await syncDirectory(path.dirname(finalPath));
      return { bytes, sha256: hash.digest('hex') };
    },
    async discard(reason) {
      stages[0].destroy(reason);
      await written.catch(() => {});
      // The pipeline can settle before the file stream has closed: a stream still opening its file creates it
      // after an rm that ran first (seen once under load: csv.gz left its .tmp). Remove it once it is closed.
      file.destroy();
      if (!file.closed) await once(file, 'close').catch(() => {});
      await rm(tempPath, { force: true });
    },
  };
}

/** Makes a rename durable: the new directory entry is on disk only once the directory itself is synced. */
async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
