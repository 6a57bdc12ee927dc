// export_rows_per_s.{ndjson,json,parquet}: rows/s of each format through the engine, one export at a time,
// formats alternating round by round. (csv comes from export-csv.ts, xlsx from xlsx.ts.)
import { rmSync } from 'node:fs';
import { linkDataset } from '../lib/dataset.js';
import { startBenchEngine } from '../lib/engine-harness.js';
import type { BenchContext, Figure } from '../lib/figures.js';
import { alternate, median } from '../lib/stats.js';
import { exportThroughEngine, warmUp } from './export-csv.js';

const FORMATS = ['ndjson', 'json', 'parquet'] as const;

export async function benchFormats(ctx: BenchContext): Promise<Figure[]> {
  const dataset = ctx.datasets.formats;
  const dataDir = ctx.newDir('formats');
  linkDataset(dataset, dataDir);
  const bench = await startBenchEngine(dataDir, { threads: 2 });
  try {
    for (const format of FORMATS) await warmUp(bench, ctx, format);
    const measured = await alternate(
      ctx.sizes.rounds,
      Object.fromEntries(FORMATS.map((format) => [format, () => exportThroughEngine(bench, dataset.id, format, dataset.rows)])) as Record<
        (typeof FORMATS)[number],
        () => Promise<number>
      >,
      (name, i, value) => ctx.log(`  round ${i + 1} ${name}: ${Math.round(value).toLocaleString('en')} rows/s`),
    );
    return FORMATS.map((format) => ({
      name: `export_rows_per_s.${format}`,
      value: Math.round(median(measured[format])),
      unit: 'rows/s',
      what: `${format} export of ${dataset.rows.toLocaleString('en')} rows through the engine`,
      reference: null,
      target: null,
      detail: { rounds: measured[format].map(Math.round), rows: dataset.rows },
    }));
  } finally {
    await bench.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
