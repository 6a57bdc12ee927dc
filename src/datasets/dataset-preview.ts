// The first rows of a dataset file, read-only, for the console. The file's layout is workers/datasets/
// dataset-file.ts's (format versions 1 and 2): `columns(idx, name, type[, timezone, null_count])`, `rows(c0, c1, …)`
// in insertion order, booleans as 0/1, dates, timestamps and JSON as text. The domain may not import workers/, so
// the few reads it needs are written again here; test/console-api.test.ts previews a file the import just wrote.
import Database from 'better-sqlite3';
import { containedPath, datasetPath } from '../contracts/data-layout.js';
import type { DatasetColumn } from '../contracts/import-contract.js';

export type PreviewCell = string | number | boolean | null;

export interface DatasetPreview {
  columns: DatasetColumn[];
  rows: PreviewCell[][];
  totalRows: number;
}

/** The dataset's columns and its first `limit` rows; undefined when its file does not exist. */
export function readDatasetPreview(dataDir: string, datasetId: string, limit: number): DatasetPreview | undefined {
  let db: InstanceType<typeof Database>;
  try {
    db = new Database(containedPath(dataDir, datasetPath(dataDir, datasetId)), { readonly: true, fileMustExist: true });
  } catch {
    return undefined;
  }
  try {
    const version = db.prepare(`SELECT value FROM dataset_meta WHERE key = 'format_version'`).pluck().get();
    if (version !== '1' && version !== '2') throw new Error(`unsupported dataset file format version ${String(version)}`);
    const columns = db.prepare('SELECT name, type FROM columns ORDER BY idx').all() as DatasetColumn[];
    const stored = db.prepare(`SELECT value FROM dataset_meta WHERE key = 'row_count'`).pluck().get();
    const totalRows = typeof stored === 'string' ? Number(stored) : (db.prepare('SELECT count(*) FROM rows').pluck().get() as number);
    // Generated names only (c0, c1, …): no user text reaches the SQL.
    const select = columns.map((_, index) => `c${index}`).join(', ');
    const rows = db.prepare(`SELECT ${select} FROM rows ORDER BY rowid LIMIT ?`).raw(true).all(limit) as PreviewCell[][];
    for (const row of rows) {
      columns.forEach((column, index) => {
        if (column.type === 'boolean' && row[index] !== null) row[index] = row[index] === 1;
      });
    }
    return { columns, rows, totalRows };
  } finally {
    db.close();
  }
}
