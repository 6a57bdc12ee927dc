// The one composition root: open and migrate the store (SQLite or PostgreSQL) → the engine and its kinds → the
// domain (datasets, exports, retention) → the HTTP app. `offload serve` uses it, and so can an embedder: nothing is
// left to wire.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type Koa from 'koa';
import type { Logger } from 'pino';
import { BUILT_IN_KINDS, builtInKindUrl, DEMO_KIND } from './built-in-kinds.js';
import { SqliteDatasetCatalog, type DatasetCatalog } from './datasets/dataset-catalog.js';
import { Datasets, openCatalogDatabase } from './datasets/datasets.js';
import { openPostgresDatasetCatalog } from './datasets/postgres-dataset-catalog.js';
import type { Durability } from './db/open-database.js';
import { createEngine, type Engine, type EngineOptions } from './engine/engine.js';
import type { JobStore } from './engine/job-store.js';
import { openPostgresJobStore } from './engine/postgres/postgres-job-store.js';
import { openSqliteJobStore } from './engine/sqlite/sqlite-job-store.js';
import { Exports } from './exports/exports.js';
import { startRetentionSweeper } from './exports/retention.js';
import { createApp, type AppOptions } from './http/app.js';
import { Registry } from 'prom-client';
import { CallbackDeliverer, type CallbackOptions } from './callbacks/callback-deliverer.js';
import { registerCallbackMetrics } from './callbacks/callback-metrics.js';
import { jobsDatabasePath } from './contracts/data-layout.js';
import { reasonOf, StartupError } from './startup-error.js';
import { VERSION } from './version.js';

export interface OffloadOptions {
  /**
   * Every file (see src/contracts/data-layout.ts), and with the SQLite store the jobs database. Created if missing.
   * With a PostgreSQL store, the one directory every node sharing that database mounts.
   */
  dataDir: string;
  /** `sqlite` (default: jobs.db in dataDir), or a `postgres://` URL: jobs and the dataset catalog in PostgreSQL. */
  store?: string;
  logger: Logger;
  durability?: Durability;
  /** The engine's tuning (threads, leases, limits). */
  engine?: Omit<EngineOptions, 'dataDir' | 'store' | 'logger'>;
  /** Offer the demo kind `sleep` to clients (default true). */
  demoKind?: boolean;
  /** Custom job kinds: worker module paths or URLs. */
  kinds?: ReadonlyArray<{ kind: string; module: string | URL }>;
  /** How long finished export files (and idempotency keys) are kept, ms. */
  resultTtlMs?: number;
  /** Largest single imported record (NDJSON line, CSV row), bytes. */
  maxRecordBytes?: number;
  /** The HTTP layer's options (token, limits, host allow-list). */
  http?: Omit<AppOptions, 'engine' | 'datasets' | 'exports' | 'logger' | 'callbackAllow'>;
  /** How completion callbacks are delivered (the secret, allowed hosts, timeout, attempts); the webhook for all jobs is engine.defaultCallbackUrl. */
  callbacks?: CallbackOptions;
}

export const OFFLOAD_DEFAULTS = Object.freeze({ resultTtlMs: 24 * 3600 * 1000, durability: 'normal' as Durability, store: 'sqlite' });

export interface Offload {
  readonly engine: Engine;
  readonly datasets: Datasets;
  readonly exports: Exports;
  /** The Koa app of the API and dashboard; mount `app.callback()` in any HTTP server. */
  readonly app: Koa;
  /** Recovers jobs of dead processes, starts the pool and the retention sweep. */
  start(): Promise<void>;
  /** Graceful stop: running jobs may finish for up to `graceMs`; the rest go back to pending. */
  close(options?: { graceMs?: number }): Promise<void>;
}

/**
 * The job store and the dataset catalog, both in SQLite (jobs.db) or both in PostgreSQL. The engine's tables
 * first: the catalog's migrations build on them.
 */
async function openStores(dataDir: string, store: string, durability: Durability): Promise<{ store: JobStore; catalog: DatasetCatalog }> {
  const postgres = store !== 'sqlite';
  const jobs = postgres ? await openPostgresJobStore(store, { durability }) : openSqliteJobStore(dataDir, { durability });
  try {
    const catalog = postgres ? await openPostgresDatasetCatalog(store, { durability }) : new SqliteDatasetCatalog(openCatalogDatabase(dataDir, { durability }));
    return { store: jobs, catalog };
  } catch (err) {
    await jobs.close();
    throw err;
  }
}

export async function createOffload(options: OffloadOptions): Promise<Offload> {
  const dataDir = resolve(options.dataDir);
  const durability = options.durability ?? OFFLOAD_DEFAULTS.durability;
  const resultTtlMs = options.resultTtlMs ?? OFFLOAD_DEFAULTS.resultTtlMs;
  let stores;
  try {
    mkdirSync(dataDir, { recursive: true });
    stores = await openStores(dataDir, options.store ?? OFFLOAD_DEFAULTS.store, durability);
  } catch (err) {
    if (options.store !== undefined && options.store !== 'sqlite') {
      throw new StartupError(`the PostgreSQL store cannot be used: ${reasonOf(err)}`, { cause: err });
    }
    // SQLite's own messages ("unable to open database file") do not say which file.
    const where = (err as { code?: unknown }).code?.toString().startsWith('SQLITE_') ? ` (${jobsDatabasePath(dataDir)})` : '';
    throw new StartupError(`the data directory ${dataDir} cannot be used: ${reasonOf(err)}${where}`, { cause: err });
  }
  const { store, catalog } = stores;
  const engine = createEngine({ ...options.engine, dataDir, store, logger: options.logger });
  for (const builtIn of BUILT_IN_KINDS) {
    if (builtIn.kind === DEMO_KIND && options.demoKind === false) continue;
    engine.register(builtIn.kind, builtInKindUrl(builtIn), { internal: builtIn.internal, taskErrorCodes: builtIn.errorCodes, maxThreads: builtIn.maxThreads });
  }
  for (const { kind, module } of options.kinds ?? []) engine.register(kind, module);
  const datasets = new Datasets(engine, catalog, { maxRecordBytes: options.maxRecordBytes });
  const exports = new Exports(engine, datasets, resultTtlMs, { producer: `offload ${VERSION}` });
  // The app (and its metrics) before start: start-up recovery of orphaned jobs is counted too.
  const metricsRegistry = options.http?.metricsRegistry ?? new Registry();
  const app = createApp({ ...options.http, metricsRegistry, callbackAllow: options.callbacks?.allow, engine, datasets, exports, logger: options.logger });
  const callbacks = new CallbackDeliverer(engine, options.logger, options.callbacks);
  registerCallbackMetrics(callbacks, metricsRegistry);

  let retention: ReturnType<typeof startRetentionSweeper> | undefined;
  let closing: Promise<void> | undefined;
  return {
    engine,
    datasets,
    exports,
    app,
    async start() {
      await engine.start();
      callbacks.start();
      retention = startRetentionSweeper({ engine, datasets, resultTtlMs, logger: options.logger });
    },
    close({ graceMs }: { graceMs?: number } = {}) {
      closing ??= (async () => {
        retention?.stop();
        await callbacks.stop();
        await engine.close({ graceMs });
      })();
      return closing;
    },
  };
}
