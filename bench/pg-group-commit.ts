// Would a group commit of our own help the PostgreSQL store? By hand, not part of `npm run bench`:
//
//   npm run build && node dist/bench/pg-group-commit.js [--inserts 5000] [--clients 50] [--rounds 3]
//
// `clients` concurrent callers each insert one job row at a time (as concurrent POST /jobs do) until `inserts`
// rows are committed, on a durable server (test/pg-harness.ts), both with synchronous_commit on (--durability full)
// and off (normal). "pool": each insert its own transaction on a pool of 10 connections (what the store does);
// "group": inserts that arrive in the same turn of the event loop share one transaction (each caller answered
// after that COMMIT, as the SQLite store's group commit does). Rows/s, alternating rounds.
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { openPostgres, type Sql } from '../src/db/postgres-connection.js';
import { startPostgres } from '../test/pg-harness.js';

const INSERT = `INSERT INTO jobs (id, kind, status, payload, run_at, created_at, updated_at) VALUES ($1, 'k', 'pending', '{}', $2, $2, $2)`;

type Insert = (id: string) => Promise<void>;

function pooled(sql: Sql): Insert {
  return async (id) => {
    await sql.unsafe(INSERT, [id, Date.now()], { prepare: true });
  };
}

function grouped(sql: Sql): Insert {
  let queue: Array<{ id: string; done: () => void; failed: (err: unknown) => void }> = [];
  const flush = () => {
    const batch = queue;
    queue = [];
    sql
      .begin(async (tx) => {
        for (const write of batch) await tx.unsafe(INSERT, [write.id, Date.now()], { prepare: true });
      })
      .then(() => batch.forEach((write) => write.done()), (err) => batch.forEach((write) => write.failed(err)));
  };
  return (id) => new Promise<void>((done, failed) => {
    if (queue.push({ id, done, failed }) === 1) setImmediate(flush);
  });
}

async function round(sql: Sql, insert: Insert, inserts: number, clients: number): Promise<number> {
  await sql.unsafe('TRUNCATE jobs');
  let left = inserts;
  const started = performance.now();
  await Promise.all(Array.from({ length: clients }, async () => {
    while (left-- > 0) await insert(randomUUID());
  }));
  return Math.round(inserts / ((performance.now() - started) / 1000));
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { inserts: { type: 'string', default: '5000' }, clients: { type: 'string', default: '50' }, rounds: { type: 'string', default: '3' } } });
  const [inserts, clients, rounds] = [values.inserts, values.clients, values.rounds].map(Number) as [number, number, number];
  const cluster = await startPostgres({ durable: true });
  try {
    const setup = openPostgres(cluster.url, { max: 1 });
    await setup.unsafe(`CREATE TABLE jobs (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id text UNIQUE NOT NULL, kind text NOT NULL,
      status text NOT NULL, payload text NOT NULL, run_at bigint NOT NULL, created_at bigint NOT NULL, updated_at bigint NOT NULL)`);
    await setup.end();
    for (const durability of ['full', 'normal'] as const) {
      const sql = openPostgres(cluster.url, { max: 10, durability });
      const variants = { pool: pooled(sql), group: grouped(sql) };
      const figures: Record<string, number[]> = { pool: [], group: [] };
      await round(sql, variants.pool, 500, clients);
      await round(sql, variants.group, 500, clients);
      for (let r = 0; r < rounds; r++) {
        for (const name of ['pool', 'group'] as const) figures[name]!.push(await round(sql, variants[name], inserts, clients));
      }
      await sql.end();
      for (const [name, perRound] of Object.entries(figures)) {
        const sorted = [...perRound].sort((a, b) => a - b);
        console.log(`durability ${durability.padEnd(6)} ${name.padEnd(5)} median ${sorted[Math.floor(sorted.length / 2)]} inserts/s  (rounds: ${perRound.join(', ')})`);
      }
    }
  } finally {
    cluster.stop();
  }
}

await main();
