// Round trips: a nasty upload (CSV and NDJSON) → import → export in every format, with and without gzip → read
// back by an independent reader → every cell equals the source.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parse as parseCsv } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import { parquetMetadata, parquetRead } from 'hyparquet';
import importDataset from '../workers/import.js';
import exportDataset from '../workers/export.js';
import type { ExportFormatName, ExportResult } from '../src/contracts/export-contract.js';
import { openDatasetForReading, type CellValue, type DatasetColumn } from '../workers/datasets/dataset-file.js';
import { unescapeXlsxText } from '../workers/formats/xlsx.js';
import {
  createDataDir,
  createJobContext,
  createNastyRows,
  NASTY_COLUMNS,
  toNastyCsv,
  toNastyNdjson,
  writeUpload,
} from './format-fixtures.js';

const ROWS = createNastyRows(240);

interface Table {
  header: string[];
  rows: CellValue[][];
}

type Reader = (bytes: Buffer, columns: readonly DatasetColumn[]) => Promise<Table>;

function readCsv(bytes: Buffer, columns: readonly DatasetColumn[]): Promise<Table> {
  const text = bytes.toString('utf8');
  assert.ok(!text.startsWith('\ufeff'), 'no BOM');
  assert.ok(text.endsWith('\r\n'), 'records end with CRLF');
  // csv-parse tells a quoted empty field ("" → the empty string) from an unquoted one (null).
  const records = parseCsv(bytes, {
    relax_column_count: false,
    cast: (value, context) => ({ value, quoted: context.quoting }),
  }) as unknown as { value: string; quoted: boolean }[][];
  const [header, ...rows] = records;
  return Promise.resolve({
    header: header!.map((cell) => cell.value),
    rows: rows.map((record) =>
      record.map(({ value, quoted }, i) => {
        if (value === '' && !quoted) return null;
        switch (columns[i]!.type) {
          case 'integer':
            assert.match(value, /^-?\d+$/);
            return Number(value);
          case 'real':
            return Number(value);
          case 'boolean':
            assert.ok(value === 'true' || value === 'false', `boolean written as ${value}`);
            return value === 'true';
          default:
            return value;
        }
      }),
    ),
  });
}

function objectsToTable(objects: Record<string, CellValue>[], columns: readonly DatasetColumn[]): Table {
  const header = columns.map((column) => column.name);
  return {
    header,
    rows: objects.map((object) => {
      assert.deepEqual(Object.keys(object).sort(), [...header].sort());
      return header.map((name) => object[name]!);
    }),
  };
}

const READERS: Record<ExportFormatName, Reader> = {
  csv: readCsv,
  async ndjson(bytes, columns) {
    const text = bytes.toString('utf8');
    assert.ok(text.endsWith('\n'));
    const lines = text.slice(0, -1).split('\n');
    return objectsToTable(
      lines.map((line) => JSON.parse(line) as Record<string, CellValue>),
      columns,
    );
  },
  async json(bytes, columns) {
    const parsed = JSON.parse(bytes.toString('utf8')) as Record<string, CellValue>[];
    assert.ok(Array.isArray(parsed));
    return objectsToTable(parsed, columns);
  },
  async xlsx(bytes, columns) {
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load(bytes as unknown as ArrayBuffer);
    const sheet = workbook.getWorksheet('data');
    assert.ok(sheet, 'a sheet named data');
    const cellValue = (value: ExcelJS.CellValue): CellValue => {
      if (value === null || value === undefined) return null;
      if (typeof value === 'string') return unescapeXlsxText(value);
      // Inline strings come back as one run of rich text, its ST_Xstring escapes decoded by exceljs.
      if (typeof value === 'object' && 'richText' in value) return value.richText.map((run) => run.text).join('');
      if (typeof value === 'number' || typeof value === 'boolean') return value;
      throw new Error(`unexpected cell value ${JSON.stringify(value)}`);
    };
    const table: CellValue[][] = [];
    sheet.eachRow({ includeEmpty: true }, (row) => {
      table.push(columns.map((_column, i) => cellValue(row.getCell(i + 1).value)));
    });
    const [header, ...rows] = table;
    return { header: header as string[], rows };
  },
  async parquet(bytes, columns) {
    const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const metadata = parquetMetadata(file);
    const leaves = metadata.schema.slice(1);
    // A column without nulls is REQUIRED: here only the id, and the header-only `name` columns of the fixture never are.
    assert.deepEqual(
      leaves.map((element) => [element.name, element.type, element.repetition_type]),
      columns.map((column) => [column.name, PARQUET_TYPES[column.type as keyof typeof PARQUET_TYPES], column.name === 'id' || column.name === 'שם' ? 'REQUIRED' : 'OPTIONAL']),
    );
    const rows = await new Promise<unknown[][]>((resolve, reject) => {
      parquetRead({ file, rowFormat: 'array', onComplete: (data: unknown[][]) => resolve(data) }).catch(reject);
    });
    return {
      header: leaves.map((element) => element.name),
      rows: rows.map((row) =>
        row.map((value) => {
          // INT64 comes back as BigInt; the dataset's integers are within 2^53, so Number() is exact.
          if (typeof value === 'bigint') return Number(value);
          if (value === undefined) return null;
          return value as CellValue;
        }),
      ),
    };
  },
};

