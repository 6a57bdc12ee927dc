// The export job kind: validation codes, abort and retry leave no partial file, empty datasets, XLSX sheet
// roll-over, download names, and memory that does not grow with the dataset.
import { after, before, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import ExcelJS from 'exceljs';
import { parquetMetadata } from 'hyparquet';
import exportDataset from '../workers/export.js';
import { createDatasetFile, type CellValue, type DatasetColumn } from '../workers/datasets/dataset-file.js';
import { EXPORT_FORMAT_NAMES, type ExportFormatName } from '../src/contracts/export-contract.js';
import { createXlsxWriter } from '../workers/formats/xlsx.js';
import { createDownloadName } from '../workers/exports/download-name.js';
import { createDataDir, createJobContext } from './format-fixtures.js';

const FORMATS: readonly ExportFormatName[] = EXPORT_FORMAT_NAMES;

const COLUMNS: DatasetColumn[] = [
  { name: 'id', type: 'integer' },
  { name: 'label', type: 'text' },
  { name: 'amount', type: 'real' },
  { name: 'ok', type: 'boolean' },
];

function writeDataset(dataDir: string, rowCount: number, makeRow: (i: number) => CellValue[], columns = COLUMNS): string {
  const datasetId = randomUUID();
  const writer = createDatasetFile(dataDir, datasetId, columns, 'test');
  for (let start = 0; start < rowCount; start += 10_000) {
    const batch: CellValue[][] = [];
    for (let i = start; i < Math.min(rowCount, start + 10_000); i++) batch.push(makeRow(i));
    writer.insertRows(batch);
  }
  writer.finish();
  return datasetId;
}

const simpleRow = (i: number): CellValue[] => [i, `label ${i}`, i / 4, i % 2 === 0];

async function exportFiles(dataDir: string): Promise<string[]> {
  return readdir(path.join(dataDir, 'exports')).catch(() => []);
}

test('validation failures carry the job error codes', async (t) => {
  const dataDir = await createDataDir(t);
  const datasetId = writeDataset(dataDir, 3, simpleRow);
  const cases: [unknown, string, RegExp][] = [
    [{ dataset_id: randomUUID(), format: 'csv' }, 'dataset_not_found', /does not exist/],
    [{ dataset_id: datasetId, format: 'xml' }, 'unsupported_format', /format "xml" is not supported; use one of csv, ndjson, json, xlsx, parquet/],
    [{ dataset_id: datasetId, format: 'CSV' }, 'unsupported_format', /not supported/],
    [{ dataset_id: datasetId }, 'invalid_payload', /format is required/],
    [{ dataset_id: 'nope', format: 'csv' }, 'invalid_payload', /dataset_id must be a UUID/],
    [{ dataset_id: datasetId, format: 'csv', columns: ['id', 'missing', 'also missing'] }, 'invalid_payload', /no column "missing", "also missing"/],
    [{ dataset_id: datasetId, format: 'csv', columns: [] }, 'invalid_payload', /non-empty array/],
    [{ dataset_id: datasetId, format: 'csv', columns: ['id', 'id'] }, 'invalid_payload', /twice/],
    [{ dataset_id: datasetId, format: 'csv', compression: 'brotli' }, 'invalid_payload', /compression must be one of none, gzip/],
    [{ dataset_id: datasetId, format: 'csv', filename_base: 7 }, 'invalid_payload', /filename_base must be a string/],
    [{ dataset_id: datasetId, format: 'parquet', compression: 'gzip' }, 'invalid_payload', /Parquet readers cannot open; use parquet_codec gzip/],
    [{ dataset_id: datasetId, format: 'parquet', parquet_codec: 'lz4' }, 'invalid_payload', /parquet_codec must be one of snappy, zstd, gzip, none/],
    [{ dataset_id: datasetId, format: 'csv', parquet_codec: 'gzip' }, 'invalid_payload', /parquet_codec applies to parquet exports only/],
    ['csv', 'invalid_payload', /payload must be an object/],
  ];
  for (const [payload, code, message] of cases) {
    await assert.rejects(exportDataset(payload, createJobContext(dataDir)), { code, message });
  }
  assert.deepEqual(await exportFiles(dataDir), []);
});

test('an export aborted through its signal leaves no file, temporary or final', async (t) => {
  const dataDir = await createDataDir(t);
  const datasetId = writeDataset(dataDir, 20_000, simpleRow);
  for (const format of FORMATS) {
    for (const compression of format === 'parquet' ? (['none'] as const) : (['none', 'gzip'] as const)) {
      const ctx = createJobContext(dataDir);
      const progress = ctx.progress;
      ctx.progress = (done, total) => {
        progress(done, total);
        if (done >= 5000) ctx.controller.abort('cancelled');
      };
      await assert.rejects(exportDataset({ dataset_id: datasetId, format, compression }, ctx), {
        name: 'AbortError',
      });
      assert.equal(ctx.progressCalls.at(-1)!.done, 5000, `${format} stopped at the batch that saw the abort`);
      assert.deepEqual(await exportFiles(dataDir), [], `${format}/${compression}`);
    }
  }
});

test('a retried export removes what a killed attempt left and writes the whole file', async (t) => {
  const dataDir = await createDataDir(t);
  const datasetId = writeDataset(dataDir, 2500, simpleRow);
  const jobId = randomUUID();
  await mkdir(path.join(dataDir, 'exports'), { recursive: true });
  await writeFile(path.join(dataDir, 'exports', `${jobId}.csv.attempt-1.tmp`), 'id,label\r\n1,half');
  const result = await exportDataset({ dataset_id: datasetId, format: 'csv' }, createJobContext(dataDir, { jobId, attempt: 2 }));
  assert.deepEqual(await exportFiles(dataDir), [`${jobId}.csv`]);
  const text = await readFile(path.join(dataDir, result.file), 'utf8');
  assert.equal(text.split('\r\n').length, 2500 + 2); // header, rows, and the empty string after the last CRLF
  assert.equal(result.content_type, 'text/csv; charset=utf-8');
});

test('an empty dataset exports as a valid, empty document in every format', async (t) => {
  const dataDir = await createDataDir(t);
  const datasetId = writeDataset(dataDir, 0, simpleRow);
  for (const format of FORMATS) {
    const ctx = createJobContext(dataDir);
    const result = await exportDataset({ dataset_id: datasetId, format }, ctx);
    assert.equal(result.rows, 0);
    assert.deepEqual(ctx.progressCalls.at(-1), { done: 0, total: 0 });
    const bytes = await readFile(path.join(dataDir, result.file));
    switch (format) {
      case 'csv':
        assert.equal(bytes.toString(), 'id,label,amount,ok\r\n');
        break;
      case 'ndjson':
        assert.equal(bytes.length, 0);
        break;
      case 'json':
        assert.deepEqual(JSON.parse(bytes.toString()), []);
        break;
      case 'xlsx': {
        const workbook = new ExcelJS.Workbook();
        await workbook.xlsx.load(bytes as unknown as ArrayBuffer);
        assert.deepEqual([1, 2, 3, 4].map((i) => workbook.getWorksheet('data')!.getRow(1).getCell(i).text), ['id', 'label', 'amount', 'ok']);
        assert.equal(workbook.getWorksheet('data')!.rowCount, 1);
        break;
      }
      case 'parquet': {
        const metadata = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer);
        assert.equal(metadata.num_rows, 0n);
        assert.deepEqual(metadata.schema.slice(1).map((element) => element.name), ['id', 'label', 'amount', 'ok']);
        break;
      }
    }
  }
});

