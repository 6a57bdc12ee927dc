// Defects found by attacking the console's API as a hostile client, an operator and a data engineer would; each
// test failed before its fix. Real server over HTTP, real SQLite, real worker threads.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from './helpers.js';

let server: TestServer;
before(async () => {
  server = await startTestServer({ args: ['--max-event-streams-per-client', '1', '--max-pending', '100000'] });
});
after(async () => {
  await server?.close();
});

async function importCsv(csv: string, query = ''): Promise<string> {
  const upload = await server.request('POST', `/datasets?name=review${query}`, { rawBody: csv, headers: { 'content-type': 'text/csv' } });
  assert.equal(upload.status, 202, upload.text);
  const job = await server.waitForJob(upload.body.job_id);
  assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
  return upload.body.id;
}

describe('GET /datasets/{id}/preview', () => {
  test('reads the dataset files imports write now (format 2), with date, timestamp and json columns', async () => {
    const id = await importCsv('d,t,j\n2024-02-29,2024-01-01T10:00:00+02:00,"{""x"":1}"\n', '&types=d:date,t:timestamp,j:json');
    const preview = await server.request('GET', `/datasets/${id}/preview`);
    assert.equal(preview.status, 200, preview.text);
    assert.deepEqual(preview.body, {
      columns: [{ name: 'd', type: 'date' }, { name: 't', type: 'timestamp', timezone: 'UTC' }, { name: 'j', type: 'json' }],
      rows: [['2024-02-29', '2024-01-01T08:00:00Z', '{"x":1}']],
      total_rows: 1,
    });
  });

  test('cuts long text cells and stops the rows at a text budget: 20 cells of 2 MB answer a small page', async () => {
    const cell = 'x'.repeat(2 * 1024 * 1024);
    const id = await importCsv('n,big\n' + Array.from({ length: 20 }, (_, i) => `${i},${cell}`).join('\n') + '\n');
    const preview = await server.request('GET', `/datasets/${id}/preview?limit=20`);
    assert.equal(preview.status, 200, preview.text.slice(0, 300));
    assert.ok(preview.text.length < 100_000, `the answer is ${preview.text.length} bytes`);
    assert.equal(preview.body.rows.length, 20);
    assert.deepEqual(preview.body.rows[3], [3, 'x'.repeat(1000)]);
    assert.equal(preview.body.total_rows, 20);
  });
});
