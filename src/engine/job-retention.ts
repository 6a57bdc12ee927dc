import { engineNow } from './clock.js';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { JobStore } from './job-store.js';

export interface JobRetentionOptions {
  store: JobStore;
  /** Finished jobs older than this are deleted, ms. */
  ttlMs: number;
  logger: Logger;
  /** How often to sweep. Default: a quarter of the TTL, between 1 s and 1 h. */
  intervalMs?: number;
  /** Rows deleted per write. Default 500. */
  batchSize?: number;
}

export interface JobRetention {
  /** Deletes now every finished, unpinned job older than the TTL; resolves with how many went. */
  sweep(): Promise<number>;
  /** Stops the timer; resolves once a sweep under way has stopped, at its next batch. */
  stop(): Promise<void>;
}

/**
 * Deletes finished jobs (succeeded, failed, cancelled) once older than the TTL, pinned ones never. A batch is one
 * write of the store's group commit and the event loop gets a turn between two: a backlog of a million rows never
 * holds the write lock for long, and claims and outcomes get in between. job_counts follows by its DELETE trigger.
 */
export function startJobRetention({ store, ttlMs, logger, intervalMs, batchSize = 500 }: JobRetentionOptions): JobRetention {
  const every = intervalMs ?? Math.min(3_600_000, Math.max(1000, Math.floor(ttlMs / 4)));
  let stopped = false;
  let running: Promise<number> | undefined;

  const deleteExpired = async (): Promise<number> => {
    const cutoff = engineNow() - ttlMs;
    let removed = 0;
    for (;;) {
      const deleted = await store.deleteFinished(cutoff, batchSize);
      removed += deleted;
      if (deleted < batchSize || stopped) break;
      await nextTurn();
    }
    if (removed > 0) logger.info({ removed, finished_before: new Date(cutoff).toISOString() }, 'finished jobs removed');
    return removed;
  };
  const sweep = (): Promise<number> => {
    if (stopped) return Promise.resolve(0);
    running ??= deleteExpired().finally(() => {
      running = undefined;
    });
    return running;
  };
  const timer = setInterval(() => {
    sweep().catch((err) => logger.error({ err }, 'job retention sweep failed; will try again'));
  }, every);
  timer.unref();
  return {
    sweep,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
