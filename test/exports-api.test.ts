// Datasets and exports over real HTTP: streaming upload, import job, export job per format, download.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { parse as parseCsv } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import { parquetReadObjects } from 'hyparquet';
import { exportPath } from '../src/contracts/data-layout.js';
import { createNastyRows, NASTY_COLUMNS, toNastyCsv, toNastyNdjson } from './format-fixtures.js';
import { startTestServer, waitFor, type TestServer } from './helpers.js';

const ROWS = createNastyRows(300);
let server: TestServer;
let datasetId: string;

before(async () => {
  server = await startTestServer();
  datasetId = await upload('nasty.csv', 'text/csv', toNastyCsv(ROWS));
});
after(() => server.close());

async function upload(name: string, contentType: string, body: string | Buffer): Promise<string> {
  const res = await server.request('POST', `/datasets?name=${encodeURIComponent(name)}`, { rawBody: body, headers: { 'content-type': contentType } });
  assert.equal(res.status, 202, res.text);
  assert.equal(res.headers.get('location'), `/datasets/${res.body.id}`);
  const ready = await waitFor(async () => {
    const doc = (await server.request('GET', `/datasets/${res.body.id}`)).body;
    return doc.status === 'importing' ? undefined : doc;
  }, 30_000, 'the import to finish');
  assert.equal(ready.status, 'ready', JSON.stringify(ready.error));
  return ready.id;
}

async function exportAndDownload(body: Record<string, unknown>) {
  const created = await server.request('POST', '/exports', { body: { dataset_id: datasetId, ...body } });
  assert.equal(created.status, 202, created.text);
  assert.equal(created.headers.get('location'), `/exports/${created.body.job_id}`);
  const job = await server.waitForJob(created.body.job_id, undefined, 60_000);
  assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
  const doc = (await server.request('GET', `/exports/${job.job_id}`)).body;
  const res = await fetch(`${server.url}${doc.result.download_url}`);
  assert.equal(res.status, 200);
  const bytes = Buffer.from(await res.arrayBuffer());
  assert.equal(Number(res.headers.get('content-length')), bytes.length);
  assert.equal(doc.result.bytes, bytes.length);
  assert.equal(doc.result.sha256, createHash('sha256').update(bytes).digest('hex'), 'the job’s sha256 is the body’s');
  assert.equal(res.headers.get('etag'), `"${doc.result.sha256}"`);
  assert.equal(res.headers.get('content-type'), doc.result.content_type);
  assert.match(res.headers.get('content-disposition')!, /^attachment; filename="nasty\./);
  assert.equal(doc.result.rows, ROWS.length);
  return { doc, bytes };
}

/** What a row should read as once parsed back from a JSON-based format. */
const expectedObjects = ROWS.map((row) => Object.fromEntries(NASTY_COLUMNS.map((c, i) => [c.name, row[i]])));

describe('datasets', () => {
  test('a CSV upload imports with exact header names and inferred types', async () => {
    const doc = (await server.request('GET', `/datasets/${datasetId}`)).body;
    assert.equal(doc.name, 'nasty.csv');
    assert.equal(doc.rows, ROWS.length);
    assert.deepEqual(doc.columns, NASTY_COLUMNS);
    // Removed once the import job has finished (asynchronously, after the job's final write).
    await waitFor(() => (readdirSync(join(server.dataDir, 'uploads')).length === 0 ? true : undefined), 5000, 'the upload to be removed');
  });

  test('an NDJSON upload gives the same dataset', async () => {
    const id = await upload('nasty.ndjson', 'application/x-ndjson', toNastyNdjson(ROWS));
    const doc = (await server.request('GET', `/datasets/${id}`)).body;
    assert.equal(doc.rows, ROWS.length);
    assert.deepEqual(doc.columns.map((c: { name: string }) => c.name), NASTY_COLUMNS.map((c) => c.name));
  });

  test('GET /datasets lists newest first', async () => {
    const res = await server.request('GET', '/datasets?limit=100');
    assert.equal(res.status, 200);
    assert.ok(res.body.datasets.some((d: { id: string }) => d.id === datasetId));
  });

  test('bad uploads fail with clear errors and the server keeps serving', async () => {
    const wrongType = await server.request('POST', '/datasets?name=x', { rawBody: 'a,b\n1,2\n', headers: { 'content-type': 'text/plain' } });
    assert.equal(wrongType.status, 415);
    assert.equal(wrongType.body.error.code, 'unsupported_media_type');
    const noName = await server.request('POST', '/datasets', { rawBody: 'a,b\n1,2\n', headers: { 'content-type': 'text/csv' } });
    assert.equal(noName.status, 400);
    const empty = await server.request('POST', '/datasets?name=empty', { rawBody: '', headers: { 'content-type': 'text/csv' } });
    assert.equal(empty.status, 400);
    assert.equal(empty.body.error.code, 'invalid_request');

    const ragged = await server.request('POST', '/datasets?name=ragged', { rawBody: 'a,b\n1,2\n3\n', headers: { 'content-type': 'text/csv' } });
    assert.equal(ragged.status, 202);
    const failed = await waitFor(async () => {
      const doc = (await server.request('GET', `/datasets/${ragged.body.id}`)).body;
      return doc.status === 'importing' ? undefined : doc;
    }, 20_000, 'the ragged import to end');
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error.code, 'invalid_payload');
    assert.match(failed.error.message, /line 3/);

    const notReady = await server.request('POST', '/exports', { body: { dataset_id: failed.id, format: 'csv' } });
    assert.equal(notReady.status, 409);
    assert.equal((await server.request('GET', '/healthz')).status, 200);
  });

  test('an upload over --max-upload-mb is refused with 413 and leaves no file', async () => {
    const small = await startTestServer({ args: ['--max-upload-mb', '1'] });
    try {
      const big = Buffer.alloc(1024 * 1024 + 10, 'a\n');
      const res = await small.request('POST', '/datasets?name=big', { rawBody: big, headers: { 'content-type': 'text/csv' } });
      assert.equal(res.status, 413);
      assert.equal(res.body.error.code, 'payload_too_large');
      assert.deepEqual(readdirSync(join(small.dataDir, 'uploads')), []);
    } finally {
      await small.close();
    }
  });
});

