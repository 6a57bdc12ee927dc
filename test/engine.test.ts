// The engine without HTTP: leases, fencing, several processes on one database, group commit, options.
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { migrate } from '../src/db/migrate.js';
import { openDatabase } from '../src/db/open-database.js';
import { JOBS_MIGRATIONS, openSqliteJobStore, SqliteJobStore } from '../src/engine/sqlite/sqlite-job-store.js';
import { computeBackoffMs } from '../src/engine/backoff.js';
import { newJobId } from '../src/engine/job-id.js';
import { createEngine, type Engine } from '../src/engine/engine.js';
import { LeaseKeeper, isOwnerGone } from '../src/engine/leases.js';
import { fixturePath, makeTempDir, spawnServer, startTestServer, waitFor } from './helpers.js';

const silent = pino({ level: 'silent' });

function newEngine(dataDir: string, options: Partial<Parameters<typeof createEngine>[0]> = {}): Engine {
  const engine = createEngine({ dataDir, store: openSqliteJobStore(dataDir), threads: 1, logger: silent, pollIntervalMs: 50, retryBaseMs: 10, ...options });
  for (const kind of ['noop', 'echo', 'slow-progress', 'hang']) engine.register(kind, fixturePath(kind));
  return engine;
}

async function waitForStatus(engine: Engine, id: string, statuses: string[], timeoutMs = 15_000) {
  return waitFor(async () => {
    const job = await engine.get(id);
    return job && statuses.includes(job.status) ? job : undefined;
  }, timeoutMs, `job ${id} to be ${statuses.join('/')}`);
}

describe('fencing', () => {
  test('an attempt whose job was recovered cannot write its outcome over the next attempt', async () => {
    const db = openDatabase(join(makeTempDir(), 'jobs.db'));
    migrate(db, JOBS_MIGRATIONS);
    const store = new SqliteJobStore(db);
    const now = Date.now();
    await store.insert([{ id: 'a0000000-0000-4000-8000-000000000001', kind: 'k', payload: {}, priority: 0, runAt: now, maxAttempts: 3, timeoutMs: null, createdAt: now }]);
    const [claimed] = await store.claim({ owner: 'old-owner', kinds: ['k'], limit: 1, now, leaseMs: 1000 });
    const oldFence = { id: claimed!.id, owner: 'old-owner', attempt: 1 };

    // The lease expires; another process recovers the job and claims it again.
    const keeper = new LeaseKeeper({
      store, self: { id: 'new-owner', hostname: 'h', pid: 1, startedAt: now, heartbeatAt: now }, leaseMs: 1000,
      crashLimit: 2, backoff: { baseMs: 0, maxMs: 0 }, logger: silent, runningFences: () => [], hasClaimInFlight: () => false, claimsStarted: () => 0, onLeaseLost() {}, onCancelRequested() {}, onChange() {},
    });
    await store.registerOwner({ id: 'new-owner', hostname: 'h', pid: 1, startedAt: now, heartbeatAt: now });
    assert.equal(await store.endOrphan(oldFence, { status: 'failed', error: { code: 'lost', message: 'x' } }, now + 5, false), undefined,
      'a lease that has not expired is not recovered');
    const recovered = await keeper.recoverOrphans();
    assert.equal(recovered.length, 0, 'nothing to recover before the lease expires');
    const [orphan] = await waitFor(async () => {
      const found = await keeper.recoverOrphans();
      return found.length ? found : undefined;
    }, 5000, 'the lease to expire');
    assert.equal(orphan!.status, 'pending');
    assert.equal(orphan!.error!.code, 'lost');
    const [reclaimed] = await store.claim({ owner: 'new-owner', kinds: ['k'], limit: 1, now: Date.now(), leaseMs: 1000 });
    assert.equal(reclaimed!.attempts, 2);

    // The old attempt wakes up and tries to finish: every write is refused.
    assert.equal(await store.complete(oldFence, { stale: true }, Date.now()), undefined);
    assert.equal(await store.endAttempt(oldFence, { status: 'failed', error: { code: 'task_error', message: 'stale' } }, Date.now()), undefined);
    assert.equal(await store.saveProgress(oldFence, 1, 2, Date.now()), undefined);
    assert.equal(await store.release(oldFence, Date.now()), undefined);

    const done = await store.complete({ id: claimed!.id, owner: 'new-owner', attempt: 2 }, { fresh: true }, Date.now());
    assert.deepEqual(done!.result, { fresh: true });
    await store.close();
  });

  test('a frozen process (SIGSTOP) loses its lease; the job runs again elsewhere and the old attempt writes nothing', async () => {
    const dataDir = makeTempDir();
    const frozen = await spawnServer(dataDir, ['--lease-ms', '1000', '--threads', '1']);
    let server;
    try {
      const created = await frozen.request('POST', '/jobs', { body: { kind: 'slow-progress', payload: { steps: 15, stepMs: 100 } } });
      const id = created.body.job_id;
      await waitFor(async () => ((await frozen.request('GET', `/jobs/${id}`)).body.status === 'running' ? true : undefined), 10_000, 'the job to run');
      frozen.child.kill('SIGSTOP');
      // Its pid is alive, so only the lease tells that it stopped working.
      server = await startTestServer({ dataDir, args: ['--lease-ms', '1000', '--threads', '1'] });
      const taken = await server.waitForJob(id, (j) => j.attempts === 2 && j.status === 'running', 10_000);
      assert.equal(taken.error?.code, 'lost');
      frozen.child.kill('SIGCONT');
      const done = await server.waitForJob(id);
      assert.equal(done.status, 'succeeded');
      assert.equal(done.attempts, 2);
      await waitFor(() => (/lease expired|taken over/.test(frozen.output()) ? true : undefined), 10_000, 'the old owner to notice it lost the lease');
      const after = await server.request('GET', `/jobs/${id}`);
      assert.equal(after.body.status, 'succeeded');
      assert.equal(after.body.attempts, 2);
    } finally {
      frozen.child.kill('SIGCONT');
      frozen.child.kill('SIGKILL');
      await frozen.exited;
      await server?.close();
    }
  });
});

