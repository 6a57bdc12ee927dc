// Issue 15: a dataset with every column type round-trips through every format over the real API, read back by
// independent readers (csv-parse, exceljs, hyparquet) that check the native type of each cell, not only its value.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as zlib from 'node:zlib';
import { startTestServer, type TestServer } from './helpers.js';
import {
  checkCsv,
  checkNdjsonObjects,
  checkParquet,
  checkXlsx,
  documentColumns,
  EXPECTED_COLUMNS,
  EXPECTED_NDJSON_COLUMNS,
  exportAndDownload,
  FIDELITY_CSV,
  FIDELITY_NDJSON,
  type ExpectedColumn,
} from './fidelity-fixtures.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.close());

const SOURCES = [
  { label: 'CSV', contentType: 'text/csv', body: FIDELITY_CSV, columns: EXPECTED_COLUMNS },
  { label: 'NDJSON', contentType: 'application/x-ndjson', body: FIDELITY_NDJSON, columns: EXPECTED_NDJSON_COLUMNS },
];

/** hyparquet reads Snappy itself; the other codecs through node:zlib. */
const PARQUET_READ_COMPRESSORS = {
  GZIP: (input: Uint8Array) => new Uint8Array(zlib.gunzipSync(input)),
  ...(typeof (zlib as { zstdDecompressSync?: unknown }).zstdDecompressSync === 'function'
    ? { ZSTD: (input: Uint8Array) => new Uint8Array((zlib as unknown as { zstdDecompressSync(b: Uint8Array): Buffer }).zstdDecompressSync(input)) }
    : {}),
};

for (const source of SOURCES) {
  describe(`a ${source.label} upload with every column type`, () => {
    let dataset: any;
    before(async () => {
      const res = await server.request('POST', '/datasets?name=fidelity&null=NA', { rawBody: source.body, headers: { 'content-type': source.contentType } });
      assert.equal(res.status, 202, res.text);
      await server.waitForJob(res.body.job_id);
      dataset = (await server.request('GET', `/datasets/${res.body.id}`)).body;
    });

    test('imports with the inferred types, zones stated, and the import options reported', () => {
      assert.equal(dataset.status, 'ready', JSON.stringify(dataset.error));
      assert.equal(dataset.rows, 3);
      assert.deepEqual(dataset.columns, documentColumns(source.columns));
      assert.deepEqual(dataset.warnings, []);
      assert.deepEqual(dataset.import, {
        format: source.label.toLowerCase(),
        delimiter: source.label === 'CSV' ? ',' : null,
        charset: 'utf-8',
        null_tokens: ['NA'],
      });
    });

    const check = async (format: string, columns: readonly ExpectedColumn[], extra: Record<string, unknown> = {}): Promise<Buffer> => {
      const { bytes } = await exportAndDownload(server, { dataset_id: dataset.id, format, ...extra });
      switch (format) {
        case 'csv':
          checkCsv(bytes, columns);
          break;
        case 'ndjson':
          checkNdjsonObjects(bytes.toString('utf8').trimEnd().split('\n').map((line) => JSON.parse(line)), columns);
          break;
        case 'json':
          checkNdjsonObjects(JSON.parse(bytes.toString('utf8')), columns);
          break;
        case 'xlsx':
          await checkXlsx(bytes, columns);
          break;
        case 'parquet':
          await checkParquet(bytes, columns, PARQUET_READ_COMPRESSORS);
          break;
      }
      return bytes;
    };

    for (const format of ['csv', 'ndjson', 'json', 'xlsx', 'parquet']) {
      test(`${format}: every cell keeps its value and its native type`, async () => {
        await check(format, source.columns);
      });
    }

    test('parquet: each codec the writer supports, and REQUIRED only where a selected column has no nulls', async () => {
      for (const codec of ['none', 'gzip', ...('ZSTD' in PARQUET_READ_COMPRESSORS ? ['zstd'] : [])]) {
        await check('parquet', source.columns, { parquet_codec: codec });
      }
      const picked = ['logged_at', 'id', 'maybe_id'];
      const { bytes } = await exportAndDownload(server, { dataset_id: dataset.id, format: 'parquet', columns: picked });
      const { parquetMetadata } = await import('hyparquet');
      const metadata = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
      assert.deepEqual(metadata.schema.slice(1).map((e) => [e.name, e.repetition_type]), [['logged_at', 'REQUIRED'], ['id', 'REQUIRED'], ['maybe_id', 'OPTIONAL']]);
    });
  });
}

test('NDJSON → NDJSON keeps nested values as JSON, equal by value, big integers to the digit', async () => {
  const line = '{"id":1,"tags":["x",{"y":[1,2]}],"obj":{"1":"one","b":12345678901234567890,"e":1.0},"n":null}\n{"id":2,"tags":[],"obj":{},"n":{"z":null}}\n';
  const res = await server.request('POST', '/datasets?name=nested', { rawBody: line, headers: { 'content-type': 'application/x-ndjson' } });
  await server.waitForJob(res.body.job_id);
  const dataset = (await server.request('GET', `/datasets/${res.body.id}`)).body;
  assert.deepEqual(dataset.columns.map((c: any) => `${c.name}:${c.type}`), ['id:integer', 'tags:json', 'obj:json', 'n:json']);
  const { bytes } = await exportAndDownload(server, { dataset_id: dataset.id, format: 'ndjson' });
  const out = bytes.toString('utf8');
  assert.deepEqual(out.trimEnd().split('\n').map((l) => JSON.parse(l)), line.trimEnd().split('\n').map((l) => JSON.parse(l)));
  assert.ok(out.includes('12345678901234567890'), 'the big integer keeps every digit');
  assert.ok(out.includes('{"1":"one","b"'), 'key order as written');
});
