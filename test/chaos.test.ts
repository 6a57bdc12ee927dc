// Chaos: a real server process is killed with SIGKILL ten times at random moments under a steady stream of POSTs.
// The promise checked afterwards, on disk: every 202 is a row; after a drain nothing is pending or running; every
// succeeded job's worker ran to completion on the attempt that succeeded; a failed job failed with a documented
// process-death code. Duplicates (at-least-once) are counted, not forbidden: only jobs running at a kill may re-run.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { makeTempDir, spawnServer, waitFor, type ChildServer } from './helpers.js';

const KILLS = 10;
const THREADS = 2;
const CLIENTS = 3;
const SERVER_ARGS = ['--threads', String(THREADS), '--lease-ms', '2000', '--retry-base-ms', '20'];
const DEATH_CODES = new Set(['lost', 'crashed', 'worker_exit']);

// mulberry32: small, seedable, good enough to pick sleep lengths and kill moments reproducibly.
function createRandom(seed: number): (min: number, max: number) => number {
  let state = seed >>> 0;
  return (min, max) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const unit = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return Math.floor(min + unit * (max - min + 1));
  };
}

interface JobRow {
  id: string;
  status: string;
  attempts: number;
  max_attempts: number;
  owner: string | null;
  error: string | null;
}

test('SIGKILL ten times under load: no acknowledged job is lost, stuck, or succeeded without finishing', async () => {
  const seed = process.env.CHAOS_SEED ? Number(process.env.CHAOS_SEED) : Math.floor(Math.random() * 2 ** 32);
  assert.ok(Number.isInteger(seed), `CHAOS_SEED must be an integer, got ${process.env.CHAOS_SEED}`);
  console.log(`chaos: seed ${seed} (rerun with CHAOS_SEED=${seed})`);
  // Two streams: the kill schedule stays reproducible however the clients' draws interleave.
  const killRandom = createRandom(seed);
  const random = createRandom(seed ^ 0x9e3779b9);
  const dataDir = makeTempDir('offload-chaos-');
  const acknowledged = new Set<string>();
  const unexpected: string[] = [];
  const outputs: string[] = [];

  for (let round = 1; round <= KILLS; round++) {
    const server = await spawnServer(dataDir, SERVER_ARGS);
    let stopped = false;
    const client = async () => {
      while (!stopped) {
        try {
          const res = await server.request('POST', '/jobs', { body: { kind: 'chaos-work', payload: { ms: random(20, 300) } } });
          if (res.status === 202) acknowledged.add(res.body.job_id);
          else if (!stopped) unexpected.push(`round ${round}: ${res.status} ${res.text}`);
        } catch {
          // A request in flight at the kill fails with a connection error: it was never acknowledged.
        }
        await sleep(random(40, 160));
      }
    };
    const clients = Array.from({ length: CLIENTS }, client);
    await sleep(killRandom(200, 1500));
    server.child.kill('SIGKILL');
    const exit = await server.exited;
    stopped = true;
    await Promise.all(clients);
    outputs.push(server.output());
    assert.equal(exit.signal, 'SIGKILL', `round ${round}: the server died of the kill, not of itself:\n${server.output()}`);
  }

  const last = await spawnServer(dataDir, SERVER_ARGS);
  // A drain that times out is reported after the per-job checks below, which name the stuck job and its log.
  let drainError: unknown;
  try {
    // The two lists are read one after the other, so a job moving between them can be missed once: require two
    // empty readings in a row.
    let emptyReadings = 0;
    await waitFor(async () => {
      const active = (await countJobs(last, 'pending')) + (await countJobs(last, 'running'));
      emptyReadings = active === 0 ? emptyReadings + 1 : 0;
      return emptyReadings >= 2 ? true : undefined;
    }, 60_000, 'the restarted server to drain every pending and running job').catch((err) => (drainError = err));
  } finally {
    last.child.kill('SIGTERM');
    const exit = await last.exited;
    outputs.push(last.output());
    assert.equal(exit.code, 0, `the draining server exits cleanly on SIGTERM:\n${last.output()}`);
  }

  const rows = readJobRows(dataDir);
  const completions = readCompletions(dataDir);
  const logLines = (id: string) =>
    outputs.flatMap((out, i) => out.split('\n').filter((l) => l.includes(id)).map((l) => `[start ${i + 1}] ${l}`)).join('\n');
  const describe = (id: string) =>
    `row: ${JSON.stringify(rows.get(id) ?? null)}\ncompletions (attempts): ${JSON.stringify(completions.get(id) ?? [])}\nlog:\n${logLines(id)}`;

  assert.deepEqual(unexpected, [], 'every POST that got an answer got 202');
  for (const id of acknowledged) assert.ok(rows.has(id), `acknowledged job ${id} is in the table\n${describe(id)}`);
  for (const id of completions.keys()) assert.ok(rows.has(id), `job ${id} ran but has no row\n${describe(id)}`);

  const failedByCode = new Map<string, number>();
  let duplicates = 0;
  let sameAttemptTwice = 0;
  let retried = 0;
  for (const row of rows.values()) {
    assert.ok(['succeeded', 'failed'].includes(row.status), `job ${row.id} ended succeeded or failed after the drain\n${describe(row.id)}`);
    const ran = completions.get(row.id) ?? [];
    if (ran.length > 1) duplicates++;
    if (row.attempts > 1) retried++;
    if (new Set(ran).size < ran.length) sameAttemptTwice++;
    if (row.status === 'succeeded') {
      assert.ok(ran.length > 0, `succeeded job ${row.id} has no completion line: it succeeded without its worker finishing\n${describe(row.id)}`);
      assert.ok(ran.includes(row.attempts), `succeeded job ${row.id} has no completion line for attempt ${row.attempts}, the one recorded as succeeded\n${describe(row.id)}`);
    } else {
      const code = row.error ? (JSON.parse(row.error).code as string) : 'none';
      assert.ok(DEATH_CODES.has(code), `failed job ${row.id} failed with ${code}, not one of ${[...DEATH_CODES].join(', ')}\n${describe(row.id)}`);
      failedByCode.set(code, (failedByCode.get(code) ?? 0) + 1);
    }
  }
  if (drainError) throw drainError;
  const failed = [...failedByCode.values()].reduce((a, b) => a + b, 0);
  const codes = [...failedByCode].map(([code, n]) => `${code}: ${n}`).join(', ') || 'none';
  console.log(
    `chaos: ${KILLS} kills, ${acknowledged.size} jobs acknowledged (${rows.size} in the table), ${retried} needed more than one attempt, ` +
      `${duplicates} executed more than once (at-least-once), ${failed} failed (${codes}); seed ${seed}`,
  );
  assert.equal(sameAttemptTwice, 0, 'no attempt number ran to completion twice (that would be a double claim)');
  // Only a job running at a kill can run again: at most THREADS per kill, with slack for a recovery overlapping a kill.
  assert.ok(duplicates <= KILLS * THREADS * 2, `${duplicates} duplicates for ${KILLS} kills of ${THREADS} threads`);
});

async function countJobs(server: ChildServer, status: string): Promise<number> {
  let count = 0;
  let cursor: string | null = null;
  do {
    const res = await server.request('GET', `/jobs?status=${status}&limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    assert.equal(res.status, 200, res.text);
    count += res.body.jobs.length;
    cursor = res.body.next_cursor;
  } while (cursor);
  return count;
}

function readJobRows(dataDir: string): Map<string, JobRow> {
  const db = new Database(join(dataDir, 'jobs.db'), { readonly: true });
  try {
    const rows = db.prepare('SELECT id, status, attempts, max_attempts, owner, error FROM jobs').all() as JobRow[];
    return new Map(rows.map((row) => [row.id, row]));
  } finally {
    db.close();
  }
}

/** Job id → the attempt numbers whose execution ran to completion, in log order. */
function readCompletions(dataDir: string): Map<string, number[]> {
  const file = join(dataDir, 'completions.log');
  const byId = new Map<string, number[]>();
  if (!existsSync(file)) return byId;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const [id, attempt] = line.split(' ');
    byId.set(id!, [...(byId.get(id!) ?? []), Number(attempt)]);
  }
  return byId;
}
