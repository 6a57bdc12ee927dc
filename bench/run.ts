// `npm run bench`: measures every figure of the benchmark issue against its reference in the same run
// (alternating rounds), prints a table and writes bench/results.json. See bench/README.md.
//
//   node dist/bench/run.js [--quick] [--out FILE] [--only export-csv,formats,…] [--rounds N] [--keep]
//                          [--format-rows N] [--child-cpu-prof DIR] [--readme FILE]
//   node dist/bench/run.js --readme README.md --from bench/results.json   (the table again from a run's results)
//
// --readme FILE writes a full run's table between the bench-table markers of FILE (`npm run bench` gives README.md;
// a --quick or --only run leaves it).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensureDataset, type BenchDataset } from './lib/dataset.js';
import { createDirFactory, fmt, isMet, type BenchContext, type Figure, type Sizes } from './lib/figures.js';
import { closeHttpAgent } from './lib/http.js';
import { writeBenchTable, type StoredResults } from './lib/readme-table.js';
import { CACHE_DIR, DEFAULT_RESULTS_FILE, RUNS_DIR } from './lib/paths.js';
import { round } from './lib/stats.js';
import { benchDispatch } from './scenarios/dispatch.js';
import { benchExportCsv } from './scenarios/export-csv.js';
import { benchFormats } from './scenarios/formats.js';
import { benchHttpEnqueue } from './scenarios/http-enqueue.js';
import { benchIdleLatency } from './scenarios/idle-latency.js';
import { benchImport } from './scenarios/import.js';
import { benchNodes } from './scenarios/nodes.js';
import { benchRecovery } from './scenarios/recovery.js';
import { benchRss } from './scenarios/rss.js';
import { benchStatusLatency } from './scenarios/status-latency.js';
import { benchXlsx } from './scenarios/xlsx.js';

type DatasetName = keyof BenchContext['datasets'];

interface Scenario {
  name: string;
  /** The figures it reports, so a failed scenario still shows each of them (as null, with the error). */
  figures: string[];
  datasets: DatasetName[];
  run(ctx: BenchContext): Promise<Figure[]>;
}

const SCENARIOS: Scenario[] = [
  { name: 'idle', figures: ['idle_latency_ms'], datasets: [], run: benchIdleLatency },
  { name: 'dispatch', figures: ['dispatch_vs_piscina'], datasets: [], run: benchDispatch },
  { name: 'recovery', figures: ['recovery_ms'], datasets: [], run: benchRecovery },
  { name: 'http', figures: ['http_enqueue_vs_bare', 'http_enqueue_full_req_per_s'], datasets: [], run: benchHttpEnqueue },
  {
    name: 'export-csv',
    figures: ['export_csv_vs_sqlite3', 'export_csv_1_thread_vs_sqlite3', 'export_rows_per_s.csv', 'parallel_2_over_1'],
    datasets: ['warmup', 'export'],
    run: benchExportCsv,
  },
  {
    name: 'formats',
    figures: ['export_rows_per_s.ndjson', 'export_rows_per_s.json', 'export_rows_per_s.parquet', 'export_ndjson_vs_sqlite3', 'export_json_vs_sqlite3', 'export_parquet_vs_duckdb'],
    datasets: ['warmup', 'formats'],
    run: benchFormats,
  },
  { name: 'import', figures: ['import_csv_vs_sqlite3', 'import_rows_per_s.csv', 'import_rows_per_s.ndjson'], datasets: [], run: benchImport },
  { name: 'xlsx', figures: ['xlsx_vs_exceljs', 'export_rows_per_s.xlsx'], datasets: ['formats'], run: benchXlsx },
  { name: 'status', figures: ['status_p99_ms_during_exports'], datasets: ['export'], run: benchStatusLatency },
  { name: 'rss', figures: ['rss_4m_over_1m'], datasets: ['export', 'big'], run: benchRss },
  {
    name: 'nodes',
    figures: ['pg_jobs_per_s.nodes_1', 'pg_jobs_per_s.nodes_2', 'pg_jobs_per_s.nodes_3', 'pg_scaling_2_over_1', 'pg_scaling_3_over_1', 'pg_vs_sqlite', 'pg_idle_latency_ms'],
    datasets: [],
    run: benchNodes,
  },
];

