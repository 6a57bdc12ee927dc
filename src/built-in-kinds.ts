// The job kinds offload itself provides, in one list read by the composition root (to register them) and by
// scripts/binary/worker-bundles.mjs (to bundle each worker module into the single executable).
import { workerModuleUrl } from './runtime/single-executable.js';
import { EXPORT_KIND, EXPORT_MAX_THREADS } from './contracts/export-contract.js';
import { IMPORT_KIND } from './contracts/import-contract.js';
import { DATASET_TASK_ERROR_CODES } from './contracts/task-errors.js';

export interface BuiltInKind {
  kind: string;
  /** The worker module's source, relative to the project root; it compiles to dist/<same path>.js. */
  entry: string;
  /** The codes, besides the engine's own, its tasks may fail with (their validation). */
  errorCodes: readonly string[];
  /** Started only by offload's own routes (see KindRegistry); the others a client may start with POST /jobs. */
  internal: boolean;
  /** Threads one job may use when the pool has them idle (RegisterOptions.maxThreads); 1 when absent. */
  maxThreads?: number;
}

export const DEMO_KIND = 'sleep';

export const BUILT_IN_KINDS: readonly BuiltInKind[] = Object.freeze([
  { kind: EXPORT_KIND, entry: 'workers/export.ts', errorCodes: DATASET_TASK_ERROR_CODES, internal: true, maxThreads: EXPORT_MAX_THREADS },
  { kind: IMPORT_KIND, entry: 'workers/import.ts', errorCodes: DATASET_TASK_ERROR_CODES, internal: true },
  // The demo kind of the quick start; `--no-demo-kind` leaves it out.
  { kind: DEMO_KIND, entry: 'workers/sleep.ts', errorCodes: ['invalid_payload'], internal: false },
]);

/** Where the compiled module of `kind` is: in dist/, or extracted from the single executable. */
export function builtInKindUrl({ entry }: BuiltInKind): URL {
  return workerModuleUrl(new URL(`../${entry.replace(/\.ts$/, '.js')}`, import.meta.url));
}