describe('owners', () => {
  test("another machine's owner row is forgotten once its heartbeat has not moved for 10 leases here, whatever its clock says", async () => {
    const store = openSqliteJobStore(makeTempDir());
    const leaseMs = 30;
    const keeper = new LeaseKeeper({
      store, self: { id: 'me', hostname: hostname(), pid: process.pid, startedAt: Date.now(), heartbeatAt: Date.now() }, leaseMs,
      crashLimit: 2, backoff: { baseMs: 0, maxMs: 0 }, logger: silent, runningFences: () => [], hasClaimInFlight: () => false, claimsStarted: () => 0, onLeaseLost() {}, onCancelRequested() {}, onChange() {},
    });
    try {
      // Clocks 10 minutes behind ours: by their values both look silent for ages, yet one of them renews.
      const behind = Date.now() - 600_000;
      for (const id of ['renewing', 'silent']) await store.registerOwner({ id, hostname: 'another-machine', pid: 1, startedAt: behind, heartbeatAt: behind });
      await keeper.recoverOrphans();
      assert.deepEqual((await store.listOwners()).map((o) => o.id).sort(), ['renewing', 'silent'], 'a heartbeat value says nothing across machines');
      const started = performance.now();
      let beat = behind;
      await waitFor(async () => {
        await store.touchOwner('renewing', ++beat);
        await keeper.recoverOrphans();
        return (await store.listOwners()).some((o) => o.id === 'silent') ? undefined : true;
      }, 5000, 'the silent owner to be forgotten');
      assert.ok(performance.now() - started >= 10 * leaseMs - 5, 'not before its heartbeat stood still for 10 leases');
      assert.deepEqual((await store.listOwners()).map((o) => o.id), ['renewing'], 'the one whose heartbeat moves is kept');
    } finally {
      await store.close();
    }
  });
});

