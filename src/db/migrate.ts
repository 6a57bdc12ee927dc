import { readdirSync, readFileSync } from 'node:fs';
import type { Database } from 'better-sqlite3';
import { openDatabase, setBusyTimeout, type OpenDatabaseOptions } from './open-database.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export interface MigrationSet {
  /** Whose tables these are (e.g. `jobs`, `catalog`); each set has its own version in `schema_versions`. */
  component: string;
  /** Holds the set's `NNNN-name.sql` files. */
  dir: string;
  /**
   * The set whose version was kept in `PRAGMA user_version` before there were several sets: a database without
   * its row in `schema_versions` starts from that version.
   */
  adoptsUserVersion?: boolean;
}

const MIGRATION_FILE = /^(\d{4})-([a-z0-9-]+)\.sql$/;

/** Opens `file` (see openDatabase) and brings `set` up to date; the connection is closed again if that fails. */
export function openMigratedDatabase(file: string, set: MigrationSet, options: OpenDatabaseOptions = {}): Database {
  // Migrating may wait for another process migrating the same file: the default busy timeout until it is done.
  const db = openDatabase(file, { ...options, busyTimeoutMs: undefined });
  try {
    migrate(db, set);
  } catch (err) {
    db.close();
    throw err;
  }
  if (options.busyTimeoutMs !== undefined) setBusyTimeout(db, options.busyTimeoutMs);
  return db;
}

export function readMigrations(dir: string): Migration[] {
  return readdirSync(dir)
    .map((file) => {
      const match = MIGRATION_FILE.exec(file);
      if (!match) return undefined;
      return { version: Number(match[1]), name: match[2]!, sql: readFileSync(`${dir}/${file}`, 'utf8') };
    })
    .filter((m): m is Migration => m !== undefined)
    .sort((a, b) => a.version - b.version);
}

/**
 * Applies, in order and each in its own transaction, the migrations of `set` newer than its recorded version.
 * Several processes may start at once on one file: BEGIN IMMEDIATE makes the second wait, then see the new version.
 */
export function migrate(db: Database, set: MigrationSet, migrations: Migration[] = readMigrations(set.dir)): number {
  let applied = 0;
  for (const migration of migrations) {
    db.exec('BEGIN IMMEDIATE');
    try {
      const current = currentVersion(db, set);
      if (migration.version > current) {
        db.exec(migration.sql);
        db.prepare(`INSERT INTO schema_versions (component, version) VALUES (?, ?)
                    ON CONFLICT (component) DO UPDATE SET version = excluded.version`).run(set.component, migration.version);
        if (set.adoptsUserVersion) db.pragma(`user_version = ${migration.version}`);
        applied++;
      }
      db.exec('COMMIT');
    } catch (err) {
      db.exec('ROLLBACK');
      throw new Error(`migration ${set.component}/${migration.version}-${migration.name} failed: ${(err as Error).message}`, { cause: err });
    }
  }
  return applied;
}

function currentVersion(db: Database, set: MigrationSet): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID');
  const row = db.prepare('SELECT version FROM schema_versions WHERE component = ?').get(set.component) as { version: number } | undefined;
  if (row) return row.version;
  return set.adoptsUserVersion ? (db.pragma('user_version', { simple: true }) as number) : 0;
}