const FULL: Sizes = {
  exportRows: 1_000_000,
  bigRows: 4_000_000,
  formatRows: 250_000,
  importRows: 1_000_000,
  dispatchJobs: 20_000,
  httpSeconds: 5,
  idleSamples: 200,
  recoveryJobs: 200,
  rounds: 3,
  rssRounds: 2,
};
const QUICK: Sizes = {
  exportRows: 2_000,
  bigRows: 8_000,
  formatRows: 1_000,
  importRows: 3_000,
  dispatchJobs: 500,
  httpSeconds: 1,
  idleSamples: 20,
  recoveryJobs: 50,
  rounds: 1,
  rssRounds: 1,
};

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      only: { type: 'string' },
      rounds: { type: 'string' },
      'format-rows': { type: 'string' },
      keep: { type: 'boolean', default: false },
      'child-cpu-prof': { type: 'string' },
      readme: { type: 'string' },
      from: { type: 'string' },
    },
  });
  if (values.from) {
    if (!values.readme) throw new Error('--from needs --readme FILE: it only writes the table of those results');
    writeBenchTable(values.readme, JSON.parse(readFileSync(values.from, 'utf8')) as StoredResults);
    console.log(`the benchmark table of ${values.from} written into ${values.readme}`);
    return 0;
  }
  const started = performance.now();
  const quick = values.quick!;
  const sizes: Sizes = { ...(quick ? QUICK : FULL) };
  if (values.rounds) sizes.rounds = sizes.rssRounds = positiveInteger('--rounds', values.rounds);
  if (values['format-rows']) sizes.formatRows = positiveInteger('--format-rows', values['format-rows']);
  const only = values.only?.split(',').map((name) => name.trim());
  const unknown = only?.filter((name) => !SCENARIOS.some((scenario) => scenario.name === name)) ?? [];
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  const scenarios = SCENARIOS.filter((scenario) => !only || only.includes(scenario.name));
  const outFile = path.resolve(values.out ?? DEFAULT_RESULTS_FILE);

  // Quick runs (the smoke test) stay out of the repository: everything under a temporary directory.
  const workDir = quick
    ? mkdtempSync(path.join(tmpdir(), 'offload-bench-'))
    : path.join(RUNS_DIR, new Date().toISOString().replace(/[:.]/g, '-'));
  const cacheDir = quick ? path.join(workDir, 'cache') : CACHE_DIR;
  mkdirSync(workDir, { recursive: true });
  const childNodeArgs = values['child-cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(values['child-cpu-prof'])] : [];
  const log = (message: string) => console.log(message);
  const loadBefore = loadavg();

  console.log(
    `offload bench${quick ? ' --quick' : ''}: node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}), ` +
      `load ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`,
  );
  const needed = new Set(scenarios.flatMap((scenario) => scenario.datasets));
  const rowsOf: Record<DatasetName, number> = { warmup: quick ? 200 : 2_000, export: sizes.exportRows, big: sizes.bigRows, formats: sizes.formatRows };
  const datasets = {} as Record<DatasetName, BenchDataset>;
  for (const name of ['warmup', 'export', 'formats', 'big'] as DatasetName[]) {
    if (!needed.has(name)) continue;
    const dataset = ensureDataset(cacheDir, rowsOf[name]);
    datasets[name] = dataset;
    console.log(
      `dataset ${name}: ${dataset.rows.toLocaleString('en')} rows × 8 columns, ` +
        (dataset.generatedSeconds > 0 ? `generated in ${dataset.generatedSeconds.toFixed(1)} s` : 'from the cache') + ` (${dataset.file})`,
    );
  }

  const ctx: BenchContext = { quick, sizes, datasets, childNodeArgs, log, newDir: createDirFactory(workDir) };
  const figures: Figure[] = [];
  let failed = 0;
  for (const scenario of scenarios) {
    const scenarioStarted = performance.now();
    console.log(`\n[${scenario.name}]`);
    try {
      figures.push(...(await scenario.run(ctx)));
    } catch (err) {
      failed++;
      const message = err instanceof Error ? err.stack ?? err.message : String(err);
      console.log(`  FAILED: ${message}`);
      for (const name of scenario.figures) {
        figures.push({ name, value: null, reason: `the scenario failed: ${String((err as Error)?.message ?? err)}`, unit: '', what: '', reference: null, target: null, detail: { error: true } });
      }
    }
    console.log(`  (${((performance.now() - scenarioStarted) / 1000).toFixed(1)} s)`);
  }
  closeHttpAgent();
  if (!values.keep) rmSync(workDir, { recursive: true, force: true });

  const seconds = (performance.now() - started) / 1000;
  printTable(figures);
  console.log(`\n${quick ? 'quick run' : 'run'} took ${seconds.toFixed(0)} s; results in ${outFile}${values.keep ? `; data kept in ${workDir}` : ''}`);
  const results = buildResults(figures, {
    generated_at: new Date().toISOString(),
    command: `node dist/bench/run.js ${process.argv.slice(2).join(' ')}`.trim(),
    quick,
    duration_s: round(seconds, 1),
    machine: {
      node: process.version,
      cores: availableParallelism(),
      cpu: cpus()[0]?.model ?? null,
      memory_gb: round(totalmem() / 2 ** 30, 1),
      load_before: loadBefore.map((l) => round(l, 2)),
      load_after: loadavg().map((l) => round(l, 2)),
    },
    sizes,
    datasets: Object.fromEntries(Object.entries(datasets).map(([name, d]) => [name, { rows: d.rows, generated_s: round(d.generatedSeconds, 1) }])),
  });
  mkdirSync(path.dirname(outFile), { recursive: true });
  writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);
  // Only a full run's figures go into the README: `npm run bench -- --quick` or `--only` must not replace them.
  if (values.readme && !quick && !only) {
    writeBenchTable(values.readme, results as unknown as StoredResults);
    console.log(`benchmark table written into ${values.readme}`);
  } else if (values.readme) {
    console.log(`${values.readme} not changed: its table holds full runs only (--from ${outFile} writes this one)`);
  }
  return failed > 0 ? 1 : 0;
}

