// The SQLite job store: the JobStore conformance suite, then what only SQLite has (its schema and migrations).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { jobsDatabasePath } from '../src/contracts/data-layout.js';
import { migrate, readMigrations } from '../src/db/migrate.js';
import { openDatabase } from '../src/db/open-database.js';
import { JOB_STATUSES } from '../src/engine/job.js';
import { JOBS_MIGRATIONS, openSqliteJobStore } from '../src/engine/sqlite/sqlite-job-store.js';
import { makeTempDir } from './helpers.js';
import { describeJobStoreConformance } from './store-conformance.js';

describeJobStoreConformance('SQLite', () => openSqliteJobStore(makeTempDir()));

const T0 = 1_750_000_000_000;

async function createStoreWithOneJob(dataDir: string): Promise<string> {
  const store = openSqliteJobStore(dataDir);
  const [inserted] = await store.insert([
    { id: 'job-1', kind: 'k', payload: { n: 1 }, priority: 0, runAt: T0, maxAttempts: 3, timeoutMs: null, createdAt: T0, idempotencyKey: 'key-1' },
  ]);
  await store.close();
  return inserted!.job.id;
}

describe('SQLite job store', () => {
  test('the CHECK constraint of jobs.status lists exactly JOB_STATUSES', async () => {
    const dataDir = makeTempDir();
    await openSqliteJobStore(dataDir).close();
    const db = openDatabase(jobsDatabasePath(dataDir));
    try {
      const { sql } = db.prepare(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'jobs'`).get() as { sql: string };
      const check = /CHECK\s*\(\s*status\s+IN\s*\(([^)]*)\)\s*\)/i.exec(sql);
      assert.ok(check, `no CHECK (status IN (…)) in the jobs table:\n${sql}`);
      const listed = [...check[1]!.matchAll(/'([^']*)'/g)].map((m) => m[1]);
      assert.deepEqual(listed.sort(), [...JOB_STATUSES].sort());
      assert.throws(() => db.exec(`INSERT INTO jobs (id, kind, status, payload, run_at, created_at, updated_at)
                                   VALUES ('x', 'k', 'paused', '{}', 0, 0, 0)`), /CHECK constraint failed/);
    } finally {
      db.close();
    }
  });

  test('reopening a migrated file applies no migration again and keeps its rows', async () => {
    const dataDir = makeTempDir();
    const id = await createStoreWithOneJob(dataDir);
    const store = openSqliteJobStore(dataDir);
    try {
      assert.deepEqual((await store.get(id))?.payload, { n: 1 });
    } finally {
      await store.close();
    }
    const db = openDatabase(jobsDatabasePath(dataDir));
    try {
      assert.equal(migrate(db, JOBS_MIGRATIONS), 0, 'nothing left to apply');
    } finally {
      db.close();
    }
  });

  test('migration 0013 keeps the attempt history: its rows, their order, and the attempts recorded after it', async () => {
    const dataDir = makeTempDir();
    const before = openDatabase(jobsDatabasePath(dataDir));
    migrate(before, JOBS_MIGRATIONS, readMigrations(JOBS_MIGRATIONS.dir).filter((m) => m.version < 13));
    before.prepare(`INSERT INTO jobs (id, kind, status, payload, run_at, attempts, created_at, updated_at)
                    VALUES ('job-1', 'k', 'pending', '{}', ?, 2, ?, ?)`).run(T0, T0, T0);
    const record = before.prepare(`INSERT INTO job_attempts (job_id, attempt, owner, started_at, ended_at, outcome, error)
                                   VALUES ('job-1', ?, 'w0', ?, ?, 'retried', '{"code":"lost","message":"m"}')`);
    for (const attempt of [1, 2]) record.run(attempt, T0 + attempt, T0 + attempt);
    before.close();
    const store = openSqliteJobStore(dataDir);
    try {
      assert.deepEqual((await store.attempts('job-1')).map((a) => [a.attempt, a.outcome, a.error?.code]), [[1, 'retried', 'lost'], [2, 'retried', 'lost']]);
      const [claimed] = await store.claim({ owner: 'w1', kinds: ['k'], limit: 1, now: T0 + 10, leaseMs: 1000 });
      await store.complete({ id: 'job-1', owner: 'w1', attempt: claimed!.attempts }, null, T0 + 11);
      assert.deepEqual((await store.attempts('job-1')).map((a) => [a.attempt, a.outcome, a.owner]), [[1, 'retried', 'w0'], [2, 'retried', 'w0'], [3, 'succeeded', 'w1']]);
    } finally {
      await store.close();
    }
  });

  test('a file of the old scheme (user_version 4, no schema_versions) gets the later migrations only, rows kept', async () => {
    const dataDir = makeTempDir();
    // The file as a version before the split left it: migrations 1-4, counted in user_version alone.
    const old = openDatabase(jobsDatabasePath(dataDir));
    migrate(old, JOBS_MIGRATIONS, readMigrations(JOBS_MIGRATIONS.dir).filter((m) => m.version <= 4));
    old.exec(`DROP TABLE schema_versions`);
    old.prepare(`INSERT INTO jobs (id, kind, status, payload, run_at, created_at, updated_at, idempotency_key)
                 VALUES ('job-1', 'k', 'pending', '{"n":1}', ?, ?, ?, 'key-1')`).run(T0, T0, T0);
    old.close();
    const id = 'job-1';

    // 0001 again would fail on CREATE TABLE jobs: opening succeeds only if the store starts from version 4.
    const store = openSqliteJobStore(dataDir);
    try {
      const job = await store.get(id);
      assert.deepEqual([job?.payload, job?.idempotencyKey, job?.ref], [{ n: 1 }, 'key-1', null]);
      assert.equal(await store.countPending(), 1, 'job_counts kept its row');
      await store.insert([{ id: 'job-2', kind: 'k', payload: {}, priority: 0, runAt: T0, maxAttempts: 3, timeoutMs: null, createdAt: T0, ref: 'r1' }]);
      assert.equal(await store.countActive({ ref: 'r1' }), 1, 'the ref column and its index exist');
    } finally {
      await store.close();
    }
    const db = openDatabase(jobsDatabasePath(dataDir));
    try {
      const latest = Math.max(...readMigrations(JOBS_MIGRATIONS.dir).map((m) => m.version));
      assert.deepEqual(db.prepare(`SELECT component, version FROM schema_versions`).all(), [{ component: 'jobs', version: latest }]);
      assert.equal(db.pragma('user_version', { simple: true }), latest);
    } finally {
      db.close();
    }
  });
});
