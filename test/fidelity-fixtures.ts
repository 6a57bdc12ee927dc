// A small dataset with every column type offload has — dates, timestamps with and without a zone offset, nullable
// and non-null integers, reals, booleans, text, nested JSON and R-style `NA` nulls — and what each format must
// hold after an export, cell by cell, with its native type.
import assert from 'node:assert/strict';
import { parse as parseCsv } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import { parquetMetadata, parquetRead } from 'hyparquet';
import type { TestServer } from './helpers.js';

/** The palmerpenguins-like upload: `NA` is the null token, dates and timestamps in several ISO-8601 forms. */
export const FIDELITY_CSV = [
  'id,maybe_id,species,bill_mm,flag,day,seen_at,logged_at,note',
  '1,10,Adelie,39.1,true,2014-01-01,2001-01-01 17:06:00,2001-01-01T17:06:00Z,plain',
  '2,NA,Gentoo,NA,false,2014-02-28,2001-01-01T17:06:00.5,2001-01-01T19:06:00.123456+02:00,"a, ""b"""',
  '3,30,Chinstrap,40.25,NA,NA,NA,2001-01-01 17:06-05:00,NA',
  '',
].join('\r\n');

const NESTED = [['a', 'b'], { k: 1, deep: { list: [1, 2.5, null, true] } }, null] as const;

/** The same rows as NDJSON, plus a nested column (arrays and objects) and a big integer inside it. */
export const FIDELITY_NDJSON = [
  '{"id":1,"maybe_id":10,"species":"Adelie","bill_mm":39.1,"flag":true,"day":"2014-01-01","seen_at":"2001-01-01 17:06:00","logged_at":"2001-01-01T17:06:00Z","note":"plain","nested":["a","b"]}',
  '{"id":2,"maybe_id":"NA","species":"Gentoo","bill_mm":"NA","flag":false,"day":"2014-02-28","seen_at":"2001-01-01T17:06:00.5","logged_at":"2001-01-01T19:06:00.123456+02:00","note":"a, \\"b\\"","nested":{"k":1,"deep":{"list":[1,2.5,null,true]}}}',
  '{"id":3,"maybe_id":30,"species":"Chinstrap","bill_mm":40.25,"flag":"NA","day":"NA","seen_at":"NA","logged_at":"2001-01-01 17:06-05:00","note":"NA","nested":null}',
  '',
].join('\n');

export interface ExpectedColumn {
  name: string;
  type: string;
  timezone?: 'UTC' | null;
  nullable: boolean;
}

export const EXPECTED_COLUMNS: ExpectedColumn[] = [
  { name: 'id', type: 'integer', nullable: false },
  { name: 'maybe_id', type: 'integer', nullable: true },
  { name: 'species', type: 'text', nullable: false },
  { name: 'bill_mm', type: 'real', nullable: true },
  { name: 'flag', type: 'boolean', nullable: true },
  { name: 'day', type: 'date', nullable: true },
  { name: 'seen_at', type: 'timestamp', timezone: null, nullable: true },
  { name: 'logged_at', type: 'timestamp', timezone: 'UTC', nullable: false },
  { name: 'note', type: 'text', nullable: true },
];
export const EXPECTED_NDJSON_COLUMNS: ExpectedColumn[] = [...EXPECTED_COLUMNS, { name: 'nested', type: 'json', nullable: true }];

/** Cells as the ISO-8601 text a text format writes; nested values as JS values. */
export const EXPECTED_ROWS: unknown[][] = [
  [1, 10, 'Adelie', 39.1, true, '2014-01-01', '2001-01-01T17:06:00', '2001-01-01T17:06:00Z', 'plain', NESTED[0]],
  [2, null, 'Gentoo', null, false, '2014-02-28', '2001-01-01T17:06:00.5', '2001-01-01T17:06:00.123456Z', 'a, "b"', NESTED[1]],
  [3, 30, 'Chinstrap', 40.25, null, null, null, '2001-01-01T22:06:00Z', null, NESTED[2]],
];

export function documentColumns(expected: readonly ExpectedColumn[]): object[] {
  return expected.map(({ name, type, timezone }) => (type === 'timestamp' ? { name, type, timezone } : { name, type }));
}

