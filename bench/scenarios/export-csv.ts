// export_csv_vs_sqlite3, export_csv_1_thread_vs_sqlite3, export_rows_per_s.csv and parallel_2_over_1, in one
// alternation:
//   A: one CSV export of the 1M-row dataset through the engine (enqueue → succeeded event), 2 threads: the
//      export is lent the idle one and renders row ranges on both;
//   A1: the same export kept to its own thread (payload tuning), the 1-thread figure;
//   B: `sqlite3 -csv -header` on the same dataset file, stdout to a file;
//   C: two exports kept to one thread each, enqueued together (the first gives back the thread it was lent, the
//      second takes it); total rows / time until both succeeded — parallel_2_over_1 is C ÷ A1, how well a second
//      export uses the second core. (Two default exports enqueued together run one after the other when the first
//      is lent the idle thread: it keeps what it uses.)
//   D: the machine's own two-thread ceiling right now (lib/cpu-ceiling.ts), for parallel_2_over_1's detail.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { linkDataset } from '../lib/dataset.js';
import { createCpuCeiling } from '../lib/cpu-ceiling.js';
import { sqlite3ToFile } from '../lib/sqlite3-cli.js';
import { startBenchEngine, type BenchEngine } from '../lib/engine-harness.js';
import type { BenchContext, Figure } from '../lib/figures.js';
import { alternate, median, medianRatio, round } from '../lib/stats.js';

const SQLITE3_MISSING = 'the sqlite3 command-line tool is not installed (Debian/Ubuntu: apt-get install -y sqlite3); its reference was skipped';

/** The sqlite3 CLI's version line, or undefined when it is not on PATH. */
export function findSqlite3(): string | undefined {
  const probe = spawnSync('sqlite3', ['-version'], { encoding: 'utf8' });
  return probe.error || probe.status !== 0 ? undefined : probe.stdout.trim();
}

/** Keeps a CSV export on its own thread even when the engine lent it more. */
const ONE_THREAD = { tuning: { min_rows_per_thread: Number.MAX_SAFE_INTEGER } };

export async function exportThroughEngine(bench: BenchEngine, datasetId: string, format: string, rows: number, extra: object = {}): Promise<number> {
  const { job, ms } = await bench.run({ kind: 'export', payload: { dataset_id: datasetId, format, ...extra } });
  const result = job.result as { rows: number; file: string };
  if (result.rows !== rows) throw new Error(`the ${format} export wrote ${result.rows} rows, expected ${rows}`);
  rmSync(path.join(bench.engine.dataDir, result.file), { force: true });
  return rows / (ms / 1000);
}

/** Warms both threads (worker modules loaded, JIT warm) with two small exports. */
export async function warmUp(bench: BenchEngine, ctx: BenchContext, format = 'csv'): Promise<void> {
  const { warmup } = ctx.datasets;
  linkDataset(warmup, bench.engine.dataDir);
  await Promise.all([0, 1].map(() => exportThroughEngine(bench, warmup.id, format, warmup.rows)));
}

