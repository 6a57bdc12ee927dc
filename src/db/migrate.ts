import { readdirSync, readFileSync } from 'node:fs';
import type { Database } from 'better-sqlite3';
import { migrationsDirectory } from '../runtime/single-executable.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const MIGRATION_FILE = /^(\d{4})-([a-z0-9-]+)\.sql$/;

export function readMigrations(dir: string = migrationsDirectory()): Migration[] {
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
 * Applies, in order and each in its own transaction, the migrations newer than the database's `user_version`.
 * Several processes may start at once on one file: BEGIN IMMEDIATE makes the second wait, then see the new version.
 */
export function migrate(db: Database, migrations: Migration[] = readMigrations()): number {
  let applied = 0;
  for (const migration of migrations) {
    db.exec('BEGIN IMMEDIATE');
    try {
      const current = db.pragma('user_version', { simple: true }) as number;
      if (migration.version > current) {
        db.exec(migration.sql);
        db.pragma(`user_version = ${migration.version}`);
        applied++;
      }
      db.exec('COMMIT');
    } catch (err) {
      db.exec('ROLLBACK');
      throw new Error(`migration ${migration.version}-${migration.name} failed: ${(err as Error).message}`, { cause: err });
    }
  }
  return applied;
}
