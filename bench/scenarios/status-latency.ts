// status_p99_ms_during_exports: while two exports of the 1M-row dataset run, one client polls
// GET /exports/{id} (the two ids in turn), one request at a time with 5 ms between them, and records each
// request's latency; p99 over the whole window (from the second POST until both exports finished). Offload
// runs with --threads 2, so both exports run at once beside the event loop. The reference is a naive server
// running the same export code in its main thread (bench/reference/naive-export-server.ts). Alternating.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { spawnOffload, spawnServer, type ChildServer } from '../lib/child-server.js';
import { linkDataset } from '../lib/dataset.js';
import type { BenchContext, Figure } from '../lib/figures.js';
import { requestOk } from '../lib/http.js';
import { NAIVE_EXPORT_SERVER } from '../lib/paths.js';
import { registerBenchDataset } from '../lib/server-dataset.js';
import { alternate, median, percentile, round, sleep } from '../lib/stats.js';

const THINK_MS = 5;
const MIN_SAMPLES = 20;

interface Window {
  p99: number;
  p50: number;
  max: number;
  samples: number;
  seconds: number;
}

async function pollDuringExports(url: string, datasetId: string): Promise<Window> {
  const ids: string[] = [];
  for (let i = 0; i < 2; i++) {
    const { body } = await requestOk(url, 'POST', '/exports', { json: { dataset_id: datasetId, format: 'csv' } });
    ids.push(body.job_id as string);
  }
  const started = performance.now();
  const latencies: number[] = [];
  const finished = new Set<string>();
  for (let i = 0; finished.size < ids.length || latencies.length < MIN_SAMPLES; i++) {
    const id = ids[i % ids.length]!;
    const sent = performance.now();
    const { body } = await requestOk(url, 'GET', `/exports/${id}`);
    latencies.push(performance.now() - sent);
    if (body.status === 'failed' || body.status === 'cancelled') throw new Error(`export ${id} ${body.status}: ${JSON.stringify(body.error)}`);
    if (body.status === 'succeeded') finished.add(id);
    await sleep(THINK_MS);
  }
  return {
    p99: percentile(latencies, 99),
    p50: percentile(latencies, 50),
    max: Math.max(...latencies),
    samples: latencies.length,
    seconds: (performance.now() - started) / 1000,
  };
}

export async function benchStatusLatency(ctx: BenchContext): Promise<Figure[]> {
  const dataset = ctx.datasets.export;
  const windows: Record<string, Window[]> = { offload: [], naive: [] };

  const measure = async (name: 'offload' | 'naive'): Promise<number> => {
    const dataDir = ctx.newDir(`status-${name}`);
    const logFile = path.join(dataDir, 'server.log');
    let server: ChildServer | undefined;
    try {
      let datasetId: string;
      if (name === 'offload') {
        server = await spawnOffload(['--data-dir', dataDir, '--threads', '2', '--shutdown-grace', '1'], { logFile, nodeArgs: ctx.childNodeArgs });
        datasetId = await registerBenchDataset(server.url, dataDir, dataset);
      } else {
        linkDataset(dataset, dataDir);
        datasetId = dataset.id;
        server = await spawnServer([NAIVE_EXPORT_SERVER, dataDir], { logFile, nodeArgs: ctx.childNodeArgs });
      }
      const window = await pollDuringExports(server.url, datasetId);
      windows[name]!.push(window);
      return window.p99;
    } finally {
      await server?.stop();
      rmSync(path.join(dataDir, 'exports'), { recursive: true, force: true });
    }
  };

  const measured = await alternate(ctx.sizes.rounds, { offload: () => measure('offload'), naive: () => measure('naive') }, (name, i, value) => {
    const w = windows[name]!.at(-1)!;
    ctx.log(`  round ${i + 1} ${name}: p99 ${value.toFixed(1)} ms, p50 ${w.p50.toFixed(1)} ms, max ${w.max.toFixed(0)} ms, ${w.samples} requests in ${w.seconds.toFixed(1)} s`);
  });
  const summarise = (list: Window[]) =>
    list.map((w) => ({ p99_ms: round(w.p99, 2), p50_ms: round(w.p50, 2), max_ms: round(w.max, 1), samples: w.samples, seconds: round(w.seconds, 1) }));
  return [
    {
      name: 'status_p99_ms_during_exports',
      value: round(median(measured.offload), 2),
      unit: 'ms',
      what: `p99 latency of GET /exports/{id} while two ${dataset.rows.toLocaleString('en')}-row CSV exports run (offload serve --threads 2; one request in flight, ${THINK_MS} ms apart)`,
      reference: { what: 'the same on a naive server exporting in its main thread (same export code)', value: round(median(measured.naive), 1), unit: 'ms' },
      target: { op: '<=', value: 10 },
      detail: { rounds: { offload: summarise(windows.offload!), naive: summarise(windows.naive!) } },
    },
  ];
}
