// CSV exports built by SQLite over several threads: the same bytes as the JavaScript writer (csv.ts) whatever the
// thread count; the engine lends idle threads and counts them busy; cancel and failure mid-way through a parallel
// export end in one outcome and leave no file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { PassThrough } from 'node:stream';
import exportDataset from '../workers/export.js';
import { datasetFilePath, type CellValue, type DatasetColumn } from '../workers/datasets/dataset-file.js';
import { csvFormat } from '../workers/formats/csv.js';
import { EXPORT_KIND } from '../src/contracts/export-contract.js';
import { createDataDir, createJobContext, writeTestDataset } from './format-fixtures.js';
import { startTestServer, waitFor } from './helpers.js';

const COLUMNS: DatasetColumn[] = [
  { name: 'id', type: 'integer' },
  { name: 'text "quoted", comma', type: 'text' },
  { name: 'real', type: 'real' },
  { name: 'flag', type: 'boolean' },
  { name: 'day', type: 'date' },
  { name: 'at', type: 'timestamp', timezone: 'UTC' },
  { name: 'doc', type: 'json' },
  { name: 'big', type: 'integer' },
];

const TEXTS = ['plain', '', 'a,b', 'say "hi"', 'two\nlines', 'cr\ronly', 'crlf\r\nx', 'Zürich ✓ 😀', '"', ',', 'null', '=1+2', '\u0000nul inside'];
const HUGE = 'ü"€,\n'.repeat(60_000); // ~0.5 MB of UTF-8 that needs quoting and doubled quotes

/** Doubles of every kind: short decimals, 16- and 17-digit ones, tiny, huge, integral, signed zero, infinities. */
function realOf(i: number): number {
  const bits = new DataView(new ArrayBuffer(8));
  bits.setUint32(0, (i * 2_654_435_761) >>> 0);
  bits.setUint32(4, (i * 40_503 + 12_345) >>> 0);
  const random = bits.getFloat64(0);
  const choices = [i / 7, i / 100, -i * 1.5, 1e15 + i, 1e-5 * i, 0.1 + 0.2, 6100, -0, 1e21, 5e-324, Infinity, -Infinity, 123456.789e3, 2 ** 53 + i * 2];
  const value = i % 3 === 0 && Number.isFinite(random) ? random : choices[i % choices.length]!;
  return Number.isNaN(value) ? 0.5 : value;
}

function rowOf(i: number): CellValue[] {
  return [
    i,
    i % 97 === 0 ? HUGE : i % 11 === 0 ? null : `${TEXTS[i % TEXTS.length]} ${i}`,
    i % 13 === 0 ? null : realOf(i),
    i % 5 === 0 ? null : i % 2 === 0,
    i % 7 === 0 ? null : `20${String(i % 100).padStart(2, '0')}-0${1 + (i % 9)}-1${i % 10}`,
    i % 9 === 0 ? null : `2024-05-0${1 + (i % 9)}T12:34:56.${String(i % 1000).padStart(3, '0')}Z`,
    i % 4 === 0 ? null : JSON.stringify({ i, s: TEXTS[i % TEXTS.length], list: [1, 'two', null] }),
    i % 6 === 0 ? null : (i % 2 ? -1 : 1) * (2 ** 53 - 1 - i),
  ];
}

const writeDataset = (dataDir: string, rows: number, makeRow: (i: number) => CellValue[], columns = COLUMNS): string =>
  writeTestDataset(dataDir, columns, rows, makeRow);

/** The bytes the JavaScript writer produces for the same rows. */
async function referenceCsv(rows: CellValue[][], columns = COLUMNS): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (chunk: Buffer) => chunks.push(chunk));
  const writer = csvFormat.createWriter(columns.map((column) => ({ ...column, nullCount: null })), out, { parquetCodec: 'snappy', producer: 'test' });
  await writer.writeRows(rows);
  await writer.end();
  return Buffer.concat(chunks);
}

test('CSV is the same bytes as the JavaScript writer with 1, 2 and 4 threads, over many small ranges', async (t) => {
  const dataDir = await createDataDir(t);
  const count = 3_000;
  const datasetId = writeDataset(dataDir, count, rowOf);
  const expected = await referenceCsv(Array.from({ length: count }, (_v, i) => rowOf(i)));
  for (const threads of [1, 2, 4]) {
    const ctx = { ...createJobContext(dataDir), threads };
    const result = await exportDataset({ dataset_id: datasetId, format: 'csv', tuning: { range_rows: 97, min_rows_per_thread: 1 } }, ctx);
    const written = await readFile(path.join(dataDir, result.file));
    assert.equal(result.rows, count);
    assert.ok(written.equals(expected), `threads ${threads}: the CSV differs from the JavaScript writer's at byte ${firstDifference(written, expected)}`);
  }
  // A column subset in another order, and an empty dataset.
  const subset = await exportDataset({ dataset_id: datasetId, format: 'csv', columns: ['real', 'id'], tuning: { range_rows: 50, min_rows_per_thread: 1 } }, { ...createJobContext(dataDir), threads: 2 });
  const subsetColumns = [COLUMNS[2]!, COLUMNS[0]!];
  assert.ok((await readFile(path.join(dataDir, subset.file))).equals(await referenceCsv(Array.from({ length: count }, (_v, i) => [rowOf(i)[2]!, i]), subsetColumns)));
  const empty = writeDataset(dataDir, 0, rowOf);
  const none = await exportDataset({ dataset_id: empty, format: 'csv' }, { ...createJobContext(dataDir), threads: 4 });
  assert.equal(await readFile(path.join(dataDir, none.file), 'utf8'), (await referenceCsv([])).toString('utf8'));
});

function firstDifference(a: Buffer, b: Buffer): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return i;
  return length;
}