describe('several engines on one database', () => {
  test('each job runs exactly once when two engines claim from the same file', async () => {
    const dataDir = makeTempDir();
    const a = newEngine(dataDir);
    const b = newEngine(dataDir);
    await a.start();
    await b.start();
    try {
      const jobs = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).enqueue({ kind: 'echo', payload: { i } }).then((r) => r.job)));
      const results = await Promise.all(jobs.map((job) => waitForStatus(a, job.id, ['succeeded', 'failed'], 30_000)));
      for (const job of results) {
        assert.equal(job.status, 'succeeded');
        assert.equal(job.attempts, 1, 'claimed once');
      }
      const ranBy = new Set(results.map((job) => (job.result as { attempt: number; jobId: string }).jobId));
      assert.equal(ranBy.size, 200);
    } finally {
      await Promise.all([a.close({ graceMs: 100 }), b.close({ graceMs: 100 })]);
    }
  });

  test('a job running in one engine can be cancelled through another', async () => {
    const dataDir = makeTempDir();
    const a = newEngine(dataDir, { leaseMs: 300 });
    const b = newEngine(dataDir, { leaseMs: 300 });
    b.register('only-b', fixturePath('hang'));
    await a.start();
    await b.start();
    try {
      // Only b can run this kind, so a cannot stop it itself.
      const { job } = await b.enqueue({ kind: 'only-b', payload: {} });
      await waitForStatus(a, job.id, ['running']);
      const asked = await a.cancel(job.id);
      assert.equal(asked!.state, 'cancel_requested');
      const cancelled = await waitForStatus(a, job.id, ['cancelled'], 5000);
      assert.equal(cancelled.error!.code, 'cancelled');
    } finally {
      await Promise.all([a.close({ graceMs: 0 }), b.close({ graceMs: 0 })]);
    }
  });
});

describe('enqueue', () => {
  test('inserts that arrive together share a commit, and every promise resolves after its row is stored', async () => {
    const dataDir = makeTempDir();
    const engine = newEngine(dataDir);
    await engine.start();
    try {
      const jobs = await Promise.all(Array.from({ length: 500 }, (_, i) => engine.enqueue({ kind: 'noop', payload: { i }, runAt: Date.now() + 60_000 }).then((r) => r.job)));
      const reader = openDatabase(join(dataDir, 'jobs.db'), { readonly: true });
      const count = (reader.prepare('SELECT count(*) AS n FROM jobs').get() as { n: number }).n;
      reader.close();
      assert.equal(count, 500);
      assert.equal(new Set(jobs.map((j) => j.id)).size, 500);
    } finally {
      await engine.close({ graceMs: 0 });
    }
  });

  test('a burst of enqueues in one tick, and the bursts after its commit, never pass maxPending', async () => {
    // Not started: nothing claims, every accepted job stays pending.
    const engine = newEngine(makeTempDir(), { maxPending: 5 });
    try {
      const burst = async (n: number) => (await Promise.allSettled(Array.from({ length: n }, () => engine.enqueue({ kind: 'noop', payload: {} }))));
      const first = await burst(3);
      assert.deepEqual(first.map((r) => r.status), ['fulfilled', 'fulfilled', 'fulfilled']);
      const second = await burst(20);
      assert.equal(second.filter((r) => r.status === 'fulfilled').length, 2, 'room for two more, however many ask at once');
      for (const refused of second.filter((r) => r.status === 'rejected')) assert.equal((refused.reason as { code: string }).code, 'queue_full');
      assert.equal(await engine.countPending(), 5);
      await assert.rejects(engine.enqueue({ kind: 'noop', payload: {} }), { code: 'queue_full' });
    } finally {
      await engine.close({ graceMs: 0 });
    }
  });

  test('--durability full sets synchronous=FULL', () => {
    const db = openDatabase(join(makeTempDir(), 'x.db'), { durability: 'full' });
    assert.equal(db.pragma('synchronous', { simple: true }), 2);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    db.close();
    const normal = openDatabase(join(makeTempDir(), 'y.db'));
    assert.equal(normal.pragma('synchronous', { simple: true }), 1);
    normal.close();
  });

  test('an unregistered kind and a closing engine are refused with their codes', async () => {
    const engine = newEngine(makeTempDir());
    await engine.start();
    await assert.rejects(engine.enqueue({ kind: 'nope', payload: {} }), { code: 'unknown_kind' });
    await engine.close({ graceMs: 0 });
    await assert.rejects(engine.enqueue({ kind: 'noop', payload: {} }), { code: 'shutting_down' });
  });
});

