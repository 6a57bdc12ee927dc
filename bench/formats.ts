// Measures import and export speed and peak memory, by hand: `npm run build && node dist/bench/formats.js
// [--rows 1000000] [--formats baseline,csv,ndjson,json,xlsx,parquet] [--gzip] [--import]`. `baseline` reads
// the rows without writing anything: machines differ, and the ratio to it says more than rows/s alone.
// Each export runs in a fresh child process so that its peak RSS (getrusage maxrss) is its own.
// The dataset has 8 columns: 2 integer, 2 real, 1 boolean, 3 text (10–40 characters, some quoting, some null).
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { JobContext } from '../src/contracts/task-context.js';
import { uploadPath } from '../src/contracts/data-layout.js';
import { createDatasetFile, openDatasetForReading, type CellValue } from '../workers/datasets/dataset-file.js';
import exportDataset from '../workers/export.js';
import { BENCH_COLUMNS, benchRow } from './lib/dataset.js';
import importDataset from '../workers/import.js';


function benchContext(dataDir: string, onProgress: () => void = () => {}): JobContext {
  return {
    signal: new AbortController().signal,
    progress: onProgress,
    jobId: randomUUID(),
    attempt: 1,
    dataDir,
  };
}

async function runChild(dataDir: string, datasetId: string, format: string, gzip: boolean): Promise<void> {
  const started = process.hrtime.bigint();
  if (format === 'baseline') {
    // Reading every row without writing anything: the ceiling for any format on this machine right now.
    const dataset = openDatasetForReading(dataDir, datasetId);
    let rows = 0;
    for (const _row of dataset.iterateRows(BENCH_COLUMNS.map((_column, i) => i))) rows++;
    dataset.close();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    process.stdout.write(JSON.stringify({ rows, seconds, bytes: 0, peakRssMb: process.resourceUsage().maxRSS / 1024 }));
    return;
  }
  const result = await exportDataset(
    { dataset_id: datasetId, format, compression: gzip ? 'gzip' : 'none' },
    benchContext(dataDir),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(
    JSON.stringify({ rows: result.rows, seconds, bytes: result.bytes, peakRssMb: process.resourceUsage().maxRSS / 1024 }),
  );
}

async function writeBenchDataset(dataDir: string, rows: number): Promise<string> {
  const datasetId = randomUUID();
  const writer = createDatasetFile(dataDir, datasetId, BENCH_COLUMNS, 'bench');
  for (let start = 0; start < rows; start += 10_000) {
    const batch: CellValue[][] = [];
    for (let i = start; i < Math.min(rows, start + 10_000); i++) batch.push(benchRow(i));
    writer.insertRows(batch);
  }
  writer.finish();
  return datasetId;
}

async function writeBenchCsv(file: string, rows: number): Promise<void> {
  const out = createWriteStream(file);
  const field = (value: CellValue): string => {
    if (value === null) return '';
    const text = String(value);
    return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  out.write(`${BENCH_COLUMNS.map((column) => column.name).join(',')}\r\n`);
  for (let start = 0; start < rows; start += 10_000) {
    let chunk = '';
    for (let i = start; i < Math.min(rows, start + 10_000); i++) chunk += `${benchRow(i).map(field).join(',')}\r\n`;
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'close');
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      rows: { type: 'string', default: '1000000' },
      formats: { type: 'string', default: 'baseline,csv,ndjson,json,xlsx,parquet' },
      gzip: { type: 'boolean', default: false },
      import: { type: 'boolean', default: false },
      child: { type: 'boolean', default: false },
    },
  });
  if (values.child) {
    const [dataDir, datasetId, format] = positionals;
    await runChild(dataDir!, datasetId!, format!, values.gzip);
    return;
  }

  const rows = Number(values.rows);
  const dataDir = await mkdtemp(path.join(tmpdir(), 'offload-bench-'));
  try {
    console.log(`node ${process.version}, ${rows.toLocaleString('en')} rows × ${BENCH_COLUMNS.length} columns`);
    const datasetId = await writeBenchDataset(dataDir, rows);
    const datasetBytes = (await stat(path.join(dataDir, 'datasets', `${datasetId}.sqlite`))).size;
    console.log(`dataset file: ${(datasetBytes / 1e6).toFixed(1)} MB`);

    if (values.import) {
      const importId = randomUUID();
      const upload = uploadPath(dataDir, importId);
      await mkdir(path.dirname(upload), { recursive: true });
      await writeBenchCsv(upload, rows);
      const started = process.hrtime.bigint();
      await importDataset({ dataset_id: importId, content_type: 'csv' }, benchContext(dataDir));
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const size = (await stat(upload)).size;
      console.log(`import csv (${(size / 1e6).toFixed(0)} MB, two passes): ${(rows / seconds / 1e6).toFixed(3)} M rows/s, ${seconds.toFixed(1)} s`);
      await writeFile(upload, '');
    }

    console.log('| format | rows/s | seconds | output MB | peak RSS MB |');
    console.log('|---|---|---|---|---|');
    const script = fileURLToPath(import.meta.url);
    // Parquet compresses inside the file (parquet_codec): gzip around it is refused.
    for (const format of values.formats.split(',').filter((name) => !(values.gzip && name === 'parquet'))) {
      const args = [script, '--child', dataDir, datasetId, format, ...(values.gzip ? ['--gzip'] : [])];
      const output = execFileSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1024 * 1024 });
      const measured = JSON.parse(output) as { rows: number; seconds: number; bytes: number; peakRssMb: number };
      console.log(
        `| ${format}${values.gzip ? '.gz' : ''} | ${(measured.rows / measured.seconds / 1e6).toFixed(3)} M | ` +
          `${measured.seconds.toFixed(1)} | ${(measured.bytes / 1e6).toFixed(1)} | ${measured.peakRssMb.toFixed(0)} |`,
      );
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
