// Imports in one read of the upload. The fast CSV reader against the reference (csv-parse, csv-upload.ts) on
// generated input: whatever it reads, it reads as the reference does (fields, nulls, line numbers, across any chunk
// boundary); whatever the reference refuses, it hands back (CsvOutsideFastPath); and it reads every file a CSV
// writer would produce. Then imports where the first batch's columns do not hold (CSV and NDJSON), and where the
// fast reader hands over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import importDataset from '../workers/import.js';
import { openDatasetForReading } from '../workers/datasets/dataset-file.js';
import { readCsvUpload, type CsvField } from '../workers/uploads/csv-upload.js';
import { createFastCsvParser, CsvOutsideFastPath } from '../workers/uploads/csv-fast-reader.js';
import type { CsvDelimiter } from '../src/contracts/import-contract.js';
import { classifyCsvCell } from '../workers/uploads/type-inference.js';
import { createDataDir, createJobContext, writeUpload } from './format-fixtures.js';
import { makeTempDir } from './helpers.js';

interface Parsed {
  header: CsvField[];
  records: { fields: CsvField[]; line: number }[];
}

/** A small deterministic generator (mulberry32), so a failure names its seed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const dir = makeTempDir('offload-csv-fast-');
let files = 0;

async function readReference(text: string, delimiter: CsvDelimiter, nullTokens: Set<string>): Promise<Parsed | Error> {
  const file = path.join(dir, `case-${++files}.csv`);
  writeFileSync(file, text);
  const parsed: Parsed = { header: [], records: [] };
  try {
    await readCsvUpload(file, { signal: new AbortController().signal, onBytesRead() {}, maxRecordBytes: 1 << 20, delimiter, nullTokens, batchSize: 3 }, {
      header: (fields) => (parsed.header = fields),
      rows: (batch) => parsed.records.push(...batch.map(({ fields, line }) => ({ fields, line }))),
    });
    return parsed;
  } catch (err) {
    return err as Error;
  }
}

function readFast(chunks: string[], delimiter: CsvDelimiter, nullTokens: Set<string>): Parsed | CsvOutsideFastPath {
  const parsed: Parsed = { header: [], records: [] };
  const parser = createFastCsvParser({
    delimiter,
    nullTokens,
    maxRecordUnits: (1 << 20) / 3,
    batchSize: 3,
    visitor: {
      header: (fields) => (parsed.header = fields),
      rows({ width, count, fields, lines }) {
        for (let r = 0; r < count; r++) parsed.records.push({ fields: fields.slice(r * width, (r + 1) * width), line: lines[r]! });
      },
    },
  });
  try {
    for (const chunk of chunks) parser.write(chunk);
    parser.end();
    return parsed;
  } catch (err) {
    if (err instanceof CsvOutsideFastPath) return err;
    throw err;
  }
}

/** Cuts the text into pieces at random places, never inside a surrogate pair (as the UTF-8 decoder never does). */
function cut(text: string, next: () => number): string[] {
  const chunks: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(text.length, start + 1 + Math.floor(next() * 6));
    if (end < text.length && /[\ud800-\udbff]/.test(text[end - 1]!)) end++;
    chunks.push(text.slice(start, end));
    start = end;
  }
  return chunks;
}

const PIECES = ['a', 'bc', '1', '', 'NA', '"', '""', ',', ';', '\n', '\r', '\r\n', ' ', 'é', '😀', '\t', '\u0000'];

test('on random text the fast reader reads what csv-parse reads, the same way, and hands back the rest', async () => {
  let read = 0;
  const acceptedByReferenceOnly: string[] = [];
  for (let seed = 1; seed <= 1000; seed++) {
    const next = random(seed);
    const delimiter: CsvDelimiter = next() < 0.8 ? ',' : ';';
    const nullTokens = new Set(next() < 0.3 ? ['NA'] : []);
    let text = next() < 0.1 ? '\ufeff' : '';
    const length = 1 + Math.floor(next() * 30);
    for (let i = 0; i < length; i++) text += PIECES[Math.floor(next() * PIECES.length)];
    const reference = await readReference(text, delimiter, nullTokens);
    const fast = readFast(cut(text, next), delimiter, nullTokens);
    if (fast instanceof CsvOutsideFastPath) {
      if (!(reference instanceof Error)) acceptedByReferenceOnly.push(text);
      continue;
    }
    read++;
    assert.ok(!(reference instanceof Error), `seed ${seed}: the fast reader read ${JSON.stringify(text)}, which csv-parse refuses (${String(reference)})`);
    assert.deepEqual(fast, reference, `seed ${seed}: ${JSON.stringify(text)}`);
  }
  assert.ok(read > 150, `the fast reader read ${read} of the inputs itself`);
  // What csv-parse reads and the fast reader hands back: a NUL after a closing quote, which csv-parse takes for the
  // end of its buffer.
  const unexpected = acceptedByReferenceOnly.filter((text) => !text.includes('"\u0000'));
  assert.deepEqual(unexpected, [], 'handed back only for a NUL after a quote');
});