describe('exports', () => {
  test('delay_ms or run_at: the export is scheduled until due, listed as status=scheduled, then runs', async () => {
    const later = await server.request('POST', '/exports', { body: { dataset_id: datasetId, format: 'csv', delay_ms: 60_000 } });
    assert.equal(later.status, 202, later.text);
    assert.equal(later.body.status, 'scheduled');
    const soon = await server.request('POST', '/exports', { body: { dataset_id: datasetId, format: 'csv', run_at: new Date(Date.now() + 600).toISOString() } });
    assert.equal((await server.request('GET', `/exports/${later.body.job_id}`)).body.status, 'scheduled');
    const listed = (status: string) => server.request('GET', `/exports?status=${status}&limit=100`).then((res) => res.body.exports.map((e: { job_id: string }) => e.job_id));
    assert.ok((await listed('scheduled')).includes(later.body.job_id));
    assert.ok(!(await listed('pending')).includes(later.body.job_id));
    const done = await server.waitForJob(soon.body.job_id, undefined, 60_000);
    assert.equal(done.status, 'succeeded');
    assert.ok(Date.parse(done.started_at) - Date.parse(done.created_at) >= 550);
    for (const fields of [{ delay_ms: 10, run_at: new Date().toISOString() }, { delay_ms: -1 }, { run_at: 'soon' }]) {
      const refused = await server.request('POST', '/exports', { body: { dataset_id: datasetId, format: 'csv', ...fields } });
      assert.equal(refused.status, 400, JSON.stringify(fields));
    }
    assert.equal((await server.request('DELETE', `/exports/${later.body.job_id}`)).status, 202);
  });

  test('group_key: an export carries its tenant\'s flow-control key; a hostile key is 400', async () => {
    const created = await server.request('POST', '/exports', { body: { dataset_id: datasetId, format: 'csv', group_key: 'tenant-7' } });
    assert.equal(created.status, 202, created.text);
    const done = await server.waitForJob(created.body.job_id);
    assert.equal(done.status, 'succeeded');
    assert.equal((await server.request('GET', `/exports/${created.body.job_id}`)).body.group_key, 'tenant-7');
    for (const group_key of ['', 'a b', 'x'.repeat(129), 'ü', 7]) {
      const refused = await server.request('POST', '/exports', { body: { dataset_id: datasetId, format: 'csv', group_key } });
      assert.equal(refused.status, 400, JSON.stringify(group_key));
      assert.equal(refused.body.error.details[0].path, 'group_key');
    }
  });

  test('ndjson: every cell equals the source', async () => {
    const { bytes } = await exportAndDownload({ format: 'ndjson' });
    const lines = bytes.toString('utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
    assert.deepEqual(lines, expectedObjects);
  });

  test('json: one array, every cell equals the source', async () => {
    const { bytes } = await exportAndDownload({ format: 'json' });
    assert.deepEqual(JSON.parse(bytes.toString('utf8')), expectedObjects);
  });

  test('csv: header row and every text cell as uploaded (read back with csv-parse)', async () => {
    const { bytes } = await exportAndDownload({ format: 'csv' });
    const records: string[][] = parseCsv(bytes, { bom: true, relax_column_count: false });
    assert.deepEqual(records[0], NASTY_COLUMNS.map((c) => c.name));
    assert.equal(records.length, ROWS.length + 1);
    ROWS.forEach((row, r) => {
      NASTY_COLUMNS.forEach((column, c) => {
        if (column.type === 'text' && row[c] !== null && row[c] !== '') assert.equal(records[r + 1]![c], row[c], `row ${r} column ${column.name}`);
        if (column.type === 'integer' && row[c] !== null) assert.equal(records[r + 1]![c], String(row[c]));
      });
    });
  });

  test('xlsx: read back with exceljs', async () => {
    const { bytes } = await exportAndDownload({ format: 'xlsx', columns: ['id', 'name', 'big', 'flag'] });
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load(bytes as never);
    const sheet = workbook.worksheets[0]!;
    // Text cells are inline strings, which exceljs reads as rich text: compare their text.
    assert.deepEqual([1, 2, 3, 4].map((i) => sheet.getRow(1).getCell(i).text), ['id', 'name', 'big', 'flag']);
    assert.equal(sheet.rowCount, ROWS.length + 1);
    const second = (sheet.getRow(2).values as unknown[]).slice(1);
    assert.equal(second[0], ROWS[0]![0]);
    assert.equal(second[2], ROWS[0]![5]);
  });

  test('parquet: read back with hyparquet, column types kept', async () => {
    const { bytes } = await exportAndDownload({ format: 'parquet' });
    const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    const rows = await parquetReadObjects({ file });
    assert.equal(rows.length, ROWS.length);
    rows.forEach((row, r) => {
      for (const [i, column] of NASTY_COLUMNS.entries()) {
        const actual = row[column.name];
        const expected = ROWS[r]![i];
        assert.deepEqual(typeof actual === 'bigint' ? Number(actual) : actual, expected, `row ${r} column ${column.name}`);
      }
    });
  });

  test('gzip gunzips to the same bytes as the uncompressed export', async () => {
    const plain = await exportAndDownload({ format: 'csv', columns: ['id', 'name'] });
    const gzipped = await exportAndDownload({ format: 'csv', columns: ['id', 'name'], compression: 'gzip' });
    assert.equal(gzipped.doc.result.content_type, 'application/gzip');
    assert.deepEqual(gunzipSync(gzipped.bytes), plain.bytes);
  });

  test('Range requests return the asked bytes', async () => {
    const { doc, bytes } = await exportAndDownload({ format: 'ndjson', columns: ['id'] });
    const res = await fetch(`${server.url}${doc.result.download_url}`, { headers: { Range: 'bytes=5-14' } });
    assert.equal(res.status, 206);
    assert.equal(res.headers.get('content-range'), `bytes 5-14/${bytes.length}`);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytes.subarray(5, 15));
    const outside = await fetch(`${server.url}${doc.result.download_url}`, { headers: { Range: `bytes=${bytes.length + 5}-` } });
    assert.equal(outside.status, 416);
    await outside.arrayBuffer();
  });

  test('validation: unknown dataset 422, unknown column 422, bad format 400', async () => {
    const missing = await server.request('POST', '/exports', { body: { dataset_id: '00000000-0000-4000-8000-000000000000', format: 'csv' } });
    assert.equal(missing.status, 422);
    assert.equal(missing.body.error.code, 'dataset_not_found');
    const column = await server.request('POST', '/exports', { body: { dataset_id: datasetId, format: 'csv', columns: ['id', 'nope'] } });
    assert.equal(column.status, 422);
    assert.equal(column.body.error.code, 'unknown_column');
    assert.deepEqual(column.body.error.details.unknown_columns, ['nope']);
    const format = await server.request('POST', '/exports', { body: { dataset_id: datasetId, format: 'pdf' } });
    assert.equal(format.status, 400);
    assert.equal(format.body.error.details[0].path, 'format');
  });

  test('download before success is 409 not_ready; after DELETE it is 410 gone', async () => {
    const created = await server.request('POST', '/exports', { body: { dataset_id: datasetId, format: 'csv' } });
    const early = await server.request('GET', `/exports/${created.body.job_id}/download`);
    if (early.status !== 200) {
      assert.equal(early.status, 409);
      assert.equal(early.body.error.code, 'not_ready');
    }
    await server.waitForJob(created.body.job_id);
    const deleted = await server.request('DELETE', `/exports/${created.body.job_id}`);
    assert.equal(deleted.status, 204);
    const gone = await server.request('GET', `/exports/${created.body.job_id}/download`);
    assert.equal(gone.status, 410);
    assert.equal(gone.body.error.code, 'gone');
    const doc = (await server.request('GET', `/exports/${created.body.job_id}`)).body;
    assert.equal(doc.result.expired, true);
  });

  test('a file this node does not see, or sees with another size, is 404 file_unavailable, never served; deleted, 410 gone', async () => {
    const created = await server.request('POST', '/exports', { body: { dataset_id: datasetId, format: 'csv' } });
    await server.waitForJob(created.body.job_id);
    const file = exportPath(server.dataDir, created.body.job_id, 'csv');
    const written = readFileSync(file);
    // What a node sees whose copy of the shared data directory lacks the file, or holds another version of it.
    rmSync(file);
    const missing = await server.request('GET', `/exports/${created.body.job_id}/download`);
    assert.deepEqual([missing.status, missing.body.error.code], [404, 'file_unavailable']);
    assert.match(missing.body.error.message, /does not see its file/);
    writeFileSync(file, written.subarray(0, written.length - 1));
    const truncated = await server.request('GET', `/exports/${created.body.job_id}/download`);
    assert.deepEqual([truncated.status, truncated.body.error.code], [404, 'file_unavailable']);
    assert.deepEqual(truncated.body.error.details, { expected_bytes: written.length, seen_bytes: written.length - 1 });
    writeFileSync(file, written);
    assert.equal((await server.request('GET', `/exports/${created.body.job_id}/download`)).status, 200);
    assert.equal((await server.request('DELETE', `/exports/${created.body.job_id}`)).status, 204);
    const gone = await server.request('GET', `/exports/${created.body.job_id}/download`);
    assert.deepEqual([gone.status, gone.body.error.code], [410, 'gone']);
  });

  test('a cancelled export leaves no file that can be downloaded', async () => {
    const created = await server.request('POST', '/exports', { body: { dataset_id: datasetId, format: 'xlsx' } });
    const res = await server.request('DELETE', `/exports/${created.body.job_id}`);
    assert.equal(res.status, 202);
    assert.equal(res.body.status, 'cancelled');
    const download = await server.request('GET', `/exports/${created.body.job_id}/download`);
    assert.equal(download.status, 409);
    const files = existsSync(join(server.dataDir, 'exports')) ? readdirSync(join(server.dataDir, 'exports')) : [];
    assert.ok(!files.some((f) => f.startsWith(created.body.job_id) && !f.includes('.tmp') && !f.includes('partial')));
  });

  test('Idempotency-Key: same body → same job; different body → 409', async () => {
    const headers = { 'Idempotency-Key': `key-${Date.now()}` };
    const body = { dataset_id: datasetId, format: 'ndjson', columns: ['id'] };
    const first = await server.request('POST', '/exports', { body, headers });
    assert.equal(first.status, 202);
    const again = await server.request('POST', '/exports', { body: { columns: ['id'], format: 'ndjson', dataset_id: datasetId }, headers });
    assert.equal(again.status, 200);
    assert.equal(again.body.job_id, first.body.job_id);
    const different = await server.request('POST', '/exports', { body: { ...body, format: 'csv' }, headers });
    assert.equal(different.status, 409);
    assert.equal(different.body.error.code, 'conflict');
  });

  test('a dataset cannot be deleted while an export of it runs; afterwards it can', async () => {
    const id = await upload('to-delete.csv', 'text/csv', toNastyCsv(ROWS.slice(0, 50)));
    const { job: future } = await server.engine.enqueue({ kind: 'export', payload: { dataset_id: id, format: 'csv' }, ref: id, runAt: Date.now() + 60_000 });
    const refused = await server.request('DELETE', `/datasets/${id}`);
    assert.equal(refused.status, 409);
    await server.engine.cancel(future.id);
    const deleted = await server.request('DELETE', `/datasets/${id}`);
    assert.equal(deleted.status, 204);
    assert.equal((await server.request('GET', `/datasets/${id}`)).status, 404);
  });
});

