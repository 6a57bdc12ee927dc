// Import options on POST /datasets (delimiter, null, charset, types) and the silent misreads of issue 15, each
// answered with a clear, specific message or a warning in the dataset document. Real server, real worker threads.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from './helpers.js';
import { uploadDataset } from './fidelity-fixtures.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.close());

async function failedImport(query: string, contentType: string, body: string | Buffer): Promise<string> {
  const res = await server.request('POST', `/datasets?${query}`, { rawBody: body, headers: { 'content-type': contentType } });
  assert.equal(res.status, 202, res.text);
  const job = await server.waitForJob(res.body.job_id);
  assert.equal(job.status, 'failed');
  assert.equal(job.error.code, 'invalid_payload');
  const dataset = (await server.request('GET', `/datasets/${res.body.id}`)).body;
  assert.equal(dataset.status, 'failed');
  return dataset.error.message as string;
}

const types = (dataset: any) => dataset.columns.map((c: any) => `${c.name}:${c.type}`);

test('the delimiter is detected from the header line among , ; tab |, and reported', async () => {
  for (const [delimiter, sep] of [[',', ','], [';', ';'], ['\t', '\t'], ['|', '|']]) {
    const csv = `a${sep}b${sep}"c${sep}d"\n1${sep}2,5${sep}x\n`.replace('2,5', sep === ',' ? '25' : '2,5');
    const dataset = await uploadDataset(server, 'name=d', 'text/csv', csv);
    assert.equal(dataset.import.delimiter, delimiter, JSON.stringify(sep));
    assert.deepEqual(dataset.columns.map((c: any) => c.name), ['a', 'b', `c${sep}d`]);
    assert.deepEqual(dataset.warnings, []);
  }
});

test('an explicit delimiter wins over detection; a bad one is a 400 naming the choices', async () => {
  const dataset = await uploadDataset(server, 'name=d&delimiter=%7C', 'text/csv', 'a;b|c\n1;2|3\n');
  assert.deepEqual(dataset.columns.map((c: any) => c.name), ['a;b', 'c']);
  const tab = await uploadDataset(server, 'name=d&delimiter=tab', 'text/csv', 'a\tb\n1\t2\n');
  assert.deepEqual(types(tab), ['a:integer', 'b:integer']);
  const bad = await server.request('POST', '/datasets?name=d&delimiter=xx', { rawBody: 'a\n1\n', headers: { 'content-type': 'text/csv' } });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'invalid_request');
  assert.match(bad.body.error.message, /delimiter/);
});

test('a ;-separated file read with delimiter=, fails with a hint about delimiter', async () => {
  const message = await failedImport('name=d&delimiter=,', 'text/csv', 'name;price\nx;1,5\ny;2\n');
  assert.match(message, /line 2 of the CSV has 2 fields, but the header has 1/);
  assert.match(message, /delimiter=/);
  assert.match(message, /";"/);
});

test('null tokens: NA turns numeric columns back into numbers; default is only the empty field', async () => {
  const csv = 'bill,sex\n39.1,male\nNA,NA\n""," "\n';
  assert.deepEqual(types(await uploadDataset(server, 'name=p', 'text/csv', csv)), ['bill:text', 'sex:text']);
  const dataset = await uploadDataset(server, 'name=p&null=NA,NULL,%5CN', 'text/csv', csv);
  assert.deepEqual(types(dataset), ['bill:real', 'sex:text']);
  assert.deepEqual(dataset.import.null_tokens, ['NA', 'NULL', '\\N']);
  // A quoted "NA" is text, not a null token.
  const quoted = await uploadDataset(server, 'name=p&null=NA', 'text/csv', 'a\n"NA"\nNA\n');
  assert.deepEqual(types(quoted), ['a:text']);
});