/** Uploads, waits until the dataset is ready, and returns its document. */
export async function uploadDataset(server: TestServer, query: string, contentType: string, body: string | Buffer): Promise<any> {
  const res = await server.request('POST', `/datasets?${query}`, { rawBody: body, headers: { 'content-type': contentType } });
  assert.equal(res.status, 202, res.text);
  await server.waitForJob(res.body.job_id);
  const dataset = await server.request('GET', `/datasets/${res.body.id}`);
  assert.equal(dataset.body.status, 'ready', JSON.stringify(dataset.body));
  return dataset.body;
}

/** Exports through the API, waits for it, and downloads the file. */
export async function exportAndDownload(server: TestServer, body: Record<string, unknown>): Promise<{ bytes: Buffer; job: any }> {
  const created = await server.request('POST', '/exports', { body });
  assert.equal(created.status, 202, created.text);
  const job = await server.waitForJob(created.body.job_id);
  assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
  const res = await fetch(`${server.url}/exports/${created.body.job_id}/download`);
  assert.equal(res.status, 200);
  return { bytes: Buffer.from(await res.arrayBuffer()), job };
}

/** The cell a text format (CSV, XLSX text) holds for a value: JSON text for nested values. */
function asText(value: unknown): unknown {
  return value !== null && typeof value === 'object' ? JSON.stringify(value) : value;
}

export function checkCsv(bytes: Buffer, columns: readonly ExpectedColumn[]): void {
  const records = parseCsv(bytes, { cast: (value, context) => ({ value, quoted: context.quoting }) }) as unknown as { value: string; quoted: boolean }[][];
  const [header, ...rows] = records;
  assert.deepEqual(header!.map((cell) => cell.value), columns.map((column) => column.name));
  rows.forEach((row, r) =>
    row.forEach(({ value, quoted }, c) => {
      const expected = EXPECTED_ROWS[r]![c];
      if (expected === null) return assert.ok(value === '' && !quoted, `csv ${r}/${c} is an empty unquoted field`);
      const type = columns[c]!.type;
      if (type === 'integer' || type === 'real') assert.equal(Number(value), expected);
      else if (type === 'boolean') assert.equal(value, String(expected));
      else if (type === 'json') assert.deepEqual(JSON.parse(value), expected, 'nested values are JSON text');
      else assert.equal(value, asText(expected), `csv ${r}/${c}`);
    }),
  );
}

export function checkNdjsonObjects(objects: Record<string, unknown>[], columns: readonly ExpectedColumn[]): void {
  assert.equal(objects.length, EXPECTED_ROWS.length);
  objects.forEach((object, r) => {
    assert.deepEqual(Object.keys(object), columns.map((column) => column.name));
    columns.forEach((column, c) => assert.deepEqual(object[column.name], EXPECTED_ROWS[r]![c], `${column.name} of row ${r}`));
  });
}

/** Excel's serial day number of a UTC instant, as exceljs reads it back (a Date of that wall clock in UTC). */
function utcDate(iso: string): Date {
  return new Date(/Z$|[+-]\d\d:\d\d$/.test(iso) || iso.length === 10 ? iso : `${iso}Z`);
}

/** Microseconds since the epoch of an ISO-8601 text (UTC when it has no offset), exactly. */
function isoMicros(iso: string): bigint {
  const fraction = /\.(\d+)/.exec(iso)?.[1] ?? '';
  const seconds = BigInt(Math.floor(utcDate(iso.replace(/\.\d+/, '')).getTime() / 1000));
  return seconds * 1_000_000n + BigInt(fraction.padEnd(6, '0') || '0');
}

