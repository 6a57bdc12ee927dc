// The import job kind: bad uploads fail with invalid_payload and the line, types are inferred as documented,
// header names are kept, and nothing is left behind by a failed or aborted import.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import importDataset from '../workers/import.js';
import type { ImportResult } from '../src/contracts/import-contract.js';
import { openDatasetForReading, type CellValue } from '../workers/datasets/dataset-file.js';
import { makeUniqueColumnNames } from '../workers/uploads/column-names.js';
import { createDataDir, createJobContext, writeUpload, type RecordingContext } from './format-fixtures.js';

interface Imported {
  datasetId: string;
  result: ImportResult;
  rows: CellValue[][];
  ctx: RecordingContext;
}

async function runImport(dataDir: string, contentType: 'csv' | 'ndjson', content: string | Buffer): Promise<Imported> {
  const datasetId = randomUUID();
  await writeUpload(dataDir, datasetId, content);
  const ctx = createJobContext(dataDir);
  const result = await importDataset({ dataset_id: datasetId, content_type: contentType }, ctx);
  const dataset = openDatasetForReading(dataDir, datasetId);
  try {
    return { datasetId, result, rows: [...dataset.iterateRows(result.columns.map((_column, i) => i))], ctx };
  } finally {
    dataset.close();
  }
}

async function assertImportFails(
  dataDir: string,
  contentType: 'csv' | 'ndjson',
  content: string | Buffer,
  message: RegExp,
): Promise<void> {
  const datasetId = randomUUID();
  await writeUpload(dataDir, datasetId, content);
  await assert.rejects(
    importDataset({ dataset_id: datasetId, content_type: contentType }, createJobContext(dataDir)),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, 'invalid_payload', err.message);
      assert.match(err.message, message);
      return true;
    },
  );
  const left = await readdir(path.join(dataDir, 'datasets')).catch(() => []);
  assert.deepEqual(left.filter((name) => name.startsWith(datasetId)), [], 'no dataset file and no temporary file');
}

test('malformed CSV fails with invalid_payload and the line of the bad record', async (t) => {
  const dataDir = await createDataDir(t);
  await assertImportFails(dataDir, 'csv', 'a,b\n1,2\n3,4"x\n', /line 3: a quote appears inside an unquoted field/);
  await assertImportFails(dataDir, 'csv', 'a,b\n1,2\n3,"4"x\n', /line 3: a closing quote is followed/);
  // csv-parse counts a CRLF inside quotes as two lines; the reported line must still be the real one.
  await assertImportFails(dataDir, 'csv', 'a,b\r\n"x\r\ny\r\nz",1\r\n3,"4"x\r\n', /line 5:/);
  await assertImportFails(dataDir, 'csv', 'a,b\n1,2\n3,"4\n5,6\n', /record starting at line 3: a quoted field is never closed/);
});

test('ragged rows fail with the line and the field counts', async (t) => {
  const dataDir = await createDataDir(t);
  await assertImportFails(dataDir, 'csv', 'a,b\n1,2\n3\n', /^line 3 of the CSV has 1 field, but the header has 2$/);
  await assertImportFails(dataDir, 'csv', 'a,b\n1,2\n3,4,5\n', /^line 3 of the CSV has 3 fields, but the header has 2$/);
  await assertImportFails(dataDir, 'csv', 'a,b\r\n"multi\r\nline",1\r\n3,4,5\r\n', /^line 4 of the CSV/);
});

test('invalid UTF-8 fails with the line, even past the first megabyte and at the very end', async (t) => {
  const dataDir = await createDataDir(t);
  const bad = (prefix: string, bytes: number[], suffix = ''): Buffer =>
    Buffer.concat([Buffer.from(prefix), Buffer.from(bytes), Buffer.from(suffix)]);
  await assertImportFails(dataDir, 'csv', bad('a,b\n1,2\nok,', [0xff], '\n'), /not valid UTF-8: line 3 \(byte 11\)/);
  await assertImportFails(dataDir, 'csv', bad('a,b\n1,', [0xc3, 0x28], '\n'), /line 2/);
  await assertImportFails(dataDir, 'csv', bad('a,b\n1,2\n3,', [0xe2, 0x82]), /line 3/); // cut off by the end of the file
  const longPrefix = `a,b\n${'1234567,abcdefgh\n'.repeat(70_000)}`; // ~1.2 MB, more than one read chunk
  await assertImportFails(dataDir, 'csv', bad(longPrefix, [0xed, 0xa0, 0x80], ',x\n'), /line 70002 /); // a surrogate
  await assertImportFails(dataDir, 'ndjson', bad('{"a":1}\n{"a":"', [0xfe], '"}\n'), /NDJSON is not valid UTF-8: line 2/);
});

