// Where things are, from the compiled file's point of view: dist/bench/lib/paths.js.
import { fileURLToPath } from 'node:url';

const here = (relative: string): string => fileURLToPath(new URL(relative, import.meta.url));

/** The repository root (dist/bench/lib → ../../..). */
export const REPO_ROOT = here('../../../');
/** The offload command line, as `npm run build` leaves it. */
export const MAIN_JS = here('../../src/main.js');
/** Git-ignored (bench/.gitignore): generated datasets are cached here between runs. */
export const CACHE_DIR = here('../../../bench/.data/cache');
/** Default home of the per-run data directories of a full run; on the same file system as the cache (hard links). */
export const RUNS_DIR = here('../../../bench/.data/runs');
export const DEFAULT_RESULTS_FILE = here('../../../bench/results.json');

export const NOOP_WORKER = here('../workers/noop.js');
export const SLEEP_WORKER = here('../workers/sleep.js');
export const BARE_KOA_SERVER = here('../reference/bare-koa-server.js');
export const NAIVE_EXPORT_SERVER = here('../reference/naive-export-server.js');
export const XLSX_CHILD = here('../reference/xlsx-child.js');
