// An engine in this process, as an embedder would run it, with a way to wait for a job's final state from the
// engine's own `change` events (no polling).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { createOffload } from '../../src/compose.js';
import type { EngineOptions, EnqueueRequest, Engine } from '../../src/engine/engine.js';
import { isTerminal, type Job } from '../../src/engine/job.js';

export interface BenchEngine {
  engine: Engine;
  /** Enqueues and resolves with the job's final state and the time from enqueue to that state, ms. */
  run(request: EnqueueRequest): Promise<{ job: Job; ms: number }>;
  close(): Promise<void>;
}

/**
 * Logs at `info` to a file with pino's synchronous destination — what `offload serve` does on stdout — so that
 * the per-job log lines cost what they cost in production.
 */
export async function startBenchEngine(
  dataDir: string,
  options: Omit<EngineOptions, 'dataDir' | 'store' | 'logger'> = {},
  /** `sqlite`, or a `postgres://` URL (see OffloadOptions.store). */
  store?: string,
): Promise<BenchEngine> {
  mkdirSync(dataDir, { recursive: true });
  const logger = pino({ name: 'offload', level: 'info' }, pino.destination({ dest: path.join(dataDir, 'engine.log'), sync: true }));
  // The whole composition (built-in kinds registered), without the HTTP server.
  const offload = await createOffload({ dataDir, store, logger, engine: { maxPending: 100_000_000, ...options } });
  const { engine } = offload;
  const finished = new Map<string, Job>();
  const waiters = new Map<string, (job: Job) => void>();
  engine.on('change', (job) => {
    if (!isTerminal(job.status)) return;
    const waiter = waiters.get(job.id);
    if (waiter) {
      waiters.delete(job.id);
      waiter(job);
    } else {
      finished.set(job.id, job);
    }
  });
  await offload.start();
  return {
    engine,
    async run(request) {
      const started = performance.now();
      const { job: { id } } = await engine.enqueue(request);
      let job = finished.get(id);
      if (job) finished.delete(id);
      else job = await new Promise<Job>((resolve) => waiters.set(id, resolve));
      const ms = performance.now() - started;
      if (job.status !== 'succeeded') {
        throw new Error(`bench job ${job.kind} ended ${job.status}: ${job.error?.code} ${job.error?.message}`);
      }
      return { job, ms };
    },
    async close() {
      await offload.close({ graceMs: 1000 });
    },
  };
}
