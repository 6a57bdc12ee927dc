// Shared by the dataset and format tests: a real job context, and a dataset full of values that break naive code.
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { uploadPath } from '../src/contracts/data-layout.js';
import type { JobContext } from '../src/contracts/task-context.js';
import { createDatasetFile, type CellValue, type DatasetColumn } from '../workers/datasets/dataset-file.js';

export interface RecordingContext extends JobContext {
  controller: AbortController;
  progressCalls: { done: number; total: number | undefined }[];
}

export function createJobContext(dataDir: string, overrides: { jobId?: string; attempt?: number } = {}): RecordingContext {
  const controller = new AbortController();
  const progressCalls: RecordingContext['progressCalls'] = [];
  return {
    controller,
    progressCalls,
    signal: controller.signal,
    progress(done, total) {
      progressCalls.push({ done, total });
    },
    jobId: overrides.jobId ?? randomUUID(),
    attempt: overrides.attempt ?? 1,
    dataDir,
  };
}

/** Writes a dataset file directly (as its import would), rows made by `makeRow(0…rowCount−1)`; returns its id. */
export function writeTestDataset(dataDir: string, columns: DatasetColumn[], rowCount: number, makeRow: (i: number) => CellValue[]): string {
  const datasetId = randomUUID();
  const writer = createDatasetFile(dataDir, datasetId, columns, 'test');
  for (let start = 0; start < rowCount; start += 10_000) {
    writer.insertRows(Array.from({ length: Math.min(10_000, rowCount - start) }, (_unused, k) => makeRow(start + k)));
  }
  writer.finish();
  return datasetId;
}

export async function createDataDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'offload-formats-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes the upload of dataset `datasetId` where the import job reads it. */
export async function writeUpload(dataDir: string, datasetId: string, content: string | Buffer): Promise<string> {
  const file = uploadPath(dataDir, datasetId);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, content);
  return file;
}

/** Every control character except NUL, which SQLite text and many tools cannot carry. */
const CONTROL_CHARACTERS = Array.from({ length: 31 }, (_unused, i) => String.fromCharCode(i + 1)).join('') + '\x7f';
const TEN_KB = 'ü€😀,"\n'.repeat(1463); // 10,241 UTF-16 units, a mix of 1- to 4-byte characters

const NASTY_TEXTS: (string | null)[] = [
  'plain',
  '',
  null,
  'emoji 😀👩‍👩‍👧‍👦 and flags 🇫🇷',
  'עברית עם "מרכאות", ופסיק',
  'مرحبا بالعالم',
  'he said "hi", then left',
  'line one\nline two',
  'crlf one\r\ntwo',
  'lone\rcarriage return',
  CONTROL_CHARACTERS,
  '\ttabbed\t',
  '  spaces around  ',
  '=SUM(A1:A2)',
  '+1-555-0100',
  '-negative looking',
  '@mention',
  '_x0041_ is not A',
  'nonchars \ufffe\uffff',
  '"',
  ',',
  '""',
  'null',
  'NULL',
  'true',
  '007',
  '12345678901234567890',
  '1e5x',
  TEN_KB,
  'x'.repeat(10 * 1024),
];

const INTEGERS = [0, 1, -1, 42, 2 ** 53 - 1, -(2 ** 53 - 1), 1_000_000, null, 123456789012345, -7];
const REALS = [0.1, -2.5, 6100, 1e-300, 1.7976931348623157e308, 5e-324, -0.000123, 3.141592653589793, null, 1e21, 100];
const BOOLEANS = [true, false, null];

/**
 * The dataset the nasty uploads import into. Header names include unicode, spaces, quotes, a comma and a repeated
 * name (made unique as `name_2` by the import).
 */
export const NASTY_COLUMNS: DatasetColumn[] = [
  { name: 'id', type: 'integer' },
  { name: 'name', type: 'text' },
  { name: 'name_2', type: 'text' },
  { name: 'Prénom "quoted", with comma', type: 'text' },
  { name: 'שם', type: 'text' },
  { name: 'big', type: 'integer' },
  { name: 'ratio', type: 'real' },
  { name: 'flag', type: 'boolean' },
  { name: 'always null', type: 'text' },
  { name: '😀 emoji header', type: 'text' },
];

export function createNastyRows(count: number): CellValue[][] {
  const rows: CellValue[][] = [];
  for (let i = 0; i < count; i++) {
    rows.push([
      i + 1,
      NASTY_TEXTS[i % NASTY_TEXTS.length]!,
      NASTY_TEXTS[(i * 7 + 3) % NASTY_TEXTS.length]!,
      NASTY_TEXTS[(i * 11 + 5) % NASTY_TEXTS.length]!,
      i % 2 === 0 ? 'שלום' : `row ${i} ✓`,
      INTEGERS[i % INTEGERS.length]!,
      REALS[i % REALS.length]!,
      BOOLEANS[i % BOOLEANS.length]!,
      null,
      NASTY_TEXTS[(i * 13 + 1) % NASTY_TEXTS.length]!,
    ]);
  }
  return rows;
}

/** The header as uploaded: the second column repeats the first's name. */
const UPLOADED_NAMES = NASTY_COLUMNS.map((column) => (column.name === 'name_2' ? 'name' : column.name));

/**
 * CSV written by hand (not by offload's writer): CRLF, a BOM, null as an empty field, '' as `""`, booleans in
 * mixed case, everything that needs it quoted.
 */
export function toNastyCsv(rows: CellValue[][]): string {
  const field = (value: CellValue, index: number): string => {
    if (value === null) return '';
    if (typeof value === 'boolean') return index % 2 === 0 ? String(value).toUpperCase() : String(value);
    const text = String(value);
    return text === '' || /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  const lines = [UPLOADED_NAMES.map((name, i) => field(name, i)).join(',')];
  rows.forEach((row, r) => lines.push(row.map((value) => field(value, r)).join(',')));
  return `\ufeff${lines.join('\r\n')}\r\n`;
}

/** NDJSON with keys in dataset order, some nulls written as null and some left out. */
export function toNastyNdjson(rows: CellValue[][]): string {
  return rows
    .map((row, r) => {
      const entries = NASTY_COLUMNS.flatMap((column, i) => {
        const value = row[i];
        if (value === null && r % 2 === 1) return [];
        return [`${JSON.stringify(column.name)}:${JSON.stringify(value)}`];
      });
      return `{${entries.join(',')}}`;
    })
    .join('\n');
}
