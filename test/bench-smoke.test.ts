// The benchmark harness must not rot: `bench/run.js --quick` (tiny sizes, one round) runs every scenario against
// its reference and writes a results file with every figure the benchmark issue names.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { TABLE_END, TABLE_START } from '../bench/lib/readme-table.js';
import { PROJECT_ROOT } from './helpers.js';

const RUN_JS = fileURLToPath(new URL('../bench/run.js', import.meta.url));
const README = path.join(PROJECT_ROOT, 'README.md');

/** The names of the table, plus the --durability full enqueue rate. */
const FIGURES = [
  'export_csv_vs_sqlite3',
  'export_rows_per_s.csv',
  'export_rows_per_s.ndjson',
  'export_rows_per_s.json',
  'export_rows_per_s.xlsx',
  'export_rows_per_s.parquet',
  'import_csv_vs_sqlite3',
  'import_rows_per_s.csv',
  'import_rows_per_s.ndjson',
  'xlsx_vs_exceljs',
  'dispatch_vs_piscina',
  'http_enqueue_vs_bare',
  'http_enqueue_full_req_per_s',
  'status_p99_ms_during_exports',
  'rss_4m_over_1m',
  'parallel_2_over_1',
  'idle_latency_ms',
  'recovery_ms',
  // Several nodes on PostgreSQL: without its binaries the scenario fails, and so does this test (CI installs them).
  'pg_jobs_per_s.nodes_1',
  'pg_jobs_per_s.nodes_2',
  'pg_jobs_per_s.nodes_3',
  'pg_scaling_2_over_1',
  'pg_scaling_3_over_1',
  'pg_vs_sqlite',
  'pg_idle_latency_ms',
];

function splitAtMarkers(text: string): [string, string, string] {
  const start = text.indexOf(TABLE_START);
  const end = text.indexOf(TABLE_END);
  assert.ok(start !== -1 && end > start, 'the README has the bench-table markers');
  return [text.slice(0, start), text.slice(start, end), text.slice(end)];
}

test('bench --quick reports every named figure as a number, or null with a reason', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'offload-bench-smoke-'));
  try {
    const out = path.join(dir, 'results.json');
    // The README's table is written by the run: a copy of the README here, its text outside the markers kept.
    const readme = path.join(dir, 'README.md');
    const readmeBefore = readFileSync(README, 'utf8');
    writeFileSync(readme, readmeBefore);
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, [RUN_JS, '--quick', '--out', out, '--readme', readme], { timeout: 110_000, maxBuffer: 16 << 20 }, (_err, stdout, stderr) =>
        resolve({ code: child.exitCode, stdout, stderr }),
      );
    });
    assert.equal(code, 0, `bench --quick failed:\n${stdout.slice(-4000)}\n${stderr.slice(-4000)}`);
    const results = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(results.quick, true);
    for (const name of FIGURES) {
      const value = name.split('.').reduce((node, key) => node?.[key], results);
      const figure = results.figures[name];
      assert.ok(figure, `results.figures has ${name}`);
      assert.ok(figure.detail?.error !== true, `${name}: ${figure.reason}`);
      if (value === null) {
        assert.equal(typeof figure.reason, 'string', `${name} is null and says why`);
        assert.ok(figure.reason.length > 0);
      } else {
        assert.equal(typeof value, 'number', `${name} is a number`);
        assert.ok(Number.isFinite(value), `${name} is finite: ${value}`);
        assert.equal(figure.value, value);
      }
    }
    assert.match(stdout, /\| figure +\| value/);
    assert.equal(readFileSync(readme, 'utf8'), readmeBefore, 'a --quick run leaves the README table alone');
    await new Promise<void>((resolve, reject) =>
      execFile(process.execPath, [RUN_JS, '--readme', readme, '--from', out], (err) => (err ? reject(err) : resolve())),
    );
    const written = readFileSync(readme, 'utf8');
    const [before, inside, after] = splitAtMarkers(written);
    const [expectedBefore, , expectedAfter] = splitAtMarkers(readmeBefore);
    assert.equal(before, expectedBefore);
    assert.equal(after, expectedAfter);
    assert.match(inside, /--quick smoke run/);
    for (const name of FIGURES) assert.ok(inside.includes(`| \`${name}\` |`), `the README table has a row for ${name}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
