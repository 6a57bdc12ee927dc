import Database from 'better-sqlite3';
import type { Database as SqliteDatabase } from 'better-sqlite3';

export type Durability = 'normal' | 'full';

export interface OpenDatabaseOptions {
  /** `normal`: a commit survives a crash of the process; `full`: it also survives a power loss (fsync per commit). */
  durability?: Durability;
  readonly?: boolean;
  /**
   * How long a statement waits for another connection's lock before SQLITE_BUSY, ms; better-sqlite3 waits
   * synchronously, blocking its thread. Default 5000.
   */
  busyTimeoutMs?: number;
}

/**
 * Opens a SQLite file with the settings every connection of offload uses: WAL so that readers never block the
 * writer, a busy timeout so that concurrent writers from several processes wait instead of failing.
 */
export function openDatabase(file: string, options: OpenDatabaseOptions = {}): SqliteDatabase {
  const db = new Database(file, { readonly: options.readonly ?? false });
  setBusyTimeout(db, options.busyTimeoutMs ?? 5000);
  if (!options.readonly) {
    db.pragma('journal_mode = WAL');
    // In WAL mode NORMAL syncs only at checkpoints: a commit survives the process dying, not the machine.
    db.pragma(`synchronous = ${options.durability === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma('foreign_keys = ON');
  }
  return db;
}

/** How long a statement of `db` waits for another connection's lock, ms (better-sqlite3 waits synchronously). */
export function setBusyTimeout(db: SqliteDatabase, ms: number): void {
  db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(ms))}`);
}
