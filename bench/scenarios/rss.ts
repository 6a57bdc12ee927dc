// rss_4m_over_1m: peak RSS of the `offload serve` process (VmHWM in /proc/<pid>/status: main thread and worker
// threads together) during a CSV export of the 4M-row dataset ÷ the same during the 1M-row one. Each export runs
// in a freshly started server (VmHWM only grows), alternating 1M, 4M, 1M, 4M…
import { rmSync } from 'node:fs';
import path from 'node:path';
import { readRss, spawnOffload } from '../lib/child-server.js';
import type { BenchDataset } from '../lib/dataset.js';
import type { BenchContext, Figure } from '../lib/figures.js';
import { requestOk } from '../lib/http.js';
import { registerBenchDataset } from '../lib/server-dataset.js';
import { median, medianRatio, round, sleep, alternate } from '../lib/stats.js';

interface Sample {
  peakMb: number;
  idlePeakMb: number;
  seconds: number;
}

async function exportInFreshServer(ctx: BenchContext, dataset: BenchDataset): Promise<Sample> {
  const dataDir = ctx.newDir(`rss-${dataset.rows}`);
  const server = await spawnOffload(['--data-dir', dataDir, '--shutdown-grace', '1'], {
    logFile: path.join(dataDir, 'server.log'),
    nodeArgs: ctx.childNodeArgs,
  });
  try {
    const datasetId = await registerBenchDataset(server.url, dataDir, dataset);
    const idlePeakMb = readRss(server.pid)?.peakMb ?? Number.NaN;
    const started = performance.now();
    const { body } = await requestOk(server.url, 'POST', '/exports', { json: { dataset_id: datasetId, format: 'csv' } });
    for (;;) {
      await sleep(100);
      const { body: job } = await requestOk(server.url, 'GET', `/exports/${body.job_id}`);
      if (job.status === 'succeeded') break;
      if (job.status === 'failed' || job.status === 'cancelled') throw new Error(`the export ${job.status}: ${JSON.stringify(job.error)}`);
    }
    const seconds = (performance.now() - started) / 1000;
    const rss = readRss(server.pid);
    if (!rss) throw new Error('cannot read /proc/<pid>/status (Linux only)');
    return { peakMb: rss.peakMb, idlePeakMb, seconds };
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function benchRss(ctx: BenchContext): Promise<Figure[]> {
  if (!readRss(process.pid)) {
    return [{ name: 'rss_4m_over_1m', value: null, reason: '/proc/<pid>/status is not available (not Linux)', unit: 'ratio', what: '', reference: null, target: { op: '<=', value: 1.2 }, detail: {} }];
  }
  const { export: small, big } = ctx.datasets;
  const samples: Record<string, Sample[]> = { small: [], big: [] };
  const measured = await alternate(
    ctx.sizes.rssRounds,
    {
      small: async () => (samples.small!.push(await exportInFreshServer(ctx, small)), samples.small!.at(-1)!.peakMb),
      big: async () => (samples.big!.push(await exportInFreshServer(ctx, big)), samples.big!.at(-1)!.peakMb),
    },
    (name, i, value) => {
      const s = samples[name]!.at(-1)!;
      ctx.log(`  round ${i + 1} ${name === 'small' ? small.rows : big.rows} rows: peak RSS ${value.toFixed(0)} MB (before the export ${s.idlePeakMb.toFixed(0)} MB), ${s.seconds.toFixed(1)} s`);
    },
  );
  const label = (rows: number) => `${rows.toLocaleString('en')}-row`;
  return [
    {
      name: 'rss_4m_over_1m',
      value: round(medianRatio(measured.big, measured.small)),
      unit: 'ratio',
      what: `peak RSS of offload serve during a ${label(big.rows)} CSV export (${median(measured.big).toFixed(0)} MB) ÷ during a ${label(small.rows)} one`,
      reference: { what: `the ${label(small.rows)} export, alternating`, value: round(median(measured.small), 1), unit: 'MB' },
      target: { op: '<=', value: 1.2 },
      detail: {
        rows: { small: small.rows, big: big.rows },
        rounds: {
          small: samples.small!.map((s) => ({ peak_mb: round(s.peakMb, 1), before_export_mb: round(s.idlePeakMb, 1), seconds: round(s.seconds, 1) })),
          big: samples.big!.map((s) => ({ peak_mb: round(s.peakMb, 1), before_export_mb: round(s.idlePeakMb, 1), seconds: round(s.seconds, 1) })),
        },
      },
    },
  ];
}