function positiveInteger(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${flag} must be a positive integer, got "${text}"`);
  return value;
}

function targetText(figure: Figure): string {
  return figure.target ? `${figure.target.op === '>=' ? '≥' : '≤'} ${figure.target.value}` : 'reported';
}

function valueText(figure: Figure): string {
  if (figure.value === null) return 'null';
  return figure.unit === 'rows/s' || figure.unit === 'req/s' ? `${fmt.rate(figure.value)} ${figure.unit}` : `${figure.value} ${figure.unit === 'ratio' ? '×' : figure.unit}`;
}

function referenceText(figure: Figure): string {
  if (!figure.reference) return '—';
  const { value, unit } = figure.reference;
  const shown = value === null ? 'n/a' : unit.endsWith('/s') ? `${fmt.rate(value)} ${unit}` : `${value} ${unit}`;
  return `${figure.reference.what}: ${shown}`;
}

function printTable(figures: Figure[]): void {
  const rows = figures.map((figure) => {
    const met = isMet(figure);
    return [figure.name, valueText(figure), targetText(figure), met === null ? (figure.target ? 'n/a' : '—') : met ? 'yes' : 'NO', referenceText(figure)];
  });
  const header = ['figure', 'value', 'target', 'met', 'reference (median, same run)'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!))).join(' | ')} |`;
  console.log(`\n${line(header)}`);
  console.log(`|${widths.map((w, i) => '-'.repeat(i === widths.length - 1 ? 3 : w + 2)).join('|')}|`);
  for (const row of rows) console.log(line(row));
  for (const figure of figures) if (figure.value === null) console.log(`  ${figure.name}: ${figure.reason}`);
}

/**
 * results.json: each figure's value at its name (`a.b` nested as results.a.b; null when not measured), then
 * `figures` with the details: unit, reference, target, met, rounds, and `reason` for a null.
 */
function buildResults(figures: Figure[], meta: Record<string, unknown>): Record<string, unknown> {
  const results: Record<string, any> = { ...meta };
  for (const figure of figures) {
    const [head, tail] = figure.name.split('.') as [string, string | undefined];
    if (tail === undefined) results[head] = figure.value;
    else (results[head] ??= {})[tail] = figure.value;
  }
  results.figures = Object.fromEntries(
    figures.map((figure) => [
      figure.name,
      {
        value: figure.value,
        unit: figure.unit,
        what: figure.what,
        reference: figure.reference,
        target: figure.target ? `${figure.target.op} ${figure.target.value}` : null,
        met: isMet(figure),
        ...(figure.reason ? { reason: figure.reason } : {}),
        detail: figure.detail,
      },
    ]),
  );
  return results;
}

process.exitCode = await main();
