// The engine's promise under a locked database, a frozen owner, a cancel at the wrong moment and a shutdown racing
// a claim: no job stays `running`, no cancel is lost, no attempt is burnt. Real processes, a real `sqlite3` holding
// the lock, real worker threads.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { pino } from 'pino';
import { jobsDatabasePath } from '../src/contracts/data-layout.js';
import { createEngine } from '../src/engine/engine.js';
import { openSqliteJobStore } from '../src/engine/sqlite/sqlite-job-store.js';
import { fixturePath, makeTempDir, spawnServer, startTestServer, waitFor } from './helpers.js';

const silent = pino({ level: 'silent' });
const lockHolders = new Set<ChildProcessWithoutNullStreams>();
after(() => {
  for (const child of lockHolders) child.kill('SIGKILL');
});

/** A `sqlite3` process holding the write lock of `file` (BEGIN EXCLUSIVE) until release() is called. */
async function holdWriteLock(file: string): Promise<{ release(): Promise<void> }> {
  const child = spawn('sqlite3', [file]);
  lockHolders.add(child);
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  child.stderr.on('data', (chunk) => (out += chunk));
  child.stdin.write(".timeout 10000\nBEGIN EXCLUSIVE;\nSELECT 'locked';\n");
  await waitFor(() => (out.includes('locked') ? true : undefined), 10_000, `sqlite3 to take the lock (${out})`);
  return {
    async release() {
      child.stdin.end('COMMIT;\n.quit\n');
      await new Promise((resolve) => child.once('exit', resolve));
      lockHolders.delete(child);
    },
  };
}