describe('options and helpers', () => {
  test('options are checked one by one with exact messages', () => {
    const dataDir = makeTempDir();
    const store = openSqliteJobStore(dataDir);
    assert.throws(() => createEngine({ dataDir, store, threads: 0 }), { message: 'options.threads must be a positive integer' });
    assert.throws(() => createEngine({ dataDir, store, leaseMs: 1.5 }), { message: 'options.leaseMs must be a positive integer' });
    assert.throws(() => createEngine({ dataDir, store, maxPending: -1 }), { message: 'options.maxPending must be a positive integer' });
    const engine = createEngine({ dataDir, store, logger: silent });
    assert.throws(() => engine.register('bad kind!', fixturePath('noop')), { code: 'invalid_option' });
    assert.throws(() => engine.register('missing', '/no/such/module.js'), { message: /worker module for kind "missing" not found/ });
    assert.throws(() => engine.register('x', fixturePath('noop'), { taskErrorCodes: ['lost'] }), { message: '"lost" is one of the engine\'s own error codes' });
    engine.register('inside', fixturePath('noop'), { internal: true });
    assert.throws(() => engine.register('inside', fixturePath('echo')), { message: 'job kind "inside" is built in and cannot be registered again' });
    assert.equal(engine.isPublicKind('inside'), false);
    engine.register('outside', fixturePath('noop'));
    assert.deepEqual(engine.publicKinds, ['outside']);
    void store.close();
  });

  test('job ids are UUIDs of version 7: unique, and in creation order across milliseconds', async () => {
    const first = Array.from({ length: 5000 }, () => newJobId());
    await new Promise((resolve) => setTimeout(resolve, 2));
    const later = newJobId();
    for (const id of [...first, later]) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(new Set(first).size, first.length);
    assert.ok(first.every((id) => id < later), 'an id made a millisecond later sorts after every earlier one');
  });

  test('backoff doubles per attempt within its cap, with jitter in the upper half', () => {
    const options = { baseMs: 1000, maxMs: 10_000 };
    assert.equal(computeBackoffMs(1, options, () => 0), 500);
    assert.equal(computeBackoffMs(1, options, () => 1), 1000);
    assert.equal(computeBackoffMs(3, options, () => 1), 4000);
    assert.equal(computeBackoffMs(10, options, () => 1), 10_000);
  });

  test('an owner is provably gone only on this host, with a dead pid, or our own pid that no engine here owns', async () => {
    const engine = newEngine(makeTempDir());
    await engine.start();
    const self = { id: 'me', hostname: hostname(), pid: process.pid, startedAt: 0, heartbeatAt: 0 };
    assert.equal(isOwnerGone({ ...self, id: 'x', pid: process.ppid }, self), false, 'a live process');
    assert.equal(isOwnerGone({ ...self, id: 'x', pid: process.pid }, self), true, 'our pid, another owner: a previous life of this process');
    assert.equal(isOwnerGone({ ...self, id: 'x', pid: 2 ** 22 + 12345 }, self), true, 'no such pid');
    assert.equal(isOwnerGone({ ...self, id: 'x', hostname: 'elsewhere', pid: 2 ** 22 + 12345 }, self), false, 'another host: only the lease tells');
    assert.equal(isOwnerGone({ ...self, id: engine.ownerId }, self), false, 'another engine alive in this process');
    await engine.close({ graceMs: 0 });
  });
});