const PARQUET_TYPES = { integer: 'INT64', real: 'DOUBLE', boolean: 'BOOLEAN', text: 'BYTE_ARRAY' } as const;

const FORMATS = Object.keys(READERS) as ExportFormatName[];

async function importUpload(dataDir: string, contentType: 'csv' | 'ndjson', content: string): Promise<string> {
  const datasetId = randomUUID();
  await writeUpload(dataDir, datasetId, content);
  const ctx = createJobContext(dataDir);
  const result = await importDataset({ dataset_id: datasetId, content_type: contentType }, ctx);
  assert.deepEqual({ rows: result.rows, columns: result.columns }, { rows: ROWS.length, columns: NASTY_COLUMNS });
  const last = ctx.progressCalls.at(-1)!;
  assert.equal(last.done, last.total, 'progress ends at 100 %');
  return datasetId;
}

function assertSameCells(actual: CellValue[][], expected: CellValue[][], label: string): void {
  assert.equal(actual.length, expected.length, `${label}: row count`);
  expected.forEach((row, r) => {
    row.forEach((value, c) => {
      if (!Object.is(actual[r]![c], value)) {
        assert.fail(`${label}: row ${r} column ${NASTY_COLUMNS[c]!.name}: ${JSON.stringify(actual[r]![c])} ≠ ${JSON.stringify(value)}`);
      }
    });
  });
}

for (const contentType of ['csv', 'ndjson'] as const) {
  test(`a nasty ${contentType} upload survives import and export in every format`, async (t) => {
    const dataDir = await createDataDir(t);
    const upload = contentType === 'csv' ? toNastyCsv(ROWS) : toNastyNdjson(ROWS);
    const datasetId = await importUpload(dataDir, contentType, upload);

    const dataset = openDatasetForReading(dataDir, datasetId);
    try {
      const stored = [...dataset.iterateRows(NASTY_COLUMNS.map((_column, i) => i))];
      assertSameCells(stored, ROWS, 'dataset file');
    } finally {
      dataset.close();
    }

    for (const format of FORMATS) {
      // gzip around a Parquet file is refused (test/parquet-layout.test.ts): Parquet compresses inside.
      for (const compression of format === 'parquet' ? (['none'] as const) : (['none', 'gzip'] as const)) {
        await t.test(`${format}, compression ${compression}`, async () => {
          const ctx = createJobContext(dataDir);
          const result = await exportDataset(
            { dataset_id: datasetId, format, compression, filename_base: 'Nasty: "data"/set.csv' },
            ctx,
          );
          const stored = await readFile(path.join(dataDir, result.file));
          assertResultDescribes(result, stored, ctx.jobId, format, compression === 'gzip');
          const bytes = compression === 'gzip' ? gunzipSync(stored) : stored;
          const table = await READERS[format](bytes, NASTY_COLUMNS);
          assert.deepEqual(table.header, NASTY_COLUMNS.map((column) => column.name));
          assertSameCells(table.rows, ROWS, `${format}/${compression}`);
          assert.deepEqual(ctx.progressCalls.at(-1), { done: ROWS.length, total: ROWS.length });
        });
      }
    }

    const leftovers = (await readdir(path.join(dataDir, 'exports'))).filter((name) => name.endsWith('.tmp'));
    assert.deepEqual(leftovers, []);
  });
}

