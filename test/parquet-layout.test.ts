// Parquet files laid out as DuckDB's and Arrow's are: few row groups (bounded by rows and bytes), REQUIRED columns
// without nulls, full-length statistics up to a bound, a versioned created_by, codecs inside the file — and gzip
// around it refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import * as zlib from 'node:zlib';
import Database from 'better-sqlite3';
import { parquetMetadata } from 'hyparquet';
import exportDataset from '../workers/export.js';
import { datasetFilePath, type DatasetColumn } from '../workers/datasets/dataset-file.js';
import { createParquetWriter, HYPARQUET_WRITER_VERSION, STATISTICS_MAX_BYTES } from '../workers/formats/parquet.js';
import { createDataDir, createJobContext, writeTestDataset } from './format-fixtures.js';
import { parquetFile } from './fidelity-fixtures.js';
import { startTestServer } from './helpers.js';

const writeDataset = writeTestDataset;

async function exportMetadata(dataDir: string, datasetId: string, extra: Record<string, unknown> = {}) {
  const result = await exportDataset({ dataset_id: datasetId, format: 'parquet', producer: 'offload 9.9.9', ...extra }, createJobContext(dataDir));
  return parquetMetadata(parquetFile(await readFile(path.join(dataDir, result.file))));
}

test('100,000 narrow rows are one row group, not ten; the byte bound splits wide ones', async (t) => {
  const dataDir = await createDataDir(t);
  const columns: DatasetColumn[] = [{ name: 'id', type: 'integer' }, { name: 'x', type: 'real' }, { name: 'label', type: 'text' }];
  const datasetId = writeDataset(dataDir, columns, 100_000, (i) => [i, i / 7, `label ${i % 1000}`]);
  const metadata = await exportMetadata(dataDir, datasetId);
  assert.equal(metadata.row_groups.length, 1);
  assert.equal(metadata.num_rows, 100_000n);
  assert.equal(metadata.created_by, `offload 9.9.9 (hyparquet-writer ${HYPARQUET_WRITER_VERSION})`);

  // 1,000 rows of 1 KB text against a 256 KB bound: groups of 126 rows (32 + 4 + 2 × 1024 bytes a value).
  const chunks: Buffer[] = [];
  const out = new PassThrough().on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise((resolve) => out.on('end', resolve));
  const writer = createParquetWriter([{ name: 'text', type: 'text', nullCount: 0 }], out, { parquetCodec: 'snappy', producer: 'offload' }, { maxBytes: 256 * 1024 });
  await writer.writeRows(Array.from({ length: 1000 }, (_unused, i) => [`${i}`.padEnd(1024, 'x')]));
  await writer.end();
  await ended;
  const wide = parquetMetadata(parquetFile(Buffer.concat(chunks)));
  assert.deepEqual(new Set(wide.row_groups.slice(0, -1).map((group) => group.num_rows)), new Set([126n]));
  assert.equal(wide.row_groups.reduce((sum, group) => sum + group.num_rows, 0n), 1000n);
});

test('hyparquet-writer\'s version in created_by is the installed one', () => {
  const installed = JSON.parse(readFileSync(new URL('../../node_modules/hyparquet-writer/package.json', import.meta.url), 'utf8')).version;
  assert.equal(HYPARQUET_WRITER_VERSION, installed);
});

test('text statistics are whole up to the bound, cut (and marked inexact) beyond it; none for json', async (t) => {
  const dataDir = await createDataDir(t);
  const columns: DatasetColumn[] = [{ name: 'short', type: 'text' }, { name: 'long', type: 'text' }, { name: 'doc', type: 'json' }];
  const short = (i: number) => `https://example.org/a/rather/long/path/that/used/to/be/cut/at/sixteen/${i}`;
  const datasetId = writeDataset(dataDir, columns, 3, (i) => [short(i), String(i).repeat(1000), `{"i":${i}}`]);
  const metadata = await exportMetadata(dataDir, datasetId);
  const [shortStats, longStats, docStats] = metadata.row_groups[0]!.columns.map((column) => column.meta_data!.statistics!);
  assert.equal(shortStats!.min_value, short(0));
  assert.equal(shortStats!.max_value, short(2));
  assert.equal(Buffer.byteLength(longStats!.min_value as string), STATISTICS_MAX_BYTES);
  assert.equal(longStats!.is_min_value_exact, false);
  assert.equal(docStats, undefined);
});

test('a column is REQUIRED only when the dataset file knows it has no nulls (format-1 files do not)', async (t) => {
  const dataDir = await createDataDir(t);
  const columns: DatasetColumn[] = [{ name: 'full', type: 'integer' }, { name: 'holey', type: 'text' }];
  const datasetId = writeDataset(dataDir, columns, 4, (i) => [i, i % 2 === 0 ? null : 'x']);
  const repetitions = async () => (await exportMetadata(dataDir, datasetId)).schema.slice(1).map((element) => element.repetition_type);
  assert.deepEqual(await repetitions(), ['REQUIRED', 'OPTIONAL']);
  // A dataset written before null counts were kept.
  const db = new Database(datasetFilePath(dataDir, datasetId));
  db.exec(`UPDATE dataset_meta SET value = '1' WHERE key = 'format_version'; ALTER TABLE columns DROP COLUMN null_count; ALTER TABLE columns DROP COLUMN timezone;`);
  db.close();
  assert.deepEqual(await repetitions(), ['OPTIONAL', 'OPTIONAL']);
});

test('POST /exports: gzip around Parquet and a codec for another format are 400s; zstd as this Node allows', async () => {
  const server = await startTestServer();
  try {
    const upload = await server.request('POST', '/datasets?name=p', { rawBody: 'a\n1\n', headers: { 'content-type': 'text/csv' } });
    await server.waitForJob(upload.body.job_id);
    const id = upload.body.id;
    const refused = await server.request('POST', '/exports', { body: { dataset_id: id, format: 'parquet', compression: 'gzip' } });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.code, 'invalid_request');
    assert.match(refused.body.error.message, /compression.*Parquet readers.*parquet_codec/);
    const misplaced = await server.request('POST', '/exports', { body: { dataset_id: id, format: 'csv', parquet_codec: 'gzip' } });
    assert.equal(misplaced.status, 400);
    assert.match(misplaced.body.error.message, /parquet_codec.*parquet only/);
    const unknown = await server.request('POST', '/exports', { body: { dataset_id: id, format: 'parquet', parquet_codec: 'lz4' } });
    assert.equal(unknown.status, 400);
    const zstd = await server.request('POST', '/exports', { body: { dataset_id: id, format: 'parquet', parquet_codec: 'zstd' } });
    if (typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync === 'function') {
      assert.equal(zstd.status, 202, zstd.text);
      const job = await server.waitForJob(zstd.body.job_id);
      assert.equal(job.status, 'succeeded');
    } else {
      assert.equal(zstd.status, 400);
      assert.match(zstd.body.error.message, /zstd is not available on this server \(Node\.js .*22\.15/);
    }
  } finally {
    await server.close();
  }
});