test('XLSX continues on a new sheet, with the header again, when a sheet is full', async () => {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise((resolve) => out.on('end', resolve));
  const writer = createXlsxWriter(COLUMNS, out, { maxRowsPerSheet: 4 });
  const rows = Array.from({ length: 7 }, (_unused, i) => simpleRow(i));
  await writer.writeRows(rows.slice(0, 5));
  await writer.writeRows(rows.slice(5));
  await writer.end();
  await ended;
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.load(Buffer.concat(chunks) as unknown as ArrayBuffer);
  assert.deepEqual(workbook.worksheets.map((sheet) => sheet.name), ['data', 'data 2', 'data 3']);
  const read = workbook.worksheets.map((sheet) => {
    const values: unknown[][] = [];
    // Text comes back as inline strings: one run of rich text each.
    const plain = (value: unknown) => (value && typeof value === 'object' && 'richText' in value ? (value as ExcelJS.CellRichTextValue).richText.map((run) => run.text).join('') : value);
    sheet.eachRow((row) => values.push((row.values as unknown[]).slice(1).map(plain)));
    return values;
  });
  const header = COLUMNS.map((column) => column.name);
  assert.deepEqual(read, [
    [header, ...rows.slice(0, 3)],
    [header, ...rows.slice(3, 6)],
    [header, ...rows.slice(6)],
  ]);
});

