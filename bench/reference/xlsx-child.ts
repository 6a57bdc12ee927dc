// One XLSX export in a fresh process, so that its peak RSS is its own: `offload` runs it through an engine
// (1 thread), `exceljs` is the reference — exceljs's streaming WorkbookWriter fed the same rows read the same
// way. Prints one JSON line: {rows, seconds, peakRssMb}.
import { rmSync } from 'node:fs';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { openDatasetForReading } from '../../workers/datasets/dataset-file.js';
import { startBenchEngine } from '../lib/engine-harness.js';

const [mode, dataDir, datasetId] = process.argv.slice(2);
if (!mode || !dataDir || !datasetId) throw new Error('usage: xlsx-child.js offload|exceljs DATA_DIR DATASET_ID');

let rows = 0;
let seconds = 0;
if (mode === 'offload') {
  const bench = await startBenchEngine(dataDir, { threads: 1 });
  const { job, ms } = await bench.run({ kind: 'export', payload: { dataset_id: datasetId, format: 'xlsx' } });
  const result = job.result as { rows: number; file: string };
  rows = result.rows;
  seconds = ms / 1000;
  await bench.close();
  rmSync(path.join(dataDir, result.file), { force: true });
} else if (mode === 'exceljs') {
  const out = path.join(dataDir, 'exceljs-out.xlsx');
  const started = performance.now();
  const dataset = openDatasetForReading(dataDir, datasetId);
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: out, useStyles: false, useSharedStrings: false });
  const sheet = workbook.addWorksheet('data');
  sheet.addRow(dataset.columns.map((column) => column.name)).commit();
  for (const row of dataset.iterateRows(dataset.columns.map((_column, i) => i))) {
    sheet.addRow(row).commit();
    rows++;
  }
  dataset.close();
  sheet.commit();
  await workbook.commit();
  seconds = (performance.now() - started) / 1000;
  rmSync(out, { force: true });
} else {
  throw new Error(`unknown mode ${mode}`);
}
process.stdout.write(`${JSON.stringify({ rows, seconds, peakRssMb: process.resourceUsage().maxRSS / 1024 })}\n`);
