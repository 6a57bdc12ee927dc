// dispatch_vs_piscina: no-op jobs/s through the whole engine — N jobs enqueued at once (each insert committed),
// claimed, run on the pool and completed (each state change committed), until the last `succeeded` event — vs
// raw Piscina running N no-op tasks submitted at once, with the same number of threads. Alternating; a fresh
// data directory for each engine round, both sides warmed up first.
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Piscina } from 'piscina';
import { startBenchEngine } from '../lib/engine-harness.js';
import type { BenchContext, Figure } from '../lib/figures.js';
import { NOOP_WORKER } from '../lib/paths.js';
import { alternate, median, medianRatio, round } from '../lib/stats.js';

/** The engine's own default (cores − 1, at least 1): what `offload serve` runs with on this machine. */
export function defaultThreads(): number {
  return Math.max(1, availableParallelism() - 1);
}

async function engineRound(ctx: BenchContext, threads: number, jobs: number): Promise<number> {
  const dataDir = ctx.newDir('dispatch');
  const bench = await startBenchEngine(dataDir, { threads });
  try {
    bench.engine.register('noop', NOOP_WORKER);
    await Promise.all(Array.from({ length: threads * 2 }, () => bench.run({ kind: 'noop', payload: {} })));
    let succeeded = 0;
    const done = new Promise<void>((resolve, reject) => {
      bench.engine.on('change', (job) => {
        if (job.status === 'succeeded' && ++succeeded === jobs) resolve();
        if (job.status === 'failed') reject(new Error(`a no-op job failed: ${job.error?.message}`));
      });
    });
    const started = performance.now();
    await Promise.all(Array.from({ length: jobs }, () => bench.engine.enqueue({ kind: 'noop', payload: {} })));
    await done;
    return jobs / ((performance.now() - started) / 1000);
  } finally {
    await bench.close();
  }
}

function createPiscinaRound(threads: number, tasks: number): { run(): Promise<number>; close(): Promise<void> } {
  const pool = new Piscina({ filename: pathToFileURL(NOOP_WORKER).href, minThreads: threads, maxThreads: threads });
  let warm = false;
  return {
    async run() {
      if (!warm) {
        await Promise.all(Array.from({ length: 1000 }, () => pool.run(null)));
        warm = true;
      }
      const started = performance.now();
      await Promise.all(Array.from({ length: tasks }, () => pool.run(null)));
      return tasks / ((performance.now() - started) / 1000);
    },
    close: () => pool.destroy(),
  };
}

export async function benchDispatch(ctx: BenchContext): Promise<Figure[]> {
  const threads = defaultThreads();
  const jobs = ctx.sizes.dispatchJobs;
  const piscina = createPiscinaRound(threads, jobs);
  try {
    const measured = await alternate(
      ctx.sizes.rounds,
      { offload: () => engineRound(ctx, threads, jobs), piscina: () => piscina.run() },
      (name, i, value) => ctx.log(`  round ${i + 1} ${name}: ${Math.round(value).toLocaleString('en')} jobs/s`),
    );
    return [
      {
        name: 'dispatch_vs_piscina',
        value: round(medianRatio(measured.offload, measured.piscina)),
        unit: 'ratio',
        what: `no-op jobs/s through the whole engine: ${jobs.toLocaleString('en')} enqueued at once, all succeeded, every state change committed; ${threads} thread(s); ${Math.round(median(measured.offload)).toLocaleString('en')} jobs/s`,
        reference: { what: `raw Piscina, ${threads} thread(s), ${jobs.toLocaleString('en')} no-op tasks submitted at once (default options)`, value: Math.round(median(measured.piscina)), unit: 'tasks/s' },
        target: { op: '>=', value: 0.5 },
        detail: {
          threads,
          jobs,
          offload_jobs_per_s: Math.round(median(measured.offload)),
          rounds: { offload_jobs_per_s: measured.offload.map(Math.round), piscina_tasks_per_s: measured.piscina.map(Math.round) },
        },
      },
    ];
  } finally {
    await piscina.close();
  }
}