test('charset=iso-8859-1 is decoded; UTF-8 is the default; other charsets are refused with 415', async () => {
  const latin1 = Buffer.from('name,city\nJosé,Zürich\n', 'latin1');
  const viaHeader = await uploadDataset(server, 'name=l', 'text/csv; charset=ISO-8859-1', latin1);
  assert.equal(viaHeader.import.charset, 'iso-8859-1');
  const viaQuery = await uploadDataset(server, 'name=l&charset=latin1', 'text/csv', latin1);
  assert.equal(viaQuery.import.charset, 'iso-8859-1');
  const { bytes } = await (await import('./fidelity-fixtures.js')).exportAndDownload(server, { dataset_id: viaQuery.id, format: 'csv' });
  assert.equal(bytes.toString('utf8'), 'name,city\r\nJosé,Zürich\r\n');
  for (const contentType of ['text/csv; charset=utf-16', 'text/csv; charset=windows-1251', 'application/x-ndjson; charset=shift_jis']) {
    const res = await server.request('POST', '/datasets?name=x', { rawBody: 'a\n1\n', headers: { 'content-type': contentType } });
    assert.equal(res.status, 415, contentType);
    assert.equal(res.body.error.code, 'unsupported_media_type');
    assert.match(res.body.error.message, /UTF-8 or ISO-8859-1/);
  }
  const conflict = await server.request('POST', '/datasets?name=x&charset=utf-8', { rawBody: 'a\n1\n', headers: { 'content-type': 'text/csv; charset=latin1' } });
  assert.equal(conflict.status, 400);
  assert.match(conflict.body.error.message, /charset/);
  // Latin-1 bytes sent as UTF-8 still fail with the line, now with a hint.
  assert.match(await failedImport('name=x', 'text/csv', latin1), /not valid UTF-8: line 2.*charset=iso-8859-1/);
});

test('explicit column types override inference; values that do not fit fail with the line', async () => {
  const csv = 'zip,code,when,n\n007,1,2014-01-01,1\n012,2,2014-01-02,2.5\n';
  const dataset = await uploadDataset(server, 'name=t&types=zip:text,code:text,n:real', 'text/csv', csv);
  assert.deepEqual(types(dataset), ['zip:text', 'code:text', 'when:date', 'n:real']);
  const asText = await uploadDataset(server, 'name=t&types=when:text', 'text/csv', csv);
  assert.deepEqual(types(asText), ['zip:text', 'code:integer', 'when:text', 'n:real']);
  assert.match(await failedImport('name=t&types=zip:integer', 'text/csv', csv), /line 2.*"007".*zip.*integer/);
  assert.match(await failedImport('name=t&types=nope:integer', 'text/csv', csv), /no column "nope"/);
  const bad = await server.request('POST', '/datasets?name=t&types=zip:money', { rawBody: csv, headers: { 'content-type': 'text/csv' } });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error.message, /types/);
});

test('only unambiguous ISO-8601 forms become dates and timestamps; locale forms stay text', async () => {
  const csv = [
    'us,eu,iso_day,bad_day,iso_ts,leap,no_zone_mix,nanos',
    '01/02/2026,02.01.2026,2026-01-02,2026-02-30,2026-01-02T03:04:05.678Z,2024-02-29,2001-01-01T00:00:00Z,2001-01-01T00:00:00.123456789',
    '12/31/2026,31.12.2026,2026-12-31,2026-13-01,2026-01-02 03:04:05+0130,2023-02-28,2001-01-01T00:00:00,2001-01-01T00:00:00',
  ].join('\n');
  const dataset = await uploadDataset(server, 'name=iso', 'text/csv', csv);
  assert.deepEqual(dataset.columns, [
    { name: 'us', type: 'text' },
    { name: 'eu', type: 'text' },
    { name: 'iso_day', type: 'date' },
    { name: 'bad_day', type: 'text' },
    { name: 'iso_ts', type: 'timestamp', timezone: 'UTC' },
    { name: 'leap', type: 'date' },
    { name: 'no_zone_mix', type: 'text' },
    { name: 'nanos', type: 'text' },
  ]);
});

test('a header-only CSV and a single-column result are reported as warnings', async () => {
  const headerOnly = await uploadDataset(server, 'name=h', 'text/csv', 'a,b\n');
  assert.equal(headerOnly.rows, 0);
  assert.equal(headerOnly.warnings.length, 1);
  assert.match(headerOnly.warnings[0], /no data rows.*text/);
  const single = await uploadDataset(server, 'name=s', 'text/csv', 'a b c\n1 2 3\n');
  assert.equal(single.warnings.length, 1);
  assert.match(single.warnings[0], /one column.*delimiter=/);
});

test('a JSON array sent as NDJSON gets a message saying so', async () => {
  for (const body of ['[{"a":1},{"a":2}]', '[\n  {"a": 1},\n  {"a": 2}\n]\n']) {
    const message = await failedImport('name=j', 'application/x-ndjson', body);
    assert.match(message, /looks like a JSON array.*one object per line/);
  }
});
