// CSV rows built by SQLite: one SELECT turns each row into its finished line (the rules of csv.ts, byte for byte)
// and group_concat joins a page of lines into one BLOB, which reaches JavaScript as a Buffer that is written as it
// is. No row array, no cell value and no string per row exists in JavaScript: per-row garbage was what kept two
// exports from scaling over two threads (their young-generation collections compete for the same cores).
//
// Reals are the one type SQLite cannot always print as JavaScript does (the shortest text that reads back to the
// same double). CAST(x AS TEXT) is taken when it has at most 15 significant digits and 1e-4 ≤ |x| ≤ 1e15: any
// 15-digit text that reads back to x is the only one (DBL_DIG), so it is JavaScript's too, and both use plain
// notation there. Zero is '0.0'; every other real goes through a JavaScript function (formatReal), as before.
import type { Database, Statement } from 'better-sqlite3';
import type { ColumnType } from '../../src/contracts/import-contract.js';
import { storageColumn, type DatasetReader } from '../datasets/dataset-file.js';
import { quoteCsvField } from './csv.js';
import { formatReal } from './number-text.js';

const REAL_FUNCTION = 'offload_csv_real';
/** Pages of huge cells shrink towards this many bytes, so memory stays bounded. */
const PAGE_TARGET_BYTES = 1024 * 1024;
/** The batch of the other formats: progress and abort checks come every this many rows. */
const MAX_PAGE_ROWS = 1000;

function fieldSql(column: string, type: ColumnType): string {
  switch (type) {
    case 'integer':
      return `ifnull(${column}, '')`;
    case 'boolean':
      return `CASE WHEN ${column} IS NULL THEN '' WHEN ${column} = 1 THEN 'true' ELSE 'false' END`;
    case 'real': {
      // Between 1e-4 and 1e15 SQLite writes no exponent; at most 16 characters with the point is at most 15 digits.
      const text = `CAST(${column} AS TEXT)`;
      return (
        `CASE WHEN ${column} IS NULL THEN '' ` +
        `WHEN abs(${column}) BETWEEN 1e-4 AND 1e15 AND length(${text}) <= 16 THEN ${text} ` +
        `WHEN ${column} = 0 THEN '0.0' ELSE ${REAL_FUNCTION}(${column}) END`
      );
    }
    default:
      // text, date, timestamp, json: quoted when empty or holding `"`, `,`, CR or LF; inner quotes doubled.
      return (
        `CASE WHEN ${column} IS NULL THEN '' ` +
        `WHEN instr(${column}, '"') THEN '"' || replace(${column}, '"', '""') || '"' ` +
        `WHEN instr(${column}, ',') OR instr(${column}, char(13)) OR instr(${column}, char(10)) OR ${column} = '' THEN '"' || ${column} || '"' ` +
        `ELSE ${column} END`
      );
  }
}

/** The header line, as csv.ts writes it. */
export function csvHeader(names: readonly string[]): Buffer {
  return Buffer.from(`${names.map(quoteCsvField).join(',')}\r\n`, 'utf8');
}

export interface CsvPage {
  bytes: Buffer;
  rows: number;
}

export interface CsvRangeRenderer {
  /** Calls onPage with the lines of the rows whose rowid is in (after, last], in order; resolves with their count. */
  render(after: number, last: number, onPage: (page: CsvPage) => void | Promise<void>): Promise<number>;
}

export function createCsvRenderer(reader: DatasetReader, columnIndexes: readonly number[]): CsvRangeRenderer {
  const db: Database = reader.connection;
  db.function(REAL_FUNCTION, { deterministic: true }, (value: unknown) => formatReal(value as number));
  // concat_ws: one call per row instead of a `||` per field; no field is NULL (null is '').
  const line = `concat_ws(',', ${columnIndexes.map((index) => fieldSql(storageColumn(index), reader.columns[index]!.type)).join(', ')})`;
  // LIMIT keeps the subquery from being flattened into the aggregate: it runs as a co-routine that yields rows in
  // rowid order, which group_concat keeps (the byte-identity tests across thread counts pin this).
  const page: Statement = db
    .prepare(
      `SELECT CAST(group_concat(line, '') AS BLOB), count(*), max(r) FROM (` +
        `SELECT ${line} || char(13, 10) AS line, rowid AS r FROM rows WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT ?)`,
    )
    .raw(true);
  let pageRows = MAX_PAGE_ROWS;
  return {
    async render(after, last, onPage) {
      let rows = 0;
      let from = after;
      while (from < last) {
        let result: [Buffer | null, number, number | null];
        try {
          result = page.get(from, last, pageRows) as [Buffer | null, number, number | null];
        } catch (err) {
          // A page of huge cells over SQLite's length limit: fewer rows; one row over it cannot be written at all.
          if ((err as { code?: string }).code === 'SQLITE_TOOBIG' && pageRows > 1) {
            pageRows = Math.max(1, Math.floor(pageRows / 16));
            continue;
          }
          throw err;
        }
        const [bytes, count, lastRowid] = result;
        if (count === 0 || bytes === null || lastRowid === null) break;
        rows += count;
        from = lastRowid;
        pageRows = nextPageRows(count, bytes.length);
        await onPage({ bytes, rows: count });
      }
      return rows;
    },
  };
}

function nextPageRows(count: number, bytes: number): number {
  const perRow = Math.max(1, bytes / count);
  return Math.min(MAX_PAGE_ROWS, Math.max(1, Math.floor(PAGE_TARGET_BYTES / perRow)));
}

/** The first and last rowid of the dataset's rows, or undefined when it has none. */
export function rowidBounds(reader: DatasetReader): { first: number; last: number } | undefined {
  // Two statements: SQLite reads one end of the rowid b-tree for each, but scans the whole table for both in one.
  const first = reader.connection.prepare('SELECT min(rowid) FROM rows').pluck().get() as number | null;
  const last = reader.connection.prepare('SELECT max(rowid) FROM rows').pluck().get() as number | null;
  return first === null || last === null ? undefined : { first, last };
}
