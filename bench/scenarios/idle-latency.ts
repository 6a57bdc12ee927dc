// idle_latency_ms: on an idle engine (in this process, default thread count), the time from enqueue() to the
// `change` event that says succeeded, for one no-op job at a time with 20 ms of quiet between jobs; median.
import { startBenchEngine, type BenchEngine } from '../lib/engine-harness.js';
import type { BenchContext, Figure } from '../lib/figures.js';
import { NOOP_WORKER } from '../lib/paths.js';
import { median, percentile, round, sleep } from '../lib/stats.js';
import { defaultThreads } from './dispatch.js';

/** After 20 warm-up jobs, `samples` no-op jobs one at a time, 20 ms apart: each one's enqueue → succeeded, ms. */
export async function measureIdleLatencies(bench: BenchEngine, samples: number): Promise<number[]> {
  bench.engine.register('noop', NOOP_WORKER);
  for (let i = 0; i < 20; i++) await bench.run({ kind: 'noop', payload: {} });
  const latencies: number[] = [];
  for (let i = 0; i < samples; i++) {
    await sleep(20);
    latencies.push((await bench.run({ kind: 'noop', payload: {} })).ms);
  }
  return latencies;
}

export async function benchIdleLatency(ctx: BenchContext): Promise<Figure[]> {
  const threads = defaultThreads();
  const bench = await startBenchEngine(ctx.newDir('idle'), { threads });
  try {
    const latencies = await measureIdleLatencies(bench, ctx.sizes.idleSamples);
    ctx.log(`  ${latencies.length} jobs: median ${median(latencies).toFixed(2)} ms, p90 ${percentile(latencies, 90).toFixed(2)} ms, max ${Math.max(...latencies).toFixed(1)} ms`);
    return [
      {
        name: 'idle_latency_ms',
        value: round(median(latencies), 3),
        unit: 'ms',
        what: `median enqueue → succeeded of one no-op job on an idle engine (${threads} thread(s), ${latencies.length} jobs, 20 ms apart)`,
        reference: null,
        target: { op: '<=', value: 2 },
        detail: { samples: latencies.length, p90_ms: round(percentile(latencies, 90), 3), max_ms: round(Math.max(...latencies), 2), threads },
      },
    ];
  } finally {
    await bench.close();
  }
}