export async function benchExportCsv(ctx: BenchContext): Promise<Figure[]> {
  const dataset = ctx.datasets.export;
  const dataDir = ctx.newDir('export-csv');
  const datasetFile = linkDataset(dataset, dataDir);
  const sqlite3 = findSqlite3();
  if (!sqlite3) ctx.log(`  note: ${SQLITE3_MISSING}`);
  const columns = Array.from({ length: 8 }, (_v, i) => `c${i}`).join(', ');

  const bench = await startBenchEngine(dataDir, { threads: 2 });
  const ceiling = createCpuCeiling(ctx.quick ? 1_000_000 : 60_000_000);
  try {
    await warmUp(bench, ctx);
    const variants: Record<string, () => Promise<number>> = {
      offload: () => exportThroughEngine(bench, dataset.id, 'csv', dataset.rows),
      offload_1_thread: () => exportThroughEngine(bench, dataset.id, 'csv', dataset.rows, ONE_THREAD),
      ...(sqlite3
        ? {
            sqlite3: async () => {
              const ms = await sqlite3ToFile(['-csv', '-header', '-readonly', datasetFile, `SELECT ${columns} FROM rows ORDER BY rowid`], path.join(dataDir, 'sqlite3-out.csv'));
              return dataset.rows / (ms / 1000);
            },
          }
        : {}),
      offload_x2: async () => {
        const started = performance.now();
        await Promise.all([0, 1].map(() => exportThroughEngine(bench, dataset.id, 'csv', dataset.rows, ONE_THREAD)));
        return (2 * dataset.rows) / ((performance.now() - started) / 1000);
      },
      cpu_ceiling: () => ceiling.measure(),
    };
    const measured = await alternate(ctx.sizes.rounds, variants, (name, i, value) =>
      ctx.log(
        name === 'cpu_ceiling'
          ? `  round ${i + 1} ${name}: a pure CPU loop on two threads runs ${value.toFixed(2)}× as fast as on one`
          : `  round ${i + 1} ${name}: ${Math.round(value).toLocaleString('en')} rows/s`,
      ),
    );
    const offload = measured.offload!;
    const oneThread = measured.offload_1_thread!;
    const reference = measured.sqlite3;
    const rounds = {
      offload_rows_per_s: offload.map(Math.round),
      offload_1_thread_rows_per_s: oneThread.map(Math.round),
      sqlite3_rows_per_s: reference?.map(Math.round) ?? null,
      offload_x2_rows_per_s: measured.offload_x2!.map(Math.round),
    };
    const sqlite3Reference = { what: `sqlite3 -csv -header on the same dataset file${sqlite3 ? ` (${sqlite3.split(' ')[0]})` : ''}`, value: reference ? Math.round(median(reference)) : null, unit: 'rows/s' };
    return [
      {
        name: 'export_csv_vs_sqlite3',
        value: reference ? round(medianRatio(offload, reference)) : null,
        ...(reference ? {} : { reason: SQLITE3_MISSING }),
        unit: 'ratio',
        what: `rows/s of a ${dataset.rows.toLocaleString('en')}-row × 8-column CSV export through the engine (enqueue → succeeded), 2 threads, both used by the export`,
        reference: sqlite3Reference,
        target: { op: '>=', value: 1.0 },
        detail: { rounds, offload_rows_per_s: Math.round(median(offload)), rows: dataset.rows },
      },
      {
        name: 'export_csv_1_thread_vs_sqlite3',
        value: reference ? round(medianRatio(oneThread, reference)) : null,
        ...(reference ? {} : { reason: SQLITE3_MISSING }),
        unit: 'ratio',
        what: `the same export kept to one thread`,
        reference: sqlite3Reference,
        target: null,
        detail: { rounds, offload_1_thread_rows_per_s: Math.round(median(oneThread)), rows: dataset.rows },
      },
      {
        name: 'export_rows_per_s.csv',
        value: Math.round(median(offload)),
        unit: 'rows/s',
        what: `CSV export of ${dataset.rows.toLocaleString('en')} rows through the engine`,
        reference: null,
        target: null,
        detail: { rounds: rounds.offload_rows_per_s, rows: dataset.rows },
      },
      {
        name: 'parallel_2_over_1',
        value: round(medianRatio(measured.offload_x2!, oneThread)),
        unit: 'ratio',
        what: `total rows/s of two concurrent CSV exports (2 threads, each export kept to one) ÷ one export on one thread; the machine's ceiling for a pure CPU loop on 2 threads ÷ 1 was ${round(median(measured.cpu_ceiling!), 2)} meanwhile`,
        reference: { what: 'one export alone on one thread, alternating', value: Math.round(median(oneThread)), unit: 'rows/s' },
        target: { op: '>=', value: 1.7 },
        detail: {
          rounds: { ...rounds, cpu_two_threads_over_one: measured.cpu_ceiling!.map((value) => round(value, 2)) },
          two_exports_rows_per_s: Math.round(median(measured.offload_x2!)),
          two_exports_over_one_on_two_threads: round(medianRatio(measured.offload_x2!, offload)),
          cpu_two_threads_over_one: round(median(measured.cpu_ceiling!), 2),
        },
      },
    ];
  } finally {
    await ceiling.close();
    await bench.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