describe('retention', () => {
  test('--job-ttl deletes finished job rows but keeps a dataset\'s (pinned) import job: the dataset stays ready', async () => {
    const brief = await startTestServer({ args: ['--job-ttl', '1s', '--result-ttl', '1s'] });
    try {
      const uploaded = await brief.request('POST', '/datasets?name=kept', { rawBody: 'a\n1\n', headers: { 'content-type': 'text/csv' } });
      assert.equal((await brief.waitForJob(uploaded.body.job_id)).status, 'succeeded');
      const exported = await brief.request('POST', '/exports', { body: { dataset_id: uploaded.body.id, format: 'csv' } });
      await brief.waitForJob(exported.body.job_id);
      const noop = await brief.request('POST', '/jobs', { body: { kind: 'noop', payload: {} } });
      await brief.waitForJob(noop.body.job_id);
      await waitFor(async () => ((await brief.request('GET', `/jobs/${noop.body.job_id}`)).status === 404 ? true : undefined), 15_000, 'the finished job row to be deleted');
      assert.equal((await brief.request('GET', `/exports/${exported.body.job_id}`)).status, 404, 'the export job row went too');
      const dataset = await brief.request('GET', `/datasets/${uploaded.body.id}`);
      assert.equal(dataset.body.status, 'ready');
      assert.deepEqual(dataset.body.columns, [{ name: 'a', type: 'integer' }]);
      assert.equal((await brief.request('GET', `/jobs/${uploaded.body.job_id}`)).status, 200, 'the import job is pinned');
      // Once the dataset is deleted, nothing needs its import job: retention takes it like any other.
      assert.equal((await brief.request('DELETE', `/datasets/${uploaded.body.id}`)).status, 204);
      await waitFor(async () => ((await brief.request('GET', `/jobs/${uploaded.body.job_id}`)).status === 404 ? true : undefined), 15_000, 'the unpinned import job to be deleted');
    } finally {
      await brief.close();
    }
  });

  test('finished export files expire after --result-ttl: the download says 410 gone and the document says expired', async () => {
    const shortLived = await startTestServer({ args: ['--result-ttl', '1s', '--threads', '1'] });
    try {
      // Keep the only thread busy for 2.5 s, so that the upload waits past the TTL: it must not be swept meanwhile.
      const blocker = await shortLived.request('POST', '/jobs', { body: { kind: 'slow-progress', payload: { steps: 25, stepMs: 100 } } });
      assert.equal(blocker.status, 202);
      const created = await shortLived.request('POST', '/datasets?name=ttl', { rawBody: 'a,b\n1,x\n2,y\n', headers: { 'content-type': 'text/csv' } });
      assert.equal(created.status, 202, created.text);
      const imported = await shortLived.waitForJob(created.body.job_id);
      assert.equal(imported.status, 'succeeded', JSON.stringify(imported.error));
      const exported = await shortLived.request('POST', '/exports', { body: { dataset_id: created.body.id, format: 'csv' } });
      assert.equal(exported.status, 202, exported.text);
      const job = await shortLived.waitForJob(exported.body.job_id);
      assert.equal(job.status, 'succeeded');
      const doc = (await shortLived.request('GET', `/exports/${job.job_id}`)).body;
      assert.equal(Date.parse(doc.result.expires_at) - Date.parse(doc.finished_at), 1000);
      const gone = await waitFor(async () => {
        const res = await shortLived.request('GET', `/exports/${job.job_id}/download`);
        return res.status === 410 ? res : undefined;
      }, 10_000, 'the file to expire');
      assert.equal(gone.body.error.code, 'gone');
      assert.equal((await shortLived.request('GET', `/exports/${job.job_id}`)).body.result.expired, true);
      assert.equal((await shortLived.request('GET', `/datasets/${created.body.id}`)).body.status, 'ready', 'datasets do not expire');
    } finally {
      await shortLived.close();
    }
  });
});