// ~45 MB of CSV: long enough to act on while it runs, even on a fast machine.
const WIDE: DatasetColumn[] = [{ name: 'id', type: 'integer' }, { name: 'note', type: 'text' }, { name: 'x', type: 'real' }];
const wideRow = (i: number): CellValue[] => [i, `row ${i}, ${'long "text" '.repeat(25)}`, i / 3];
const TUNING = { range_rows: 2_000, min_rows_per_thread: 1 };

async function startWithDataset(t: { after(fn: () => Promise<void>): void }, threads: number) {
  const server = await startTestServer({ args: ['--threads', String(threads)] });
  t.after(() => server.close());
  const datasetId = writeDataset(server.dataDir, 150_000, wideRow, WIDE);
  return { server, datasetId };
}

async function exportFiles(dataDir: string): Promise<string[]> {
  return readdir(path.join(dataDir, 'exports')).catch(() => []);
}

test('the engine lends an export its idle threads, counts them busy, and gets them back', async (t) => {
  const { server, datasetId } = await startWithDataset(t, 3);
  const { job } = await server.engine.enqueue({ kind: EXPORT_KIND, payload: { dataset_id: datasetId, format: 'csv', tuning: TUNING } });
  let busyWhileRunning = 0;
  const done = await waitFor(async () => {
    busyWhileRunning = Math.max(busyWhileRunning, server.engine.stats().busyThreads);
    const current = await server.engine.get(job.id);
    return current?.status === 'succeeded' ? current : undefined;
  }, 60_000, 'the export to succeed');
  assert.equal(busyWhileRunning, 3);
  assert.equal(server.engine.stats().busyThreads, 0);
  const result = done.result as { file: string; rows: number; bytes: number };
  assert.equal(result.rows, 150_000);
  assert.equal((await stat(path.join(server.dataDir, result.file))).size, result.bytes);
});

test('an export that needs one thread gives the lent ones back at once', async (t) => {
  const { server, datasetId } = await startWithDataset(t, 3);
  const { job } = await server.engine.enqueue({ kind: EXPORT_KIND, payload: { dataset_id: datasetId, format: 'csv', tuning: { min_rows_per_thread: 1e12 } } });
  await waitFor(async () => ((await server.engine.get(job.id))?.progressDone ?? 0) > 0 || undefined, 30_000, 'progress');
  const busy = server.engine.stats().busyThreads;
  if ((await server.engine.get(job.id))!.status === 'running') assert.equal(busy, 1);
  await server.waitForJob(job.id);
  assert.equal(server.engine.stats().busyThreads, 0);
});

test('a parallel export cancelled mid-way ends cancelled, once, and leaves no file', async (t) => {
  const { server, datasetId } = await startWithDataset(t, 2);
  const { job } = await server.engine.enqueue({ kind: EXPORT_KIND, payload: { dataset_id: datasetId, format: 'csv', tuning: TUNING } });
  await waitFor(async () => ((await server.engine.get(job.id))?.progressDone ?? 0) > 0 || undefined, 30_000, 'progress');
  await server.engine.cancel(job.id);
  const ended = await waitFor(async () => {
    const current = await server.engine.get(job.id);
    return current && current.status !== 'running' && current.status !== 'pending' ? current : undefined;
  }, 30_000, 'the export to end');
  assert.equal(ended.status, 'cancelled');
  assert.equal((await server.engine.attempts(job.id)).length, 1);
  await waitFor(async () => ((await exportFiles(server.dataDir)).length === 0 ? true : undefined), 10_000, 'no export file left');
  assert.equal(server.engine.stats().busyThreads, 0);
});

test('a parallel export whose dataset breaks mid-way fails once and leaves no file', async (t) => {
  const { server, datasetId } = await startWithDataset(t, 2);
  // Zero the leaf pages of rows 60–90% through (dbstat lists them in key order; the last leaf stays, max(rowid)
  // reads it): the first rows read, the ones after them no longer parse.
  const file = datasetFilePath(server.dataDir, datasetId);
  const db = new Database(file, { readonly: true });
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const leaves = db.prepare(`SELECT pageno FROM dbstat WHERE name = 'rows' AND pagetype = 'leaf' ORDER BY path`).pluck().all() as number[];
  db.close();
  const handle = await open(file, 'r+');
  for (const page of leaves.slice(Math.floor(leaves.length * 0.6), Math.floor(leaves.length * 0.9))) await handle.write(Buffer.alloc(pageSize), 0, pageSize, (page - 1) * pageSize);
  await handle.close();

  const { job } = await server.engine.enqueue({ kind: EXPORT_KIND, payload: { dataset_id: datasetId, format: 'csv', tuning: TUNING } });
  const ended = await waitFor(async () => {
    const current = await server.engine.get(job.id);
    return current && ['succeeded', 'failed', 'cancelled'].includes(current.status) ? current : undefined;
  }, 30_000, 'the export to end');
  assert.equal(ended.status, 'failed');
  assert.match(ended.error!.message, /malformed|corrupt/i);
  assert.equal((await server.engine.attempts(job.id)).length, 1);
  assert.deepEqual(await exportFiles(server.dataDir), []);
  assert.equal(server.engine.stats().busyThreads, 0);

  // The same export run directly shows that rows were written before the failure.
  const ctx = { ...createJobContext(server.dataDir), threads: 2 };
  await assert.rejects(exportDataset({ dataset_id: datasetId, format: 'csv', tuning: TUNING }, ctx), /malformed|corrupt/i);
  assert.ok(Math.max(...ctx.progressCalls.map((call) => call.done)) > 0, 'rows were written before the failure');
  assert.deepEqual(await exportFiles(server.dataDir), []);
});
