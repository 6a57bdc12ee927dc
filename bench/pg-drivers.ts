// Which PostgreSQL driver for the job store: `pg` (node-postgres) or `postgres` (porsager), on our claim/complete
// pattern. Not part of `npm run bench` (it only informed a choice, recorded in the README's Design notes):
//
//   npm run build && node dist/bench/pg-drivers.js [--jobs 20000] [--loops 4] [--batch 8] [--rounds 3]
//
// A real server (test/pg-harness.ts, durable settings: a commit waits for its WAL flush). Each round fills a
// jobs table, then `loops` concurrent loops each claim `batch` jobs at a time with FOR UPDATE SKIP LOCKED and
// complete each claimed job with its own fenced UPDATE (concurrently), as the dispatcher does; jobs/s is reported.
// The drivers alternate, round by round.
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import postgres from 'postgres';
import { startPostgres } from '../test/pg-harness.js';

const SCHEMA = `
  CREATE TABLE jobs (seq bigserial PRIMARY KEY, id text UNIQUE NOT NULL, kind text NOT NULL, status text NOT NULL,
    payload jsonb NOT NULL, priority int NOT NULL DEFAULT 0, run_at bigint NOT NULL, attempts int NOT NULL DEFAULT 0,
    owner text, lease_expires_at bigint, result jsonb, finished_at bigint, updated_at bigint NOT NULL);
  CREATE INDEX jobs_claim ON jobs (kind, priority DESC, run_at, seq) WHERE status = 'pending';`;
const CLAIM = `
  UPDATE jobs SET status = 'running', owner = $1, lease_expires_at = $2, attempts = attempts + 1, updated_at = $3
  WHERE id IN (SELECT id FROM jobs WHERE kind = 'noop' AND status = 'pending' AND run_at <= $3
               ORDER BY priority DESC, run_at, seq LIMIT $4 FOR UPDATE SKIP LOCKED)
  RETURNING id, attempts`;
const COMPLETE = `
  UPDATE jobs SET status = 'succeeded', result = $4, owner = NULL, lease_expires_at = NULL, finished_at = $5, updated_at = $5
  WHERE id = $1 AND owner = $2 AND attempts = $3 AND status = 'running' RETURNING id`;

interface Driver {
  name: string;
  query(text: string, params: unknown[]): Promise<Array<Record<string, unknown>>>;
  end(): Promise<void>;
}

function nodePostgres(url: string, max: number): Driver {
  const pool = new pg.Pool({ connectionString: url, max });
  return { name: 'pg', query: async (text, params) => (await pool.query(text, params)).rows, end: () => pool.end() };
}

function porsager(url: string, max: number): Driver {
  const sql = postgres(url, { max, onnotice: () => {} });
  return { name: 'postgres', query: async (text, params) => [...(await sql.unsafe(text, params as never[], { prepare: true }))], end: () => sql.end() };
}

async function round(driver: Driver, jobs: number, loops: number, batch: number): Promise<number> {
  await driver.query('TRUNCATE jobs', []);
  const now = Date.now();
  for (let i = 0; i < jobs; i += 1000) {
    const ids = Array.from({ length: Math.min(1000, jobs - i) }, () => randomUUID());
    await driver.query(`INSERT INTO jobs (id, kind, status, payload, run_at, updated_at)
                        SELECT id, 'noop', 'pending', '{}', $2, $2 FROM unnest($1::text[]) AS id`, [ids, now]);
  }
  await driver.query('VACUUM ANALYZE jobs', []);
  const started = performance.now();
  let done = 0;
  await Promise.all(Array.from({ length: loops }, async (_, loop) => {
    const owner = `owner-${loop}`;
    for (;;) {
      const t = Date.now();
      const claimed = await driver.query(CLAIM, [owner, t + 15_000, t, batch]);
      if (claimed.length === 0) return;
      await Promise.all(claimed.map((row) => driver.query(COMPLETE, [row.id, owner, row.attempts, '{"ok":true}', Date.now()])));
      done += claimed.length;
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  if (done !== jobs) throw new Error(`${driver.name}: completed ${done} of ${jobs}`);
  return Math.round(jobs / seconds);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { jobs: { type: 'string', default: '20000' }, loops: { type: 'string', default: '4' }, batch: { type: 'string', default: '8' }, rounds: { type: 'string', default: '3' } },
  });
  const [jobs, loops, batch, rounds] = [values.jobs, values.loops, values.batch, values.rounds].map(Number) as [number, number, number, number];
  const cluster = await startPostgres({ durable: true });
  try {
    const drivers = [nodePostgres(cluster.url, loops * batch), porsager(cluster.url, loops * batch)];
    await drivers[0]!.query(SCHEMA, []);
    const figures = new Map<string, number[]>(drivers.map((d) => [d.name, []]));
    await round(drivers[0]!, 1000, loops, batch); // warm-up of the server and of each driver
    await round(drivers[1]!, 1000, loops, batch);
    for (let r = 0; r < rounds; r++) {
      for (const driver of r % 2 === 0 ? drivers : [...drivers].reverse()) figures.get(driver.name)!.push(await round(driver, jobs, loops, batch));
    }
    for (const driver of drivers) await driver.end();
    console.log(`${jobs} no-op jobs, ${loops} loops claiming ${batch} at a time, one fenced UPDATE per completion (durable server)`);
    for (const [name, perRound] of figures) {
      const sorted = [...perRound].sort((a, b) => a - b);
      console.log(`${name.padEnd(9)} median ${sorted[Math.floor(sorted.length / 2)]} jobs/s  (rounds: ${perRound.join(', ')})`);
    }
  } finally {
    cluster.stop();
  }
}

await main();