/** A field as a CSV writer writes it: quoted when it must be, or at random. */
function written(value: string, delimiter: string, next: () => number): string {
  const mustQuote = value.includes('"') || value.includes(delimiter) || /[\r\n]/.test(value) || value === '';
  return mustQuote || next() < 0.2 ? `"${value.replaceAll('"', '""')}"` : value;
}

test('every file a CSV writer produces stays on the fast path, read as csv-parse reads it', async () => {
  const values = ['x', 'a "quoted" word', 'two\nlines', 'crlf\r\nin it', 'lone\rcr', 'comma, inside', 'semi; colon', '', 'NA', 'ü€😀', '12', '-1.5e3'];
  for (let seed = 1; seed <= 300; seed++) {
    const next = random(seed);
    const delimiter: CsvDelimiter = next() < 0.5 ? ',' : ';';
    const nullTokens = new Set(next() < 0.5 ? ['NA'] : []);
    const width = 1 + Math.floor(next() * 4);
    const lineEnd = ['\n', '\r\n', '\r'][Math.floor(next() * 3)]!;
    const records = Array.from({ length: 1 + Math.floor(next() * 8) }, () =>
      Array.from({ length: width }, () => (next() < 0.15 ? null : values[Math.floor(next() * values.length)]!)),
    );
    let text = records.map((record) => record.map((value) => (value === null ? '' : written(value, delimiter, next))).join(delimiter)).join(lineEnd);
    if (width > 1 && next() < 0.3) text += lineEnd + lineEnd; // a blank line, then the end
    if (next() < 0.5) text += lineEnd;
    const reference = await readReference(text, delimiter, nullTokens);
    const fast = readFast(cut(text, next), delimiter, nullTokens);
    assert.ok(!(fast instanceof CsvOutsideFastPath), `seed ${seed}: handed back (${fast instanceof Error ? fast.message : ''}): ${JSON.stringify(text)}`);
    assert.deepEqual(fast, reference, `seed ${seed}: ${JSON.stringify(text)}`);
  }
});

async function importRows(content: string, contentType: 'csv' | 'ndjson' = 'csv', maxRecordBytes?: number): Promise<{ columns: unknown; rows: unknown[] }> {
  const dataDir = await createDataDirOnce();
  const datasetId = randomUUID();
  await writeUpload(dataDir, datasetId, content);
  const payload = { dataset_id: datasetId, content_type: contentType, ...(maxRecordBytes ? { max_record_bytes: maxRecordBytes } : {}) };
  const result = await importDataset(payload, createJobContext(dataDir));
  const dataset = openDatasetForReading(dataDir, datasetId);
  try {
    return { columns: result.columns, rows: [...dataset.iterateRows(result.columns.map((_c, i) => i))] };
  } finally {
    dataset.close();
  }
}

let sharedDataDir: Promise<string> | undefined;
function createDataDirOnce(): Promise<string> {
  sharedDataDir ??= createDataDir({ after: () => {} });
  return sharedDataDir;
}

test('a type that changes after the first batch: the file is read again and typed as a whole', async () => {
  const many = 5000; // more than one batch (2000 records)
  const rows = Array.from({ length: many }, (_v, i) => `${i},${i === many - 1 ? '' : '""'},${i === many - 2 ? 'x' : String(i % 2 === 0)}`);
  rows[4500] = `4500.5,7,true`;
  const { columns, rows: stored } = await importRows(`n,late,flag\n${rows.join('\n')}\n`);
  assert.deepEqual(columns, [
    { name: 'n', type: 'real' },
    { name: 'late', type: 'integer' },
    { name: 'flag', type: 'text' },
  ]);
  assert.deepEqual(stored[0], [0, null, 'true']);
  assert.deepEqual(stored[4500], [4500.5, 7, 'true']);
  assert.deepEqual(stored[many - 2], [many - 2, null, 'x']);
  assert.equal(stored.length, many);
});

