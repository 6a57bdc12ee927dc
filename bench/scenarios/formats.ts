// export_rows_per_s.{ndjson,json,parquet}: rows/s of each format through the engine, one export at a time, and
// export_{ndjson,json}_vs_sqlite3, export_parquet_vs_duckdb: the same ÷ the fastest writer of that format available
// in the same run (format-references.ts); formats and references alternate round by round. (csv comes from
// export-csv.ts, xlsx from xlsx.ts.)
import { rmSync } from 'node:fs';
import path from 'node:path';
import { linkDataset } from '../lib/dataset.js';
import { startBenchEngine } from '../lib/engine-harness.js';
import type { BenchContext, Figure } from '../lib/figures.js';
import { alternate, median, medianRatio, round } from '../lib/stats.js';
import { exportThroughEngine, warmUp } from './export-csv.js';
import { createFormatReferences } from './format-references.js';

const FORMATS = ['ndjson', 'json', 'parquet'] as const;
const REFERENCE_NAME = { ndjson: 'sqlite3', json: 'sqlite3', parquet: 'duckdb' } as const;

export async function benchFormats(ctx: BenchContext): Promise<Figure[]> {
  const dataset = ctx.datasets.formats;
  const dataDir = ctx.newDir('formats');
  const datasetFile = linkDataset(dataset, dataDir);
  const bench = await startBenchEngine(dataDir, { threads: 2 });
  const refs = await createFormatReferences(datasetFile, dataset.rows, dataDir, async () => {
    const { job } = await bench.run({ kind: 'export', payload: { dataset_id: dataset.id, format: 'csv' } });
    return path.join(dataDir, (job.result as { file: string }).file);
  });
  try {
    for (const format of FORMATS) await warmUp(bench, ctx, format);
    const variants: Record<string, () => Promise<number>> = {};
    for (const format of FORMATS) {
      variants[format] = () => exportThroughEngine(bench, dataset.id, format, dataset.rows);
      const reference = refs.references[format];
      if (reference) variants[`${format}_reference`] = reference.run;
    }
    for (const reason of new Set(Object.values(refs.missing))) ctx.log(`  note: ${reason}`);
    const measured = await alternate(ctx.sizes.rounds, variants, (name, i, value) =>
      ctx.log(`  round ${i + 1} ${name}: ${Math.round(value).toLocaleString('en')} rows/s`),
    );
    return FORMATS.flatMap((format): Figure[] => {
      const ours = measured[format]!;
      const reference = measured[`${format}_reference`];
      const detail = { rounds: ours.map(Math.round), reference_rounds: reference?.map(Math.round) ?? null, rows: dataset.rows };
      return [
        {
          name: `export_rows_per_s.${format}`,
          value: Math.round(median(ours)),
          unit: 'rows/s',
          what: `${format} export of ${dataset.rows.toLocaleString('en')} rows through the engine`,
          reference: null,
          target: null,
          detail,
        },
        {
          name: `export_${format}_vs_${REFERENCE_NAME[format]}`,
          value: reference ? round(medianRatio(ours, reference)) : null,
          ...(reference ? {} : { reason: refs.missing[format] }),
          unit: 'ratio',
          what: `rows/s of the ${format} export through the engine (one thread) ÷ the reference, alternating`,
          reference: { what: refs.references[format]?.what ?? REFERENCE_NAME[format], value: reference ? Math.round(median(reference)) : null, unit: 'rows/s' },
          target: null,
          detail,
        },
      ];
    });
  } finally {
    await refs.close();
    await bench.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
