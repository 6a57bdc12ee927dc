// The bench datasets: N rows × 8 columns, written straight into a dataset file by the same code the import job
// uses (workers/datasets/dataset-file.ts: createDatasetFile), which is ~10× faster than uploading a CSV and
// importing it. Full runs cache them in bench/.data/cache (git-ignored) and reuse them while they still open
// with the current reader and hold the expected rows; per-run data directories get hard links to them.
import { copyFileSync, linkSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import {
  createDatasetFile,
  datasetFilePath,
  openDatasetForReading,
  type CellValue,
  type DatasetColumn,
} from '../../workers/datasets/dataset-file.js';

/** Same shape as bench/formats.ts: 2 integer, 2 real, 1 boolean, 3 text columns (some quoting, some null). */
export const BENCH_COLUMNS: DatasetColumn[] = [
  { name: 'id', type: 'integer' },
  { name: 'customer', type: 'text' },
  { name: 'amount', type: 'real' },
  { name: 'quantity', type: 'integer' },
  { name: 'paid', type: 'boolean' },
  { name: 'note', type: 'text' },
  { name: 'ratio', type: 'real' },
  { name: 'city', type: 'text' },
];
const CITIES = ['Zürich', 'São Paulo', 'Kraków', 'New York, NY', 'Tōkyō', '"Quoted" Town', 'Reykjavík', 'Dakar'];

export function benchRow(i: number): CellValue[] {
  return [
    i + 1,
    `customer-${(i * 7919) % 100_000}`,
    Math.round(i * 13.37) / 100,
    i % 97,
    i % 3 === 0 ? null : i % 2 === 0,
    i % 10 === 0 ? null : `note ${i} with some words, more words`,
    (i % 1000) / 7,
    CITIES[i % CITIES.length]!,
  ];
}

/** Bump when benchRow or BENCH_COLUMNS change, so cached files are regenerated. */
const GENERATOR_VERSION = 1;

export interface BenchDataset {
  id: string;
  rows: number;
  /** The cached file; link it into a data directory with linkDataset. */
  file: string;
  /** Seconds spent generating it in this run; 0 when it came from the cache. */
  generatedSeconds: number;
}

function datasetId(rows: number): string {
  return `be0c${String(GENERATOR_VERSION).padStart(4, '0')}-0000-4000-8000-${String(rows).padStart(12, '0')}`;
}

/** Returns the dataset of `rows` rows under `cacheDir`, generating it unless a valid copy is there. */
export function ensureDataset(cacheDir: string, rows: number): BenchDataset {
  const id = datasetId(rows);
  const file = datasetFilePath(cacheDir, id);
  if (isValid(cacheDir, id, rows)) return { id, rows, file, generatedSeconds: 0 };
  rmSync(file, { force: true });
  const started = performance.now();
  const writer = createDatasetFile(cacheDir, id, BENCH_COLUMNS, 'bench');
  try {
    const batchRows = 10_000;
    for (let start = 0; start < rows; start += batchRows) {
      const batch: CellValue[][] = [];
      for (let i = start; i < Math.min(rows, start + batchRows); i++) batch.push(benchRow(i));
      writer.insertRows(batch);
    }
    writer.finish();
  } catch (err) {
    writer.abandon();
    throw err;
  }
  return { id, rows, file, generatedSeconds: (performance.now() - started) / 1000 };
}

function isValid(cacheDir: string, id: string, rows: number): boolean {
  try {
    const reader = openDatasetForReading(cacheDir, id);
    try {
      return reader.rowCount === rows && JSON.stringify(reader.columns) === JSON.stringify(BENCH_COLUMNS);
    } finally {
      reader.close();
    }
  } catch {
    return false;
  }
}

/**
 * Makes the dataset appear as `<dataDir>/datasets/<asId>.sqlite` (a hard link; a copy across file systems). The
 * file is only ever read, so every data directory can share one copy. Replaces an existing file atomically.
 */
export function linkDataset(dataset: BenchDataset, dataDir: string, asId = dataset.id): string {
  const target = datasetFilePath(dataDir, asId);
  mkdirSync(path.dirname(target), { recursive: true });
  const temp = `${target}.bench-link`;
  rmSync(temp, { force: true });
  try {
    linkSync(dataset.file, temp);
  } catch {
    copyFileSync(dataset.file, temp);
  }
  renameSync(temp, target);
  return target;
}
