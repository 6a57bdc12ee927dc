// xlsx_vs_exceljs and export_rows_per_s.xlsx: our XLSX export through the engine vs exceljs's streaming
// WorkbookWriter writing the same rows, each in a fresh child process (alternating), so that each side's
// peak RSS is measured too ("flat memory").
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { linkDataset } from '../lib/dataset.js';
import type { BenchContext, Figure } from '../lib/figures.js';
import { XLSX_CHILD } from '../lib/paths.js';
import { alternate, median, medianRatio, round } from '../lib/stats.js';

const run = promisify(execFile);

export async function benchXlsx(ctx: BenchContext): Promise<Figure[]> {
  const dataset = ctx.datasets.formats;
  const dataDir = ctx.newDir('xlsx');
  linkDataset(dataset, dataDir);
  const peaks: Record<string, number[]> = { offload: [], exceljs: [] };
  const child = async (mode: 'offload' | 'exceljs'): Promise<number> => {
    const { stdout } = await run(process.execPath, [...ctx.childNodeArgs, XLSX_CHILD, mode, dataDir, dataset.id], { maxBuffer: 1 << 20 });
    const measured = JSON.parse(stdout.trim().split('\n').pop()!) as { rows: number; seconds: number; peakRssMb: number };
    if (measured.rows !== dataset.rows) throw new Error(`${mode} wrote ${measured.rows} rows, expected ${dataset.rows}`);
    peaks[mode]!.push(Math.round(measured.peakRssMb));
    return measured.rows / measured.seconds;
  };
  try {
    const measured = await alternate(ctx.sizes.rounds, { offload: () => child('offload'), exceljs: () => child('exceljs') }, (name, i, value) =>
      ctx.log(`  round ${i + 1} ${name}: ${Math.round(value).toLocaleString('en')} rows/s, peak RSS ${peaks[name]!.at(-1)} MB`),
    );
    const detail = {
      rows: dataset.rows,
      rounds: { offload_rows_per_s: measured.offload.map(Math.round), exceljs_rows_per_s: measured.exceljs.map(Math.round) },
      peak_rss_mb: { offload: median(peaks.offload!), exceljs: median(peaks.exceljs!) },
      peak_rss_rounds_mb: peaks,
    };
    return [
      {
        name: 'xlsx_vs_exceljs',
        value: round(medianRatio(measured.offload, measured.exceljs)),
        unit: 'ratio',
        what: `rows/s of our XLSX export (${dataset.rows.toLocaleString('en')} rows, engine with 1 thread, own process); peak RSS ${median(peaks.offload!)} MB`,
        reference: { what: `exceljs stream.xlsx.WorkbookWriter, same rows, own process; peak RSS ${median(peaks.exceljs!)} MB`, value: Math.round(median(measured.exceljs)), unit: 'rows/s' },
        target: { op: '>=', value: 1.0 },
        detail,
      },
      {
        name: 'export_rows_per_s.xlsx',
        value: Math.round(median(measured.offload)),
        unit: 'rows/s',
        what: `xlsx export of ${dataset.rows.toLocaleString('en')} rows through the engine`,
        reference: null,
        target: null,
        detail,
      },
    ];
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
