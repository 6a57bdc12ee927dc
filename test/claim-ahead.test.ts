// Claim-ahead: a short kind's jobs are claimed before a thread is free. They are leased and renewed while they
// wait, start with their true start time, can be cancelled without running, are given back at a graceful
// shutdown and recovered after SIGKILL; a long kind is never claimed ahead.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { createEngine, type Engine } from '../src/engine/engine.js';
import type { Job } from '../src/engine/job.js';
import { openSqliteJobStore } from '../src/engine/sqlite/sqlite-job-store.js';
import { fixturePath, makeTempDir, spawnServer, waitFor } from './helpers.js';

const silent = pino({ level: 'silent' });
const QUICK = { steps: 0 };
/** Long enough to look at the backlog behind it, short enough for the suite; honours ctx.signal. */
const LONG = { steps: 20, stepMs: 100 };

function newEngine(dataDir: string, leaseMs = 15_000): Engine {
  const engine = createEngine({ dataDir, store: openSqliteJobStore(dataDir), threads: 1, logger: silent, pollIntervalMs: 50, leaseMs });
  engine.register('slow-progress', fixturePath('slow-progress'));
  return engine;
}

async function enqueue(engine: Engine, payload: object): Promise<string> {
  return (await engine.enqueue({ kind: 'slow-progress', payload })).job.id;
}

async function finalState(engine: Engine, id: string): Promise<Job> {
  return waitFor(async () => {
    const job = await engine.get(id);
    return job && ['succeeded', 'failed', 'cancelled'].includes(job.status) ? job : undefined;
  }, 15_000, `job ${id} to finish`);
}

/**
 * Runs a few quick jobs (so that the kind counts as short), then a long one, then `behind` quick ones; resolves
 * with those claimed ahead (running while the long job holds the only thread: at least one; how many depends on
 * how short the quick ones were) and the others.
 */
async function backlogBehindLongJob(engine: Engine, behind: number): Promise<{ long: string; ahead: string[]; queued: string[] }> {
  for (let i = 0; i < 6; i++) await finalState(engine, await enqueue(engine, QUICK));
  const long = await enqueue(engine, LONG);
  await waitFor(async () => ((await engine.get(long))?.progressDone ? true : undefined), 10_000, 'the long job to run');
  const waiting = await Promise.all(Array.from({ length: behind }, () => enqueue(engine, QUICK)));
  const jobs = await waitFor(async () => {
    const found = await Promise.all(waiting.map((id) => engine.get(id)));
    return found.some((job) => job?.status === 'running') ? found : undefined;
  }, 5_000, 'a quick job to be claimed ahead');
  assert.equal((await engine.get(long))!.status, 'running');
  return { long, ahead: jobs.filter((job) => job!.status === 'running').map((job) => job!.id), queued: jobs.filter((job) => job!.status === 'pending').map((job) => job!.id) };
}