test('download names are sanitised and fall back to the dataset id', () => {
  const id = '0b7d4f4e-3c1a-4f5e-9a77-2d1e6f0c9b21';
  assert.equal(createDownloadName('Sales 2024', id, 'csv'), 'Sales 2024.csv');
  assert.equal(createDownloadName('sales.csv', id, 'xlsx'), 'sales.xlsx');
  assert.equal(createDownloadName('../../etc/passwd', id, 'json'), '_.._etc_passwd.json');
  assert.equal(createDownloadName('a\r\nb"c\u202egpj.exe', id, 'csv.gz'), 'a b_cgpj.exe.csv.gz');
  assert.equal(createDownloadName('  ...  ', id, 'csv'), `${id}.csv`);
  assert.equal(createDownloadName(undefined, id, 'parquet'), `${id}.parquet`);
  assert.equal(createDownloadName('CON', id, 'csv'), '_CON.csv');
  assert.equal(createDownloadName('données 😀', id, 'csv'), 'données 😀.csv');
  assert.equal(Array.from(createDownloadName('é'.repeat(300), id, 'csv')).length, 104);
});

/** Texts of `length` characters that deflate cannot shrink much; seeded, so every run is the same. */
function createTextPool(count: number, length: number): string[] {
  let state = 42;
  const alphabet = 'abcdefghijklmnopqrstuvwxyzéàü €,"\n';
  return Array.from({ length: count }, () => {
    let text = '';
    for (let i = 0; i < length; i++) {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      text += alphabet[state % alphabet.length];
    }
    return text;
  });
}

describe('a 200,000-row export keeps memory flat', () => {
  let dataDir = '';
  let datasetId = '';
  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'offload-memory-'));
    // ~1 KB of poorly compressible text per row: the dataset holds ~200 MB of values, so holding a good part of
    // it (as the XLSX writer did before it waited for its zip stream: +290 MB) shows. The pool's texts repeat
    // only 1 MB apart, beyond what deflate can see.
    const texts = createTextPool(1000, 1000);
    datasetId = writeDataset(dataDir, 200_000, (i) => [i, `${texts[i % 1000]}${i}`, i / 3, i % 3 === 0 ? null : i % 2 === 0]);
  });
  after(() => rm(dataDir, { recursive: true, force: true }));

  // RSS also counts garbage that V8 has not collected yet, so it is only a loose check; what must not grow with the
  // dataset is the memory still alive after a full collection, sampled every 20,000 rows.
  for (const format of FORMATS) {
    it(format, async (t) => {
      collectGarbage();
      const rssBefore = process.memoryUsage.rss();
      const liveBefore = liveBytes();
      let rssPeak = rssBefore;
      let livePeak = liveBefore;
      const ctx = createJobContext(dataDir);
      const progress = ctx.progress;
      ctx.progress = (done, total) => {
        progress(done, total);
        rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
        if (done % 20_000 === 0 && done > 0) {
          collectGarbage();
          livePeak = Math.max(livePeak, liveBytes());
        }
      };
      const result = await exportDataset({ dataset_id: datasetId, format }, ctx);
      assert.equal(result.rows, 200_000);
      const liveMb = (livePeak - liveBefore) / 2 ** 20;
      const rssMb = (rssPeak - rssBefore) / 2 ** 20;
      t.diagnostic(`live memory growth ${liveMb.toFixed(0)} MB, peak RSS growth ${rssMb.toFixed(0)} MB`);
      assert.ok(liveMb < 64, `live memory grew by ${liveMb.toFixed(0)} MB`);
      assert.ok(rssMb < 250, `RSS grew by ${rssMb.toFixed(0)} MB`);
    });
  }
});

function liveBytes(): number {
  const { heapUsed, external } = process.memoryUsage();
  return heapUsed + external; // external includes the Buffers streams hold
}

// The usual way to reach gc() without starting node with --expose-gc.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;