test('an empty upload, a BOM alone and blank NDJSON fail; a header alone is an empty dataset', async (t) => {
  const dataDir = await createDataDir(t);
  await assertImportFails(dataDir, 'csv', '', /the upload is empty/);
  await assertImportFails(dataDir, 'ndjson', '', /the upload is empty/);
  await assertImportFails(dataDir, 'csv', '\ufeff', /no header row/);
  await assertImportFails(dataDir, 'ndjson', '\n\n  \n', /no records/);
  await assertImportFails(dataDir, 'ndjson', '{}\n{}\n', /no keys/);
  const { result, rows } = await runImport(dataDir, 'csv', 'a,b\r\n');
  assert.deepEqual({ rows: result.rows, columns: result.columns }, { rows: 0, columns: [{ name: 'a', type: 'text' }, { name: 'b', type: 'text' }] });
  assert.match(result.warnings![0]!, /header row but no data rows/);
  assert.deepEqual(rows, []);
});

test('bad NDJSON lines fail with their line number', async (t) => {
  const dataDir = await createDataDir(t);
  await assertImportFails(dataDir, 'ndjson', '{"a":1}\n\n{"a":2,}\n', /^line 3 of the NDJSON is not valid JSON/);
  await assertImportFails(dataDir, 'ndjson', '{"a":1}\n[1,2]\n', /^line 2 of the NDJSON is not a JSON object$/);
  await assertImportFails(dataDir, 'ndjson', '{"a":1}\n"text"\n', /^line 2 of the NDJSON is not a JSON object$/);
});

test('CSV column types: canonical numbers only, integers exact up to 2^53−1, booleans, nulls', async (t) => {
  const dataDir = await createDataDir(t);
  const csv = [
    'int,mixed,real,bool,zip,huge,text_num,empty,quoted_empty_int,neg_zero',
    '1,1,1.50,true,007,9007199254740991,1,,"",-0',
    '-9007199254740991,2.5,-2e-3,FALSE,012,9007199254740992,abc,,7,0',
    '0,,1e5,True,100,,2,,,1',
  ].join('\n');
  const { result, rows } = await runImport(dataDir, 'csv', csv);
  assert.deepEqual(
    result.columns.map((column) => `${column.name}:${column.type}`),
    [
      'int:integer',
      'mixed:real',
      'real:real',
      'bool:boolean',
      'zip:text',
      'huge:text', // 2^53 is not exact in a double: the whole column stays text
      'text_num:text',
      'empty:text',
      'quoted_empty_int:integer', // "" is null outside text columns
      'neg_zero:text', // "-0" would lose its sign as a number
    ],
  );
  assert.deepEqual(rows, [
    [1, 1, 1.5, true, '007', '9007199254740991', '1', null, null, '-0'],
    [-9007199254740991, 2.5, -0.002, false, '012', '9007199254740992', 'abc', null, 7, '0'],
    [0, null, 100000, true, '100', null, '2', null, null, '1'],
  ]);
});

test('blank lines: skipped in a multi-column CSV, nulls in a one-column CSV', async (t) => {
  const dataDir = await createDataDir(t);
  const wide = await runImport(dataDir, 'csv', 'a,b\n1,2\n\n3,4\n\n');
  assert.deepEqual(wide.rows, [[1, 2], [3, 4]]);
  const narrow = await runImport(dataDir, 'csv', 'a\r\n1\r\n\r\n""\r\n3\r\n');
  assert.deepEqual(narrow.result.columns, [{ name: 'a', type: 'integer' }]);
  assert.deepEqual(narrow.rows, [[1], [null], [null], [3]]);
});

test('CSV header names are kept exactly; duplicates and empty names get a documented suffix', async (t) => {
  const dataDir = await createDataDir(t);
  const header = ['名前', ' spaced ', 'say "hi"', 'a', 'a', 'a_2', '', 'A', 'e\u0301', '\u00e9'];
  const csv = `${header.map((name) => `"${name.replaceAll('"', '""')}"`).join(',')}\n${header.map(() => 'x').join(',')}\n`;
  const { result } = await runImport(dataDir, 'csv', csv);
  assert.deepEqual(
    result.columns.map((column) => column.name),
    ['名前', ' spaced ', 'say "hi"', 'a', 'a_3', 'a_2', 'column_7', 'A', 'e\u0301', '\u00e9'],
  );
  assert.deepEqual(makeUniqueColumnNames(['x', 'x', 'x', 'x_2', 'x_3']), ['x', 'x_4', 'x_5', 'x_2', 'x_3']);
  assert.deepEqual(makeUniqueColumnNames(['column_2', '']), ['column_2', 'column_2_2']);
});

