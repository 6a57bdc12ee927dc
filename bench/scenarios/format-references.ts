// The fastest writer of each format available in the same run, fed the same rows:
//   json:    `sqlite3 -json` on the dataset file (the C command-line tool);
//   ndjson:  `sqlite3` printing json_object(…) per row (it has no NDJSON mode);
//   parquet: DuckDB (`@duckdb/node-api`, a devDependency) `COPY … TO … (FORMAT parquet)` from an in-memory table
//            loaded, before timing, from the CSV export of the same dataset; one DuckDB thread, as one export uses.
// Each returns rows/s, or is absent (with the reason) when its tool is not installed.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { sqlite3ToFile } from '../lib/sqlite3-cli.js';
import { findSqlite3 } from './export-csv.js';

export type Reference = () => Promise<number>;

export interface FormatReferences {
  references: Partial<Record<'json' | 'ndjson' | 'parquet', { what: string; run: Reference }>>;
  missing: Partial<Record<'json' | 'ndjson' | 'parquet', string>>;
  close(): Promise<void>;
}

const COLUMNS = Array.from({ length: 8 }, (_v, i) => `c${i}`);

export async function createFormatReferences(
  datasetFile: string,
  rows: number,
  workDir: string,
  /** Writes the dataset as CSV (through the engine) and returns the file: DuckDB's input. */
  csvOfDataset: () => Promise<string>,
): Promise<FormatReferences> {
  const references: FormatReferences['references'] = {};
  const missing: FormatReferences['missing'] = {};
  const sqlite3 = findSqlite3();
  const select = `SELECT ${COLUMNS.join(', ')} FROM rows ORDER BY rowid`;
  if (sqlite3) {
    const version = sqlite3.split(' ')[0];
    references.json = {
      what: `sqlite3 -json on the same dataset file (${version})`,
      run: async () => rows / ((await sqlite3ToFile(['-json', '-readonly', datasetFile, select], path.join(workDir, 'ref.json'))) / 1000),
    };
    const objects = `SELECT json_object(${COLUMNS.map((c) => `'${c}', ${c}`).join(', ')}) FROM rows ORDER BY rowid`;
    references.ndjson = {
      what: `sqlite3 printing json_object(…) per row (${version})`,
      run: async () => rows / ((await sqlite3ToFile(['-list', '-readonly', datasetFile, objects], path.join(workDir, 'ref.ndjson'))) / 1000),
    };
  } else {
    missing.json = missing.ndjson = 'the sqlite3 command-line tool is not installed (apt-get install -y sqlite3)';
  }
  let close = async (): Promise<void> => {};
  try {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
    const connection = await instance.connect();
    const csv = await csvOfDataset();
    await connection.run(`CREATE TABLE t AS SELECT * FROM read_csv('${csv.replaceAll("'", "''")}', header = true)`);
    rmSync(csv, { force: true });
    const out = path.join(workDir, 'ref.parquet').replaceAll("'", "''");
    references.parquet = {
      what: 'DuckDB COPY TO parquet (snappy) from an in-memory table of the same rows, 1 thread',
      run: async () => {
        const started = performance.now();
        await connection.run(`COPY t TO '${out}' (FORMAT parquet, COMPRESSION snappy)`);
        const ms = performance.now() - started;
        rmSync(out, { force: true });
        return rows / (ms / 1000);
      },
    };
    close = async () => {
      connection.closeSync();
      instance.closeSync();
    };
  } catch (err) {
    missing.parquet = `DuckDB (@duckdb/node-api, a devDependency) could not be used: ${(err as Error).message}`;
  }
  return { references, missing, close: () => close() };
}