function assertResultDescribes(
  result: ExportResult,
  stored: Buffer,
  jobId: string,
  format: ExportFormatName,
  gzip: boolean,
): void {
  const extension = gzip ? `${format}.gz` : format;
  assert.equal(result.file, `exports/${jobId}.${extension}`);
  assert.equal(result.bytes, stored.length);
  assert.equal(result.sha256, createHash('sha256').update(stored).digest('hex'));
  assert.equal(result.rows, ROWS.length);
  assert.equal(result.filename, `Nasty_ _data__set.${extension}`);
  if (gzip) assert.equal(result.content_type, 'application/gzip');
}

test('a gzip export gunzips to the same bytes as the uncompressed export', async (t) => {
  const dataDir = await createDataDir(t);
  const datasetId = await importUpload(dataDir, 'csv', toNastyCsv(ROWS));
  for (const format of ['csv', 'ndjson', 'json'] as const) {
    const plain = await exportDataset({ dataset_id: datasetId, format }, createJobContext(dataDir));
    const gzipped = await exportDataset({ dataset_id: datasetId, format, compression: 'gzip' }, createJobContext(dataDir));
    const plainBytes = await readFile(path.join(dataDir, plain.file));
    const gzippedBytes = await readFile(path.join(dataDir, gzipped.file));
    assert.ok(gunzipSync(gzippedBytes).equals(plainBytes), format);
  }
});

test('a CSV export imports back into the same dataset, nulls and empty strings included', async (t) => {
  const dataDir = await createDataDir(t);
  const datasetId = await importUpload(dataDir, 'csv', toNastyCsv(ROWS));
  const exported = await exportDataset({ dataset_id: datasetId, format: 'csv' }, createJobContext(dataDir));
  const again = randomUUID();
  await writeUpload(dataDir, again, await readFile(path.join(dataDir, exported.file)));
  const result = await importDataset(
    { dataset_id: again, content_type: 'csv' },
    createJobContext(dataDir),
  );
  assert.deepEqual(result.columns, NASTY_COLUMNS);
  const dataset = openDatasetForReading(dataDir, again);
  try {
    assertSameCells([...dataset.iterateRows(NASTY_COLUMNS.map((_column, i) => i))], ROWS, 'reimported');
  } finally {
    dataset.close();
  }
});

test('the same export run twice produces the same bytes (a retried export is identical)', async (t) => {
  const dataDir = await createDataDir(t);
  const datasetId = await importUpload(dataDir, 'ndjson', toNastyNdjson(ROWS));
  for (const format of FORMATS) {
    const jobId = randomUUID();
    const first = await exportDataset({ dataset_id: datasetId, format }, createJobContext(dataDir, { jobId, attempt: 1 }));
    const second = await exportDataset({ dataset_id: datasetId, format }, createJobContext(dataDir, { jobId, attempt: 2 }));
    assert.equal(second.file, first.file);
    // XLSX stores the time of writing in docProps/core.xml, so only its size is stable.
    if (format !== 'xlsx') assert.equal(second.sha256, first.sha256, format);
  }
});

test('columns selects and orders the exported columns', async (t) => {
  const dataDir = await createDataDir(t);
  const datasetId = await importUpload(dataDir, 'csv', toNastyCsv(ROWS));
  const columns = ['ratio', 'שם', 'id'];
  const indexes = columns.map((name) => NASTY_COLUMNS.findIndex((column) => column.name === name));
  const selected = indexes.map((i) => NASTY_COLUMNS[i]!);
  for (const format of FORMATS) {
    const result = await exportDataset({ dataset_id: datasetId, format, columns }, createJobContext(dataDir));
    const table = await READERS[format](await readFile(path.join(dataDir, result.file)), selected);
    assert.deepEqual(table.header, columns, format);
    const expected = ROWS.map((row) => indexes.map((i) => row[i]!));
    assert.deepEqual(table.rows, expected, format);
  }
});
