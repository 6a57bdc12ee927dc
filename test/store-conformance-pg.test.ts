// The PostgreSQL job store: the same JobStore conformance suite as SQLite, on a real server (test/pg-harness.ts),
// a fresh database per test; then what only this store has (migrations under concurrency, NOTIFY wake-ups).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openPostgres, runSql, numberParameters } from '../src/db/postgres-connection.js';
import { JOB_STATUSES } from '../src/engine/job.js';
import { openPostgresJobStore } from '../src/engine/postgres/postgres-job-store.js';
import { startPostgres, type PostgresCluster } from './pg-harness.js';
import { describeJobStoreConformance } from './store-conformance.js';

let cluster: PostgresCluster;
let databases = 0;
before(async () => {
  cluster = await startPostgres();
});
after(() => cluster.stop());

const freshDatabase = () => cluster.createDatabase(`conformance_${++databases}`);

describeJobStoreConformance('PostgreSQL', () => openPostgresJobStore(freshDatabase()));
// --durability full groups the writes of one turn of the event loop into one transaction: the same contract.
describeJobStoreConformance('PostgreSQL, durability full (group commit)', () => openPostgresJobStore(freshDatabase(), { durability: 'full' }));

const T0 = 1_750_000_000_000;

describe('PostgreSQL job store', () => {
  test('the CHECK constraint of jobs.status lists exactly JOB_STATUSES', async () => {
    const url = freshDatabase();
    await (await openPostgresJobStore(url)).close();
    const definition = cluster.psql(
      `SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'jobs'::regclass AND pg_get_constraintdef(oid) LIKE '%status = ANY%'`,
      url.split('/').pop(),
    );
    const listed = [...definition.matchAll(/'([^']*)'/g)].map((m) => m[1]);
    assert.deepEqual(listed.sort(), [...JOB_STATUSES].sort());
  });

  test('group commit: writes of one turn share a transaction, and one that fails fails alone', async () => {
    const store = await openPostgresJobStore(freshDatabase(), { durability: 'full' });
    try {
      const job = (id: string) => ({ id, kind: 'k', payload: {}, priority: 0, runAt: T0, maxAttempts: 3, timeoutMs: null, createdAt: T0 });
      await store.insert([job('taken')]);
      const [a, duplicate, c] = await Promise.allSettled([store.insert([job('a')]), store.insert([job('taken')]), store.insert([job('c')])]);
      assert.deepEqual([a.status, duplicate.status, c.status], ['fulfilled', 'rejected', 'fulfilled']);
      assert.deepEqual((await store.list({ limit: 10 })).map((j) => j.id).sort(), ['a', 'c', 'taken']);
      assert.equal(await store.countPending(), 3);
    } finally {
      await store.close();
    }
  });

  test('five nodes opening one new database at once migrate it once', async () => {
    const url = freshDatabase();
    const stores = await Promise.all(Array.from({ length: 5 }, () => openPostgresJobStore(url)));
    await Promise.all(stores.map((store) => store.close()));
    const sql = openPostgres(url, { max: 1 });
    try {
      const versions = await runSql(sql, numberParameters(`SELECT component, version FROM schema_versions`));
      assert.deepEqual(versions.map((row) => ({ ...row })), [{ component: 'jobs', version: 6 }]);
    } finally {
      await sql.end();
    }
  });

  test('an insert on one connection wakes the listener of another store (LISTEN/NOTIFY), as do a retry and a release', async () => {
    const url = freshDatabase();
    const [listener, writer] = [await openPostgresJobStore(url), await openPostgresJobStore(url)];
    try {
      let wakes = 0;
      // Counted from before the write: the notification may arrive before the write's own answer does.
      const expectWake = async (what: string, write: () => Promise<unknown>) => {
        const seen = wakes;
        await write();
        const deadline = Date.now() + 5000;
        while (wakes === seen) {
          assert.ok(Date.now() < deadline, `no notification after ${what}`);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      };
      listener.onJobsAvailable(() => wakes++);
      // LISTEN is issued asynchronously: wait until the first notification gets through, then for stragglers.
      const job = { kind: 'k', payload: {}, priority: 0, runAt: T0, maxAttempts: 3, timeoutMs: null, createdAt: T0 };
      for (let i = 0; wakes === 0; i++) {
        assert.ok(i < 200, 'LISTEN never took effect');
        await writer.insert([{ ...job, kind: 'warm-up', id: `warm-${i}` }]);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      await expectWake('an insert', () => writer.insert([{ ...job, id: 'a' }]));
      const [claimed] = await writer.claim({ owner: 'w', kinds: ['k'], limit: 1, now: T0, leaseMs: 1000 });
      await expectWake('a retry', () =>
        writer.endAttempt({ id: claimed!.id, owner: 'w', attempt: 1 }, { status: 'pending', error: { code: 'worker_exit', message: 'x' }, runAt: T0 }, T0));
      const [again] = await writer.claim({ owner: 'w', kinds: ['k'], limit: 1, now: T0, leaseMs: 1000 });
      await expectWake('a release', () => writer.release({ id: again!.id, owner: 'w', attempt: again!.attempts }, T0));
      const quiet = wakes;
      await writer.complete({ id: again!.id, owner: 'w', attempt: 1 }, null, T0).catch(() => undefined);
      const [third] = await writer.claim({ owner: 'w', kinds: ['k'], limit: 1, now: T0, leaseMs: 1000 });
      await writer.complete({ id: third!.id, owner: 'w', attempt: third!.attempts }, null, T0);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(wakes, quiet, 'claims and completions send no notification: nothing became claimable');
    } finally {
      await Promise.all([listener.close(), writer.close()]);
    }
  });
});
