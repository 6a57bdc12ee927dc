import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DATA_DIRS, dataSubdir, datasetIdOfUpload, type DataDirName } from '../contracts/data-layout.js';
import type { Logger } from 'pino';
import type { Engine } from '../engine/engine.js';
import type { Datasets } from '../datasets/datasets.js';

/** Which files of each directory may expire; an upload only once no job of its dataset is pending or running. */
const SWEPT: Array<[DataDirName, (name: string, datasets: Datasets) => Promise<boolean>]> = [
  [DATA_DIRS.exports, async () => true],
  [DATA_DIRS.uploads, async (name, datasets) => {
    const datasetId = datasetIdOfUpload(name);
    return datasetId === undefined || (await datasets.countActiveJobs(datasetId)) === 0;
  }],
  [DATA_DIRS.datasets, async (name) => name.endsWith('.tmp')],
];

export interface RetentionOptions {
  engine: Engine;
  datasets: Datasets;
  resultTtlMs: number;
  logger: Logger;
  /** How often to sweep. Default: a quarter of the TTL, between 1 s and 10 min. */
  intervalMs?: number;
}

/**
 * Deletes export files (finished or left temporary by a killed attempt), leftover uploads and temporary dataset
 * files older than the result TTL, and forgets idempotency keys of jobs that
 * finished before it. File age is read from the file itself, so a crash between a job's end and any bookkeeping
 * cannot leave a file behind forever.
 */
export function startRetentionSweeper({ engine, datasets, resultTtlMs, logger, intervalMs }: RetentionOptions): { sweep(): Promise<number>; stop(): void } {
  const every = intervalMs ?? Math.min(600_000, Math.max(1000, resultTtlMs / 4));
  const sweep = async (): Promise<number> => {
    const cutoff = Date.now() - resultTtlMs;
    let removed = 0;
    // Datasets are kept until deleted; only the temporary files of imports killed on their last attempt go.
    for (const [dir, isExpirable] of SWEPT) {
      const path = dataSubdir(engine.dataDir, dir);
      let names: string[];
      try {
        names = await readdir(path);
      } catch {
        continue;
      }
      for (const name of names) {
        const file = join(path, name);
        try {
          if ((await stat(file)).mtimeMs < cutoff && (await isExpirable(name, datasets))) {
            await rm(file, { force: true });
            removed++;
          }
        } catch {
          // Removed meanwhile by a download delete or another process: nothing to do.
        }
      }
    }
    await engine.expireIdempotencyKeys(cutoff);
    if (removed > 0) logger.info({ removed, older_than: new Date(cutoff).toISOString() }, 'expired files removed');
    return removed;
  };
  const timer = setInterval(() => {
    sweep().catch((err) => logger.error({ err }, 'retention sweep failed'));
  }, every);
  timer.unref();
  return { sweep, stop: () => clearInterval(timer) };
}