test('NDJSON: exact numbers, key order as written, nested values as JSON (type json), last duplicate key wins', async (t) => {
  const dataDir = await createDataDir(t);
  const ndjson = [
    '{"2":"two","1":"one","big":12345678901234567890,"real":1.0,"n":1,"nested":{"a":[1,2,{"b":"}"}]},"dup":1,"dup":2}',
    '   ',
    '{"n":2,"s":"123","esc":"tab\\there \\"q\\" \\u00e9 \\ud83d\\ude00","big":1}',
    '{"1":null,"n":3.5,"real":2,"flag":true}\r',
    '{"flag":false,"big":-1e999}',
  ].join('\n');
  const { result, rows } = await runImport(dataDir, 'ndjson', `${ndjson}\n`);
  assert.deepEqual(
    result.columns.map((column) => `${column.name}:${column.type}`),
    ['2:text', '1:text', 'big:text', 'real:real', 'n:real', 'nested:json', 'dup:integer', 's:text', 'esc:text', 'flag:boolean'],
  );
  assert.deepEqual(rows, [
    ['two', 'one', '12345678901234567890', 1, 1, '{"a":[1,2,{"b":"}"}]}', 2, null, null, null],
    [null, null, '1', null, 2, null, null, '123', 'tab\there "q" é 😀', null],
    [null, null, null, 2, 3.5, null, null, null, null, true],
    [null, null, '-1e999', null, null, null, null, null, null, false],
  ]);
});

test('progress is in bytes of the upload: its total is the file size, both passes lead to it once', async (t) => {
  const dataDir = await createDataDir(t);
  const csv = `a,b\n${'1,hello\n'.repeat(300_000)}`; // 2.4 MB: several read chunks
  const { ctx, result } = await runImport(dataDir, 'csv', csv);
  assert.equal(result.rows, 300_000);
  const total = Buffer.byteLength(csv);
  assert.ok(ctx.progressCalls.length > 2);
  assert.ok(ctx.progressCalls.every((call) => call.total === total));
  const dones = ctx.progressCalls.map((call) => call.done);
  assert.deepEqual(dones, [...dones].sort((a, b) => a - b), 'monotonic');
  assert.equal(dones.at(-1), total);
  const halfway = dones.findIndex((done) => done >= total / 2);
  assert.ok(halfway > 0 && halfway < dones.length - 1, 'the first pass (validation) ends about half way');
});

test('an aborted import throws and leaves no dataset file behind', async (t) => {
  const dataDir = await createDataDir(t);
  const datasetId = randomUUID();
  await writeUpload(dataDir, datasetId, `a,b\n${'1,hello\n'.repeat(400_000)}`);
  for (const abortAfterCalls of [1, 6]) { // during the first pass, then during the second
    const ctx = createJobContext(dataDir);
    const progress = ctx.progress;
    ctx.progress = (done, total) => {
      progress(done, total);
      if (ctx.progressCalls.length === abortAfterCalls) ctx.controller.abort('cancelled');
    };
    await assert.rejects(
      importDataset({ dataset_id: datasetId, content_type: 'csv' }, ctx),
      { name: 'AbortError' },
    );
    assert.deepEqual(await readdir(path.join(dataDir, 'datasets')).catch(() => []), []);
  }
});

test('payloads are validated before any file is touched', async (t) => {
  const dataDir = await createDataDir(t);
  const good = { dataset_id: randomUUID(), content_type: 'csv' };
  const cases: [unknown, RegExp][] = [
    [null, /payload must be an object/],
    [{ ...good, dataset_id: '../../etc/passwd' }, /dataset_id must be a UUID/],
    [{ ...good, max_record_bytes: 0 }, /max_record_bytes must be a positive integer/],
    [{ ...good, content_type: 'xml' }, /content_type must be one of csv, ndjson/],
    [good, /the uploaded file is missing/],
  ];
  for (const [payload, message] of cases) {
    await assert.rejects(importDataset(payload, createJobContext(dataDir)), { code: 'invalid_payload', message });
  }
});

test('a retried import replaces the temporary file of a killed attempt', async (t) => {
  const dataDir = await createDataDir(t);
  const datasetId = randomUUID();
  await writeUpload(dataDir, datasetId, 'a\n1\n');
  await mkdir(path.join(dataDir, 'datasets'), { recursive: true });
  await writeFile(path.join(dataDir, 'datasets', `${datasetId}.sqlite.import-1.tmp`), 'half written');
  const result = await importDataset(
    { dataset_id: datasetId, content_type: 'csv' },
    createJobContext(dataDir, { attempt: 2 }),
  );
  assert.equal(result.rows, 1);
  assert.deepEqual(await readdir(path.join(dataDir, 'datasets')), [`${datasetId}.sqlite`]);
});