test('NDJSON: a key or a type that first appears after the first batch: the file is read again', async () => {
  const lines = Array.from({ length: 4500 }, (_v, i) => JSON.stringify(i === 4000 ? { n: 1.5, late: 'x' } : { n: i }));
  const { columns, rows } = await importRows(`${lines.join('\n')}\n`, 'ndjson');
  assert.deepEqual(columns, [
    { name: 'n', type: 'real' },
    { name: 'late', type: 'text' },
  ]);
  assert.deepEqual([rows[0], rows[4000], rows[4499], rows.length], [[0, null], [1.5, 'x'], [4499, null], 4500]);
  const keyless = await importRows(`${'{}\n'.repeat(2500)}{"a":true}\n`, 'ndjson');
  assert.deepEqual([keyless.columns, keyless.rows.length, keyless.rows[0], keyless.rows[2500]], [[{ name: 'a', type: 'boolean' }], 2501, [null], [true]]);
});

test('the record size limit is exact on the import too, past the point where the fast reader hands over', async () => {
  const limit = 999; // the fast reader hands over records of more than 333 UTF-16 units
  const row = (bytes: number) => `1,"${'é'.repeat((bytes - 4) / 2)}"`; // 1,"…": 4 bytes, then 2 bytes a character
  const csv = (bytes: number) => `a,b\n${'2,short\n'.repeat(3000)}${row(bytes)}\n`;
  const { rows } = await importRows(csv(limit - 1), 'csv', limit);
  assert.equal(rows.length, 3001);
  await assert.rejects(importRows(csv(limit + 1), 'csv', limit), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'record_too_large');
    assert.match(err.message, /^the CSV record starting at line 3002 is longer than the limit of 999 bytes/);
    return true;
  });
});

test('input the fast reader hands over is imported by the reference reader, to the same result', async () => {
  // A NUL right after a closing quote: csv-parse takes the quote as closing and keeps the NUL in the field.
  const viaReference = await importRows('a,b\n"x"\u0000,1\n');
  const direct = await readReference('a,b\n"x"\u0000,1\n', ',', new Set());
  assert.ok(!(direct instanceof Error));
  assert.deepEqual(viaReference.rows, [[direct.records[0]!.fields[0], 1]]);
});

test('numbers are typed by hand exactly as the regular expressions that used to say it', () => {
  const INTEGER = /^(?:0|-?[1-9]\d{0,15})$/;
  const REAL = /^-?(?:0|[1-9]\d*)(?:\.\d+(?:[eE][+-]?\d+)?|[eE][+-]?\d+)$/;
  const expected = (value: string): string => {
    if (INTEGER.test(value)) return Number.isSafeInteger(Number(value)) ? 'integer' : 'text';
    if (REAL.test(value)) return Number.isFinite(Number(value)) ? 'real' : 'text';
    return 'text';
  };
  const next = random(7);
  const alphabet = '0123456789-+.eE x';
  const samples = ['0', '-0', '00', '-', '1e', '1e+', '1.', '.5', '-0.0', '9007199254740991', '9007199254740992', '1234567890123456', '12345678901234567', '1e400', '-1E-5', '0e0', '1.5e3x', `${'9'.repeat(308)}.5`, `${'9'.repeat(309)}.5`, `-${'9'.repeat(309)}.0`];
  for (let i = 0; i < 20_000; i++) {
    let text = alphabet[Math.floor(next() * 12)]!; // a digit or '-' first, as classifyCsvCell hands them on
    for (let n = Math.floor(next() * 20); n > 0; n--) text += alphabet[Math.floor(next() * alphabet.length)];
    samples.push(text);
  }
  for (const value of samples) {
    const kind = classifyCsvCell(value);
    if (kind === 'date' || kind === 'timestamp' || kind === 'timestamptz') continue;
    assert.equal(kind, expected(value), JSON.stringify(value));
  }
});