describe('a database locked by another process', () => {
  test('an outcome written while the lock is held (past the store\'s own patience) lands once it is released; the event loop stays free', async () => {
    const server = await startTestServer();
    try {
      const created = await server.request('POST', '/jobs', { body: { kind: 'slow-progress', payload: { steps: 5, stepMs: 100 } } });
      await server.waitForJob(created.body.job_id, (job) => job.status === 'running');
      const lock = await holdWriteLock(jobsDatabasePath(server.dataDir));
      // The task finishes within the lock; its outcome cannot be written for 12 s, longer than one store write waits.
      const lockedAt = Date.now();
      let slowest = 0;
      while (Date.now() - lockedAt < 12_000) {
        const started = performance.now();
        const health = await server.request('GET', '/healthz');
        slowest = Math.max(slowest, performance.now() - started);
        assert.equal(health.status, 200);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const stuck = await server.request('GET', `/jobs/${created.body.job_id}`);
      assert.equal(stuck.body.status, 'running', 'the outcome is not written yet');
      await lock.release();
      const done = await server.waitForJob(created.body.job_id, undefined, 15_000);
      assert.equal(done.status, 'succeeded', 'the outcome was retried until it landed, not dropped');
      assert.equal(done.attempts, 1, 'the task ran once');
      // A synchronous 5 s busy wait used to hold the event loop; now nothing waits on the lock synchronously for long.
      assert.ok(slowest < 2000, `GET /healthz took up to ${Math.round(slowest)} ms while the lock was held`);
    } finally {
      await server.close();
    }
  });

  test('a POST while the lock is held waits for it, then is committed before its 202', async () => {
    const server = await startTestServer();
    try {
      const lock = await holdWriteLock(jobsDatabasePath(server.dataDir));
      const posting = server.request('POST', '/jobs', { body: { kind: 'noop', payload: {} } });
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await lock.release();
      const res = await posting;
      assert.equal(res.status, 202, res.text);
      assert.equal((await server.waitForJob(res.body.job_id)).status, 'succeeded');
    } finally {
      await server.close();
    }
  });
});

describe('shutdown and claims', () => {
  test('close() right after enqueue releases a job claimed in the same commit without counting its attempt', async () => {
    const dataDir = makeTempDir();
    for (let round = 0; round < 15; round++) {
      const engine = createEngine({ dataDir, store: openSqliteJobStore(dataDir), threads: 1, logger: silent, defaultMaxAttempts: 1 });
      engine.register('noop', fixturePath('noop'));
      await engine.start();
      // Half the rounds close while the insert and its claim are still queued for their commit.
      const enqueued = engine.enqueue({ kind: 'noop', payload: { round } });
      let closed: Promise<void>;
      if (round % 2 === 0) {
        closed = engine.close({ graceMs: 0 });
        await enqueued;
      } else {
        await enqueued;
        closed = engine.close({ graceMs: 0 });
      }
      await closed;
      const { job } = await enqueued;
      const store = openSqliteJobStore(dataDir);
      const after = (await store.get(job.id))!;
      await store.close();
      assert.ok(
        (after.status === 'pending' && after.attempts === 0) || after.status === 'succeeded',
        `round ${round}: ${after.status}, attempts ${after.attempts}, ${JSON.stringify(after.error)}`,
      );
    }
  });
});

describe('a frozen owner', () => {
  test('a cancel asked while the owner is frozen past its lease ends the job cancelled, not retried', async () => {
    const dataDir = makeTempDir();
    const owner = await spawnServer(dataDir, ['--lease-ms', '1500']);
    const created = await owner.request('POST', '/jobs', { body: { kind: 'slow-progress', payload: { steps: 200, stepMs: 100 } } });
    await waitFor(async () => ((await owner.request('GET', `/jobs/${created.body.job_id}`)).body.status === 'running' ? true : undefined));
    owner.child.kill('SIGSTOP');
    const other = await startTestServer({ dataDir, args: ['--lease-ms', '1500'] });
    try {
      const cancel = await other.request('DELETE', `/jobs/${created.body.job_id}`);
      assert.equal(cancel.status, 202, cancel.text);
      const done = await other.waitForJob(created.body.job_id, undefined, 20_000);
      assert.equal(done.status, 'cancelled', `recovery honoured the cancel: ${JSON.stringify(done.error)}`);
      assert.equal(done.attempts, 1, 'no second attempt ran');
    } finally {
      owner.child.kill('SIGCONT');
      owner.child.kill('SIGKILL');
      await owner.exited;
      await other.close();
    }
  });

  test('a job re-claimed by the process that was frozen is tracked by attempt: its cancel works', async () => {
    const dataDir = makeTempDir();
    const owner = await spawnServer(dataDir, ['--lease-ms', '1500']);
    const created = await owner.request('POST', '/jobs', { body: { kind: 'slow-progress', payload: { steps: 80, stepMs: 100 } } });
    const id = created.body.job_id;
    await waitFor(async () => ((await owner.request('GET', `/jobs/${id}`)).body.status === 'running' ? true : undefined));
    owner.child.kill('SIGSTOP');
    // Another engine on the file that runs no kind: it recovers the orphan but cannot claim it, so the frozen
    // process is the one that takes it again once it wakes.
    const recoverer = createEngine({ dataDir, store: openSqliteJobStore(dataDir), threads: 1, logger: silent, leaseMs: 1500, pollIntervalMs: 100 });
    await recoverer.start();
    try {
      await waitFor(async () => ((await recoverer.get(id))?.status === 'pending' ? true : undefined), 15_000, 'the orphan to be recovered');
      owner.child.kill('SIGCONT');
      const second = await waitFor(async () => {
        const job = (await owner.request('GET', `/jobs/${id}`)).body;
        return job.status === 'running' && job.attempts === 2 ? job : undefined;
      }, 15_000, 'the second attempt to start in the same process');
      assert.equal(second.attempts, 2);
      const cancel = await owner.request('DELETE', `/jobs/${id}`);
      assert.equal(cancel.status, 202, cancel.text);
      const done = await waitFor(async () => {
        const job = (await owner.request('GET', `/jobs/${id}`)).body;
        return job.status !== 'running' ? job : undefined;
      }, 10_000, 'the cancel to stop attempt 2');
      assert.equal(done.status, 'cancelled');
      assert.equal(done.attempts, 2);
    } finally {
      owner.child.kill('SIGCONT');
      owner.child.kill('SIGKILL');
      await owner.exited;
      await recoverer.close({ graceMs: 0 });
    }
  });
});

describe('cancel against completion', () => {
  test('500 races of DELETE against a finishing job: 202 only when the job ends cancelled, 409 only when it succeeded', async () => {
    const server = await startTestServer();
    try {
      const outcomes = { cancelled: 0, finished: 0 };
      for (let batch = 0; batch < 50; batch++) {
        await Promise.all(
          Array.from({ length: 10 }, async () => {
            const created = await server.request('POST', '/jobs', { body: { kind: 'noop', payload: {} } });
            const cancel = await server.request('DELETE', `/jobs/${created.body.job_id}`);
            const done = await server.waitForJob(created.body.job_id);
            if (cancel.status === 202) {
              assert.equal(done.status, 'cancelled', `DELETE said 202 but the job ${done.status}`);
              outcomes.cancelled++;
            } else {
              assert.equal(cancel.status, 409, cancel.text);
              assert.equal(done.status, 'succeeded', `DELETE said 409 but the job ${done.status}`);
              outcomes.finished++;
            }
          }),
        );
      }
      assert.equal(outcomes.cancelled + outcomes.finished, 500);
    } finally {
      await server.close();
    }
  });
});

