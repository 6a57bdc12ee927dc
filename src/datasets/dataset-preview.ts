// The first rows of a dataset file, read-only, for the console. The file's layout is workers/datasets/
// dataset-file.ts's (the versions of DATASET_FILE_VERSIONS): `columns(idx, name, type[, timezone])`, `rows(c0, c1, …)`
// in insertion order, booleans as 0/1. The domain may not import workers/, so the few reads it needs are written
// again here.
import Database from 'better-sqlite3';
import { containedPath, DATASET_FILE_VERSIONS, datasetPath } from '../contracts/data-layout.js';
import type { DatasetColumn } from '../contracts/import-contract.js';

export type PreviewCell = string | number | boolean | null;

export interface DatasetPreview {
  columns: DatasetColumn[];
  rows: PreviewCell[][];
  totalRows: number;
}

/** A text cell longer than this is cut to it (in SQL, so a 16 MB cell is never read whole): a preview shows, not exports. */
export const PREVIEW_CELL_CHARS = 1000;
/** Rows stop once their text passes this many characters (2000 columns of cut cells would be 2M a row). */
export const PREVIEW_TEXT_BUDGET = 1_000_000;

/** The dataset's columns and its first rows (at most `limit`); undefined when its file does not exist. */
export function readDatasetPreview(dataDir: string, datasetId: string, limit: number): DatasetPreview | undefined {
  let db: InstanceType<typeof Database>;
  try {
    db = new Database(containedPath(dataDir, datasetPath(dataDir, datasetId)), { readonly: true, fileMustExist: true });
  } catch {
    return undefined;
  }
  try {
    const version = db.prepare(`SELECT value FROM dataset_meta WHERE key = 'format_version'`).pluck().get();
    if (!(DATASET_FILE_VERSIONS as readonly unknown[]).includes(version)) throw new Error(`unsupported dataset file format version ${String(version)}`);
    const timezone = version === '1' ? 'NULL AS timezone' : 'timezone';
    const columns = (db.prepare(`SELECT name, type, ${timezone} FROM columns ORDER BY idx`).all() as (DatasetColumn & { timezone: 'UTC' | null })[])
      .map(({ name, type, timezone }) => (type === 'timestamp' ? { name, type, timezone } : { name, type }));
    const stored = db.prepare(`SELECT value FROM dataset_meta WHERE key = 'row_count'`).pluck().get();
    const totalRows = typeof stored === 'string' ? Number(stored) : (db.prepare('SELECT count(*) FROM rows').pluck().get() as number);
    // Generated names only (c0, c1, …): no user text reaches the SQL. Every stored type but TEXT is a number.
    const select = columns.map((column, index) => (isNumeric(column) ? `c${index}` : `substr(c${index}, 1, ${PREVIEW_CELL_CHARS})`)).join(', ');
    const rows: PreviewCell[][] = [];
    let chars = 0;
    for (const row of db.prepare(`SELECT ${select} FROM rows ORDER BY rowid LIMIT ?`).raw(true).iterate(limit) as IterableIterator<PreviewCell[]>) {
      columns.forEach((column, index) => {
        const value = row[index];
        if (column.type === 'boolean' && value !== null) row[index] = value === 1;
        else if (typeof value === 'string') chars += value.length;
      });
      rows.push(row);
      if (chars > PREVIEW_TEXT_BUDGET) break;
    }
    return { columns, rows, totalRows };
  } finally {
    db.close();
  }
}

function isNumeric(column: DatasetColumn): boolean {
  return column.type === 'integer' || column.type === 'real' || column.type === 'boolean';
}
