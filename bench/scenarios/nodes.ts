// Several nodes on one PostgreSQL (a real, durable server from test/pg-harness.ts, on this same machine):
//   pg_jobs_per_s.nodes_N — no-op jobs/s run by N `offload serve --store postgres://…` processes (N = 1, 2, 3; each
//     with the default thread count): J pending jobs are inserted in one statement (its NOTIFY wakes every node),
//     and the rate is J over the span from the first job's start to the last one's end, read from the rows;
//   pg_scaling_N_over_1 — that rate for N nodes ÷ for 1 node, round by round;
//   pg_vs_sqlite — 1 node on PostgreSQL ÷ 1 node on its SQLite file, measured the same way in the same rounds;
//   pg_idle_latency_ms — as idle_latency_ms, with the engine on the PostgreSQL store.
// Every node runs on the same 2 cores as the database: the ratios say what contention costs, not what N machines gain.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openPostgres, type Sql } from '../../src/db/postgres-connection.js';
import { startPostgres, type PostgresCluster } from '../../test/pg-harness.js';
import { spawnOffload, type ChildServer } from '../lib/child-server.js';
import { startBenchEngine } from '../lib/engine-harness.js';
import type { BenchContext, Figure } from '../lib/figures.js';
import { NOOP_WORKER } from '../lib/paths.js';
import { alternate, median, medianRatio, round, waitFor } from '../lib/stats.js';
import { defaultThreads } from './dispatch.js';
import { measureIdleLatencies } from './idle-latency.js';

const NODE_COUNTS = [1, 2, 3] as const;

/** How the jobs get in and how their span is read, for one store. */
interface QueueProbe {
  insertNoops(count: number): Promise<void>;
  /** Once every job succeeded: [first started_at, last finished_at], epoch ms. */
  finishedSpan(count: number): Promise<[number, number] | undefined>;
  close(): Promise<void>;
}

function postgresProbe(sql: Sql): QueueProbe {
  return {
    async insertNoops(count) {
      const now = Date.now();
      await sql.unsafe(
        `INSERT INTO jobs (id, kind, status, payload, priority, run_at, max_attempts, timeout_ms, created_at, updated_at)
         SELECT gen_random_uuid()::text, 'noop', 'pending', '{}', 0, $1, 3, 60000, $1, $1 FROM generate_series(1, $2)`,
        [now, count],
      );
    },
    async finishedSpan(count) {
      const [row] = await sql.unsafe(`SELECT count(*) AS n, min(started_at) AS first, max(finished_at) AS last FROM jobs WHERE status = 'succeeded'`);
      return Number(row!.n) === count ? [Number(row!.first), Number(row!.last)] : undefined;
    },
    close: () => sql.end({ timeout: 5 }),
  };
}

function sqliteProbe(dataDir: string): QueueProbe {
  const db = new Database(path.join(dataDir, 'jobs.db'));
  db.pragma('busy_timeout = 5000');
  const insert = db.prepare(`INSERT INTO jobs (id, kind, status, payload, priority, run_at, max_attempts, timeout_ms, created_at, updated_at)
                             VALUES (?, 'noop', 'pending', '{}', 0, ?, 3, 60000, ?, ?)`);
  const span = db.prepare(`SELECT count(*) AS n, min(started_at) AS first, max(finished_at) AS last FROM jobs WHERE status = 'succeeded'`);
  return {
    async insertNoops(count) {
      const now = Date.now();
      db.transaction(() => {
        for (let i = 0; i < count; i++) insert.run(randomUUID(), now, now, now);
      })();
    },
    async finishedSpan(count) {
      const row = span.get() as { n: number; first: number; last: number };
      return row.n === count ? [row.first, row.last] : undefined;
    },
    async close() {
      db.close();
    },
  };
}

