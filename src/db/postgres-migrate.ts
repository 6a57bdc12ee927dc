import { readMigrations, type MigrationSet } from './migrate.js';
import type { Durability } from './open-database.js';
import { openPostgres, type Sql } from './postgres-connection.js';

/** One key for every set: nodes starting together migrate one after the other, whichever set they run. */
const MIGRATION_LOCK_KEY = 7_164_025_313;

/**
 * Applies the migrations of `set` newer than its version in `schema_versions`, all in one transaction that first
 * takes a transaction-level advisory lock: of N nodes starting at once, one migrates while the others wait, then
 * find the new version and apply nothing. A failing migration rolls the whole set back. Returns how many it applied.
 */
export async function migratePostgres(sql: Sql, set: MigrationSet): Promise<number> {
  const migrations = readMigrations(set.dir);
  return sql.begin(async (tx) => {
    await tx.unsafe(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
    await tx.unsafe('CREATE TABLE IF NOT EXISTS schema_versions (component text PRIMARY KEY, version integer NOT NULL)');
    const [row] = await tx.unsafe('SELECT version FROM schema_versions WHERE component = $1', [set.component]);
    const current = (row?.version as number | undefined) ?? 0;
    let applied = 0;
    for (const migration of migrations.filter((m) => m.version > current)) {
      try {
        await tx.unsafe(migration.sql);
      } catch (err) {
        throw new Error(`migration ${set.component}/${migration.version}-${migration.name} failed: ${(err as Error).message}`, { cause: err });
      }
      await tx.unsafe(
        `INSERT INTO schema_versions (component, version) VALUES ($1, $2)
         ON CONFLICT (component) DO UPDATE SET version = excluded.version`,
        [set.component, migration.version],
      );
      applied++;
    }
    return applied;
  });
}

/** A pool of `max` connections to `url` with `set` brought up to date, then `prepare` run; ended again if either fails. */
export async function openMigratedPostgres(
  url: string,
  set: MigrationSet,
  { max, durability, prepare }: { max: number; durability?: Durability; prepare?: (sql: Sql) => Promise<unknown> },
): Promise<Sql> {
  const sql = openPostgres(url, { max, durability });
  try {
    await migratePostgres(sql, set);
    await prepare?.(sql);
  } catch (err) {
    await sql.end({ timeout: 1 });
    throw err;
  }
  return sql;
}