describe('claim-ahead', () => {
  test('jobs claimed ahead are leased and renewed while they wait, then run with their true start time', async () => {
    const engine = newEngine(makeTempDir(), 300);
    await engine.start();
    try {
      const { long, ahead: waiting } = await backlogBehindLongJob(engine, 4);
      const first = await Promise.all(waiting.map((id) => engine.get(id)));
      for (const job of first) assert.equal(job!.owner, engine.ownerId);
      // Well past the 300 ms lease: only the heartbeat keeps them; recovery would have taken them as `lost`.
      await new Promise((resolve) => setTimeout(resolve, 700));
      const later = await Promise.all(waiting.map((id) => engine.get(id)));
      later.forEach((job, i) => {
        assert.equal(job!.status, 'running');
        assert.ok(job!.leaseExpiresAt! > first[i]!.leaseExpiresAt!, 'the lease of a waiting job is renewed');
      });
      const longDone = await finalState(engine, long);
      for (const id of waiting) {
        const job = await finalState(engine, id);
        assert.deepEqual([job.status, job.attempts, job.error], ['succeeded', 1, null]);
        // Claimed while the long job had run for a moment; it started only once the long one ended.
        assert.ok(job.startedAt! >= longDone.startedAt! + 1000, `started_at is the real start (${job.startedAt! - longDone.startedAt!} ms after the long job's)`);
        assert.deepEqual((await engine.attempts(id)).map((a) => a.outcome), ['succeeded']);
      }
    } finally {
      await engine.close();
    }
  });

  test('a job cancelled while it waits for a thread ends cancelled without running', async () => {
    const engine = newEngine(makeTempDir());
    await engine.start();
    try {
      const { long, ahead, queued } = await backlogBehindLongJob(engine, 3);
      const result = await engine.cancel(ahead[0]!);
      assert.equal(result?.job.status, 'cancelled');
      const cancelled = await engine.get(ahead[0]!);
      assert.deepEqual([cancelled!.status, cancelled!.result, cancelled!.owner, cancelled!.attempts], ['cancelled', null, null, 1]);
      assert.deepEqual((await engine.attempts(ahead[0]!)).map((a) => a.outcome), ['cancelled']);
      assert.equal((await engine.get(long))!.status, 'running', 'the running job is not touched');
      for (const id of [...ahead.slice(1), ...queued]) assert.equal((await finalState(engine, id)).status, 'succeeded');
      assert.equal((await engine.get(ahead[0]!))!.status, 'cancelled');
    } finally {
      await engine.close();
    }
  });

  test('a graceful shutdown gives claimed-ahead jobs back at once, attempt not counted', async () => {
    const dataDir = makeTempDir();
    const engine = newEngine(dataDir);
    await engine.start();
    const { long, ahead, queued } = await backlogBehindLongJob(engine, 4);
    await engine.close({ graceMs: 100 });
    const reopened = newEngine(dataDir);
    try {
      for (const id of [long, ...ahead]) {
        const job = await reopened.get(id);
        assert.deepEqual([job!.status, job!.attempts, job!.owner, job!.startedAt], ['pending', 0, null, null], `job ${id} is back to pending`);
        assert.deepEqual((await reopened.attempts(id)).map((a) => a.outcome), ['released']);
      }
      await reopened.start();
      for (const id of [...ahead, ...queued]) assert.equal((await finalState(reopened, id)).status, 'succeeded');
    } finally {
      await reopened.close();
    }
  });

  test('a kind whose attempts are long is not claimed ahead', async () => {
    const engine = newEngine(makeTempDir());
    await engine.start();
    try {
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) ids.push(await enqueue(engine, { steps: 2, stepMs: 60 }));
      let most = 0;
      const watcher = setInterval(async () => {
        const jobs = await Promise.all(ids.map((id) => engine.get(id)));
        most = Math.max(most, jobs.filter((job) => job?.status === 'running').length);
      }, 10);
      for (const id of ids) await finalState(engine, id);
      clearInterval(watcher);
      assert.equal(most, 1, 'never more jobs running than threads');
    } finally {
      await engine.close();
    }
  });
});

test('SIGKILL: jobs claimed ahead by the dead process are recovered and run again, none stays running', async () => {
  const dataDir = makeTempDir();
  const args = ['--threads', '1', '--lease-ms', '2000', '--shutdown-grace', '1'];
  const first = await spawnServer(dataDir, args);
  const post = async (payload: object, maxAttempts = 3) =>
    (await first.request('POST', '/jobs', { body: { kind: 'slow-progress', payload, max_attempts: maxAttempts } })).body.job_id as string;
  for (let i = 0; i < 6; i++) {
    const id = await post(QUICK);
    await waitFor(async () => ((await first.request('GET', `/jobs/${id}`)).body.status === 'succeeded' ? true : undefined), 10_000, 'a quick job');
  }
  // One attempt only: after the kill it fails `lost` instead of holding the thread again.
  const long = await post({ steps: 200, stepMs: 100 }, 1);
  await waitFor(async () => ((await first.request('GET', `/jobs/${long}`)).body.status === 'running' ? true : undefined), 10_000, 'the long job to run');
  const quick = await Promise.all(Array.from({ length: 4 }, () => post(QUICK)));
  const waiting = await waitFor(async () => {
    const jobs = await Promise.all(quick.map(async (id) => (await first.request('GET', `/jobs/${id}`)).body));
    const running = jobs.filter((job) => job.status === 'running').map((job) => job.job_id as string);
    return running.length > 0 ? running : undefined;
  }, 5_000, 'a quick job to be claimed ahead');
  first.child.kill('SIGKILL');
  await first.exited;
  const second = await spawnServer(dataDir, args);
  try {
    for (const id of waiting) {
      const job = await waitFor(async () => {
        const body = (await second.request('GET', `/jobs/${id}`)).body;
        return body.status === 'succeeded' ? body : undefined;
      }, 15_000, `job ${id} to run again`);
      assert.equal(job.attempts, 2, 'the claim of the dead process counted as a lost attempt');
    }
    for (const id of quick) {
      await waitFor(async () => ((await second.request('GET', `/jobs/${id}`)).body.status === 'succeeded' ? true : undefined), 15_000, `job ${id} to run`);
    }
    const longJob = (await second.request('GET', `/jobs/${long}`)).body;
    assert.deepEqual([longJob.status, longJob.error.code], ['failed', 'lost']);
    assert.deepEqual((await second.request('GET', `/jobs?status=running`)).body.jobs, [], 'no job stays running');
  } finally {
    second.child.kill('SIGTERM');
    await second.exited;
  }
});