/** Starts `nodes` servers on `store`, inserts `jobs` no-op jobs, and returns jobs/s from the rows' own times. */
async function runNodes(ctx: BenchContext, store: string, nodes: number, jobs: number, threads: number): Promise<number> {
  const dataDir = ctx.newDir(`nodes-${nodes}`);
  const flags = ['--data-dir', dataDir, '--store', store, '--threads', String(threads), '--job', `noop=${NOOP_WORKER}`, '--max-pending', String(jobs * 2)];
  const servers: ChildServer[] = [];
  let probe: QueueProbe | undefined;
  try {
    servers.push(...(await Promise.all(Array.from({ length: nodes }, (_, i) =>
      spawnOffload(flags, { logFile: path.join(dataDir, `node-${i}.log`), nodeArgs: ctx.childNodeArgs })))));
    probe = store === 'sqlite' ? sqliteProbe(dataDir) : postgresProbe(openPostgres(store, { max: 1 }));
    await probe.insertNoops(jobs);
    const [first, last] = await waitFor('every no-op job to succeed', () => probe!.finishedSpan(jobs), { timeoutMs: 300_000, intervalMs: 50 });
    return jobs / (Math.max(1, last - first) / 1000);
  } finally {
    await probe?.close();
    await Promise.all(servers.map((server) => server.stop()));
  }
}

async function idleLatency(ctx: BenchContext, url: string): Promise<{ median: number; samples: number }> {
  const bench = await startBenchEngine(ctx.newDir('pg-idle'), { threads: defaultThreads() }, url);
  try {
    const latencies = await measureIdleLatencies(bench, ctx.sizes.idleSamples);
    return { median: median(latencies), samples: latencies.length };
  } finally {
    await bench.close();
  }
}

export async function benchNodes(ctx: BenchContext): Promise<Figure[]> {
  const threads = defaultThreads();
  const jobs = ctx.sizes.dispatchJobs;
  let cluster: PostgresCluster | undefined;
  try {
    cluster = await startPostgres({ durable: true });
    let databases = 0;
    const freshDatabase = () => cluster!.createDatabase(`bench_${++databases}`);
    const measured = await alternate(
      ctx.sizes.rounds,
      {
        sqlite: () => runNodes(ctx, 'sqlite', 1, jobs, threads),
        nodes_1: () => runNodes(ctx, freshDatabase(), 1, jobs, threads),
        nodes_2: () => runNodes(ctx, freshDatabase(), 2, jobs, threads),
        nodes_3: () => runNodes(ctx, freshDatabase(), 3, jobs, threads),
      },
      (name, i, value) => ctx.log(`  round ${i + 1} ${name}: ${Math.round(value).toLocaleString('en')} jobs/s`),
    );
    const idle = await idleLatency(ctx, freshDatabase());
    ctx.log(`  idle latency on PostgreSQL: median ${idle.median.toFixed(2)} ms over ${idle.samples} jobs`);
    const perSecond = (name: keyof typeof measured) => Math.round(median(measured[name]));
    const setup = `${jobs.toLocaleString('en')} no-op jobs, ${threads} thread(s) per node, PostgreSQL 15 with fsync on the same machine`;
    return [
      ...NODE_COUNTS.map((n): Figure => ({
        name: `pg_jobs_per_s.nodes_${n}`,
        value: perSecond(`nodes_${n}`),
        unit: 'jobs/s',
        what: `no-op jobs/s with ${n} node(s) on one PostgreSQL: ${setup}`,
        reference: null,
        target: null,
        detail: { rounds: measured[`nodes_${n}`].map(Math.round) },
      })),
      ...([2, 3] as const).map((n): Figure => ({
        name: `pg_scaling_${n}_over_1`,
        value: round(medianRatio(measured[`nodes_${n}`], measured.nodes_1)),
        unit: 'ratio',
        what: `jobs/s of ${n} nodes ÷ 1 node on one PostgreSQL, per round (${setup})`,
        reference: { what: '1 node on PostgreSQL', value: perSecond('nodes_1'), unit: 'jobs/s' },
        target: null,
        detail: {},
      })),
      {
        name: 'pg_vs_sqlite',
        value: round(medianRatio(measured.nodes_1, measured.sqlite)),
        unit: 'ratio',
        what: `jobs/s of 1 node on PostgreSQL ÷ 1 node on SQLite, same rounds (${setup})`,
        reference: { what: '1 node on SQLite (jobs.db)', value: perSecond('sqlite'), unit: 'jobs/s' },
        target: null,
        detail: { sqlite_rounds: measured.sqlite.map(Math.round) },
      },
      {
        name: 'pg_idle_latency_ms',
        value: round(idle.median, 3),
        unit: 'ms',
        what: `median enqueue → succeeded of one no-op job on an idle engine on the PostgreSQL store (${threads} thread(s), ${idle.samples} jobs, 20 ms apart)`,
        reference: null,
        target: { op: '<=', value: 10 },
        detail: { samples: idle.samples },
      },
    ];
  } finally {
    cluster?.stop();
  }
}
