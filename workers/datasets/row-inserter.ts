// How the import's rows get into a dataset file's `rows` table: many rows per INSERT statement (one native call
// binds them all), one transaction per batch, values taken from one flat array, so that no array per row is made.
// Also counts the nulls of each column on the way (the file records them, format 2).
import type { Database as SqliteDatabase, Statement } from 'better-sqlite3';
import type { CellValue, DatasetColumn } from './dataset-file.js';

/** SQLite's default SQLITE_MAX_VARIABLE_NUMBER is 32766; more rows per statement stopped paying off near 64. */
const MAX_ROWS_PER_STATEMENT = 64;
const MAX_VARIABLES = 32_766;

export interface RowInserter {
  /** `count` rows of one value per column each, row after row; booleans may be replaced by 0/1 in place. */
  insertFlat(values: CellValue[], count: number): void;
  readonly rowCount: number;
  readonly nullCounts: number[];
}

export function createRowInserter(db: SqliteDatabase, columns: readonly DatasetColumn[]): RowInserter {
  const width = columns.length;
  const rowsPerStatement = Math.max(1, Math.min(MAX_ROWS_PER_STATEMENT, Math.floor(MAX_VARIABLES / width)));
  const rowPlaceholders = `(${columns.map(() => '?').join(', ')})`;
  const statements = new Map<number, Statement>();
  const statementFor = (rows: number): Statement => {
    let statement = statements.get(rows);
    if (!statement) {
      statement = db.prepare(`INSERT INTO rows VALUES ${Array.from({ length: rows }, () => rowPlaceholders).join(', ')}`);
      statements.set(rows, statement);
    }
    return statement;
  };
  const booleanIndexes = columns.flatMap((column, index) => (column.type === 'boolean' ? [index] : []));
  const nullCounts = columns.map(() => 0);
  let rowCount = 0;

  const insertBatch = db.transaction((values: CellValue[], count: number) => {
    if (values.length !== count * width) throw new RangeError(`${values.length} values are not ${count} rows of ${width}`);
    for (let k = 0, i = 0; k < values.length; k++) {
      const value = values[k];
      if (value === null) nullCounts[i]!++;
      if (++i === width) i = 0;
    }
    // better-sqlite3 cannot bind JavaScript booleans.
    for (const index of booleanIndexes) {
      for (let k = index; k < values.length; k += width) {
        const value = values[k];
        if (typeof value === 'boolean') values[k] = value ? 1 : 0;
      }
    }
    const full = statementFor(rowsPerStatement);
    const step = rowsPerStatement * width;
    let start = 0;
    for (; start + step <= values.length; start += step) full.run(values.slice(start, start + step));
    if (start < values.length) statementFor((values.length - start) / width).run(values.slice(start));
    rowCount += count;
  });

  return {
    insertFlat: (values, count) => insertBatch(values, count),
    get rowCount() {
      return rowCount;
    },
    nullCounts,
  };
}
