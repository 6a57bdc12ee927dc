// tsc compiles TypeScript only; each set of SQL migrations is read at run time from beside its compiled module.
import { cpSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Every set of SQL migrations: its component name (its folder in the single executable) and its source folder. */
export const MIGRATION_SETS = [
  { component: 'jobs', dir: 'src/engine/sqlite/migrations' },
  { component: 'catalog', dir: 'src/datasets/migrations' },
  { component: 'pg-jobs', dir: 'src/engine/postgres/migrations' },
  { component: 'pg-catalog', dir: 'src/datasets/postgres-migrations' },
];

if (fileURLToPath(import.meta.url) === resolve(process.argv[1] ?? '')) {
  for (const { dir } of MIGRATION_SETS) cpSync(dir, `dist/${dir}`, { recursive: true });
}