export async function checkXlsx(bytes: Buffer, columns: readonly ExpectedColumn[]): Promise<void> {
  const xml = await sheetXml(bytes);
  assert.doesNotMatch(xml, /t="str"/, 'no formula-result string cells');
  assert.match(xml, /t="inlineStr"/, 'text is written as inline strings, as docs/formats.md says');
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.load(bytes as unknown as ArrayBuffer);
  const sheet = workbook.getWorksheet('data')!;
  assert.deepEqual(columns.map((_column, i) => sheet.getRow(1).getCell(i + 1).text), columns.map((column) => column.name));
  EXPECTED_ROWS.forEach((row, r) => {
    columns.forEach((column, c) => {
      const cell = sheet.getRow(r + 2).getCell(c + 1);
      const expected = row[c];
      const where = `xlsx ${column.name} of row ${r}`;
      if (expected === null) return assert.equal(cell.type, ExcelJS.ValueType.Null, where);
      switch (column.type) {
        case 'integer':
        case 'real':
          assert.equal(cell.type, ExcelJS.ValueType.Number, where);
          return assert.equal(cell.value, expected, where);
        case 'boolean':
          assert.equal(cell.type, ExcelJS.ValueType.Boolean, where);
          return assert.equal(cell.value, expected, where);
        case 'date':
        case 'timestamp':
          assert.equal(cell.type, ExcelJS.ValueType.Date, where);
          assert.match(cell.numFmt, column.type === 'date' ? /^yyyy-mm-dd$/ : /^yyyy-mm-dd hh:mm:ss/, where);
          // Excel keeps milliseconds at best.
          return assert.equal((cell.value as Date).getTime(), Math.floor(utcDate(expected as string).getTime()), where);
        default:
          assert.equal(cell.text, asText(expected), where);
      }
    });
  });
}

async function sheetXml(bytes: Buffer): Promise<string> {
  const { default: JSZip } = await import('jszip');
  const zip = await JSZip.loadAsync(bytes);
  return zip.file('xl/worksheets/sheet1.xml')!.async('string');
}

const PARQUET_TYPES: Record<string, object> = {
  integer: { type: 'INT64' },
  real: { type: 'DOUBLE' },
  boolean: { type: 'BOOLEAN' },
  text: { type: 'BYTE_ARRAY', logical_type: { type: 'STRING' } },
  date: { type: 'INT32', logical_type: { type: 'DATE' } },
  json: { type: 'BYTE_ARRAY', logical_type: { type: 'JSON' } },
};

export function parquetFile(bytes: Buffer): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

export async function checkParquet(bytes: Buffer, columns: readonly ExpectedColumn[], compressors?: object): Promise<void> {
  const file = parquetFile(bytes);
  const metadata = parquetMetadata(file);
  assert.match(metadata.created_by ?? '', /^offload \d+\.\d+\.\d+ \(hyparquet-writer \d+\.\d+\.\d+\)$/);
  metadata.schema.slice(1).forEach((element, i) => {
    const column = columns[i]!;
    assert.equal(element.name, column.name);
    assert.equal(element.repetition_type, column.nullable ? 'OPTIONAL' : 'REQUIRED', `${column.name} repetition`);
    const expected =
      column.type === 'timestamp'
        ? { type: 'INT64', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: column.timezone === 'UTC', unit: 'MICROS' } }
        : PARQUET_TYPES[column.type]!;
    for (const [key, value] of Object.entries(expected)) assert.deepEqual(element[key as keyof typeof element], value, `${column.name} ${key}`);
  });
  const rows = await new Promise<unknown[][]>((resolve, reject) => {
    // Exact physical values: days for DATE, microseconds for TIMESTAMP (hyparquet's Date would round to ms).
    const parsers = { dateFromDays: (days: number) => days, timestampFromMicroseconds: (micros: bigint) => micros };
    parquetRead({ file, compressors, parsers, rowFormat: 'array', onComplete: (data: unknown[][]) => resolve(data) } as never).catch(reject);
  });
  rows.forEach((row, r) =>
    columns.forEach((column, c) => {
      const expected = EXPECTED_ROWS[r]![c];
      const actual = row[c];
      const where = `parquet ${column.name} of row ${r}`;
      if (expected === null) return assert.ok(actual === null || actual === undefined, where);
      if (column.type === 'integer') return assert.equal(actual, BigInt(expected as number), where);
      if (column.type === 'date') return assert.equal(actual, utcDate(expected as string).getTime() / 86_400_000, where);
      if (column.type === 'timestamp') return assert.equal(actual, isoMicros(expected as string), where);
      if (column.type === 'json') return assert.deepEqual(JSON.parse(actual as string), expected, where);
      assert.equal(actual, expected, where);
    }),
  );
}
