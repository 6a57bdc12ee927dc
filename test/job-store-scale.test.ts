// The jobs table at a million rows: claim, next-due and list read an index range whatever the backlog of other
// kinds and however deep the page — checked on the query plans of the very statements the store runs, not on
// timings — and job retention deletes old finished rows, never pinned, pending or running ones.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { ConfigError, parseConfig } from '../src/config.js';
import { jobsDatabasePath } from '../src/contracts/data-layout.js';
import { migrate } from '../src/db/migrate.js';
import { openDatabase } from '../src/db/open-database.js';
import { createEngine } from '../src/engine/engine.js';
import { ENGINE_DEFAULTS } from '../src/engine/engine-options.js';
import type { NewJob } from '../src/engine/job.js';
import type { ListJobsFilter } from '../src/engine/job-store.js';
import { JOBS_MIGRATIONS, openSqliteJobStore, SqliteJobStore } from '../src/engine/sqlite/sqlite-job-store.js';
import { fixturePath, makeTempDir, waitFor } from './helpers.js';

const T0 = 1_750_000_000_000;
const ROWS = 1_000_000;
/** Pending jobs of kind `other`, a kind none of the claims below asks for: seq 1 … BACKLOG, all due. */
const BACKLOG = 100_000;
const NOW = T0 + 2 * ROWS;

type Sqlite = InstanceType<typeof Database>;

/**
 * One INSERT … SELECT in one transaction, indexes and job_counts triggers in place: the backlog, then 900k
 * finished jobs over 20 kinds (k0 … k19), finished at T0 + seq, every thousandth pinned.
 */
function insertMillionRows(db: Sqlite): void {
  db.exec(`
    BEGIN;
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${ROWS})
    INSERT INTO jobs (id, kind, status, payload, run_at, created_at, updated_at, finished_at, pinned)
    SELECT printf('job-%07d', i),
           CASE WHEN i <= ${BACKLOG} THEN 'other' ELSE 'k' || (i % 20) END,
           CASE WHEN i <= ${BACKLOG} THEN 'pending' ELSE (CASE i % 3 WHEN 0 THEN 'succeeded' WHEN 1 THEN 'failed' ELSE 'cancelled' END) END,
           '{}', ${T0} + i, ${T0} + i, ${T0} + i,
           CASE WHEN i <= ${BACKLOG} THEN NULL ELSE ${T0} + i END,
           i % 1000 = 0
    FROM n;
    COMMIT`);
}

function countsByKindAndStatus(db: Sqlite): { kept: unknown[]; fresh: unknown[] } {
  return {
    kept: db.prepare(`SELECT kind, status, n FROM job_counts WHERE n > 0 ORDER BY kind, status`).all(),
    fresh: db.prepare(`SELECT kind, status, count(*) AS n FROM jobs GROUP BY kind, status ORDER BY kind, status`).all(),
  };
}

function newJob(fields: Partial<NewJob>): NewJob {
  return { id: randomUUID(), kind: 'mine', payload: {}, priority: 0, runAt: T0, maxAttempts: 3, timeoutMs: null, createdAt: NOW, ...fields };
}

describe('the jobs table at a million rows', () => {
  let db: Sqlite;
  let store: SqliteJobStore;
  /** The statements the connection runs while set (better-sqlite3 `verbose`: the SQL with its values bound in). */
  let recorded: string[] | undefined;

  before(() => {
    db = new Database(jobsDatabasePath(makeTempDir()), { verbose: (sql) => recorded?.push(String(sql)) });
    db.pragma('journal_mode = WAL');
    migrate(db, JOBS_MIGRATIONS);
    insertMillionRows(db);
    store = new SqliteJobStore(db);
  });
  after(async () => {
    await store?.close();
  });

  /** The queries `run` made the store run: each one's plan must read a range of an index, no table or sort. */
  async function assertIndexRangesOnly<T>(what: string, run: () => Promise<T>): Promise<T> {
    recorded = [];
    let result: T;
    let statements: string[];
    try {
      result = await run();
      // An INSERT … VALUES reads nothing (its plan is empty): only statements that read rows are checked.
      statements = recorded.filter((sql) => /^\s*(SELECT|UPDATE|DELETE|INSERT|WITH)\b/i.test(sql) && !/^\s*INSERT INTO [\w ()_,]+ VALUES/i.test(sql));
    } finally {
      recorded = undefined;
    }
    assert.ok(statements.length > 0, `${what}: the store ran no query`);
    for (const sql of statements) {
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as Array<{ detail: string }>).map((row) => row.detail);
      const shown = `${what}:\n${sql.trim()}\n  ${plan.join('\n  ')}`;
      assert.ok(plan.some((detail) => /^SEARCH (jobs|job_counts|flow_starts) USING (INDEX|COVERING INDEX|PRIMARY KEY|INTEGER PRIMARY KEY)\b/.test(detail)), `no index range read: ${shown}`);
      assert.ok(!plan.some((detail) => /^SCAN (jobs|job_counts|flow_starts)\b/.test(detail)), `a scan of the whole table or index: ${shown}`);
      assert.ok(!plan.some((detail) => detail.includes('TEMP B-TREE')), `a sort of every matching row: ${shown}`);
    }
    return result!;
  }

  test('a claim behind 100k pending jobs of another kind reads only its own kinds, in claim order', async () => {
    const [low, high, future, highEarlier, lowTie] = [
      newJob({ kind: 'mine', priority: 0, runAt: T0 }),
      newJob({ kind: 'mine', priority: 5, runAt: T0 + 10 }),
      newJob({ kind: 'mine', priority: 9, runAt: NOW + 3_600_000 }),
      newJob({ kind: 'mine2', priority: 5, runAt: T0 + 5 }),
      newJob({ kind: 'mine2', priority: 0, runAt: T0 }),
    ];
    await store.insert([low!, high!, future!, highEarlier!, lowTie!]);
    const claimed = await assertIndexRangesOnly('claim', () =>
      store.claim({ owner: 'w1', kinds: ['mine', 'mine2', 'k3'], limit: 3, now: NOW, leaseMs: 30_000 }));
    assert.deepEqual(claimed.map((job) => job.id), [highEarlier!.id, high!.id, low!.id],
      'priority first, then run_at, then creation order (low before lowTie), across kinds');
    assert.ok(claimed.every((job) => job.status === 'running' && job.owner === 'w1'));

    const rest = await store.claim({ owner: 'w1', kinds: ['mine', 'mine2'], limit: 5, now: NOW, leaseMs: 30_000, exclude: [lowTie!.id] });
    assert.deepEqual(rest, [], 'the one left due is excluded, the other is not due yet');
    const [last] = await store.claim({ owner: 'w1', kinds: ['mine2'], limit: 5, now: NOW, leaseMs: 30_000 });
    assert.equal(last?.id, lowTie!.id);
    const [backlog] = await store.claim({ owner: 'w1', kinds: ['other'], limit: 1, now: NOW, leaseMs: 30_000 });
    assert.equal(backlog?.seq, 1, 'the backlog is claimable too, oldest first');
  });

  test('a flow-controlled claim behind 100k pending jobs of one group key reads index ranges, and serves the other keys', async () => {
    db.exec(`
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
      INSERT INTO jobs (id, kind, status, payload, run_at, created_at, updated_at, group_key)
      SELECT printf('tenant-job-%07d', i), 'tenanted', 'pending', '{}', ${T0} + i, ${T0} + i, ${T0} + i,
             CASE WHEN i > 99990 THEN (CASE i % 2 WHEN 0 THEN 'small-b' ELSE 'small-c' END) ELSE 'big' END
      FROM n`);
    const flow = { limits: { kinds: { tenanted: { concurrency: 50, rate: { count: 100, intervalMs: 60_000 } } }, groups: { concurrency: 10 } } };
    const claimed = await assertIndexRangesOnly('flow claim', () =>
      store.claim({ owner: 'w1', kinds: ['tenanted', 'mine'], limit: 6, now: NOW, leaseMs: 30_000, flow }));
    assert.deepEqual(claimed.map((job) => job.groupKey).sort(), ['big', 'big', 'small-b', 'small-b', 'small-c', 'small-c'],
      'round-robin: the 10 jobs of b and c are the newest, yet they get two of every three slots');
  });

  test('nextRunAt is one index lookup per kind', async () => {
    const firstDue = db.prepare(`SELECT min(run_at) FROM jobs WHERE status = 'pending' AND kind IN ('k3', 'none', 'other')`).pluck().get();
    assert.ok(typeof firstDue === 'number' && firstDue <= T0 + 2);
    assert.equal(await assertIndexRangesOnly('nextRunAt', () => store.nextRunAt(['k3', 'none', 'other'])), firstDue);
    assert.equal(await assertIndexRangesOnly('nextRunAt of a kind without pending jobs', () => store.nextRunAt(['k3'])), undefined);
    assert.equal(await store.nextRunAt([]), undefined);
  });

  test('every list filter, on the first page and behind a deep cursor, reads an index backwards from the cursor', async () => {
    const filters: Array<Omit<ListJobsFilter, 'limit' | 'beforeSeq'>> = [
      {}, { kind: 'k3' }, { kind: 'none' }, { status: 'failed' }, { status: 'running' },
      { kind: 'k3', status: 'succeeded' }, { kind: 'k3', status: 'pending' }, { kind: 'other', status: 'pending' },
    ];
    // The statement of before the fix, as the reference answer: same rows, same order.
    const reference = db.prepare(`
      SELECT seq FROM jobs
      WHERE (@kind IS NULL OR kind = @kind) AND (@status IS NULL OR status = @status) AND (@before IS NULL OR seq < @before)
      ORDER BY seq DESC LIMIT @limit`).pluck();
    for (const filter of filters) {
      for (const beforeSeq of [undefined, 500_000, 50_000]) {
        const what = `list ${JSON.stringify({ ...filter, beforeSeq })}`;
        const jobs = await assertIndexRangesOnly(what, () => store.list({ ...filter, limit: 51, beforeSeq }));
        const expected = reference.all({ kind: filter.kind ?? null, status: filter.status ?? null, before: beforeSeq ?? null, limit: 51 });
        assert.deepEqual(jobs.map((job) => job.seq), expected, what);
      }
    }
  });

  test("the console's reads: a seq window with residual filters, changes since a point, finishes per minute", async () => {
    const window = { fromSeq: 400_000, beforeSeq: 410_000, limit: 51 };
    for (const filter of [{}, { kind: 'k3' }, { status: 'failed' as const }, { kind: 'k3', status: 'failed' as const }]) {
      const what = `list window ${JSON.stringify(filter)}`;
      const jobs = await assertIndexRangesOnly(what, () => store.list({ ...window, ...filter, text: 'nothing-matches', createdAfter: T0 }));
      assert.deepEqual(jobs, [], what);
      const newest = await assertIndexRangesOnly(what, () => store.list({ ...window, ...filter, createdBefore: NOW }));
      assert.ok(newest.every((job) => job.seq >= 400_000 && job.seq < 410_000), what);
    }
    assert.deepEqual(await assertIndexRangesOnly('list by ref', () => store.list({ ref: 'no-such-ref', limit: 51 })), []);
    const changed = await assertIndexRangesOnly('listUpdatedAfter', () => store.listUpdatedAfter({ updatedAt: T0 + 999_990, seq: 0 }, 100));
    assert.ok(changed.length >= 10 && changed.every((job, i) => i === 0 || job.updatedAt >= changed[i - 1]!.updatedAt), 'oldest change first');

    // A GROUP BY sorts, but only the rows of the range: at most the jobs of one hour, never the table.
    recorded = [];
    const perMinute = await store.countFinishedPerMinute(T0 + 500_000, T0 + 560_000);
    const [sql] = recorded.filter((statement) => /^\s*SELECT/i.test(statement));
    recorded = undefined;
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as Array<{ detail: string }>).map((row) => row.detail);
    assert.ok(plan.some((detail) => /^SEARCH jobs USING INDEX jobs_by_finished \(finished_at>\? AND finished_at<\?\)/.test(detail)), plan.join('\n'));
    assert.equal(perMinute.reduce((sum, row) => sum + row.count, 0), 60_000);
  });

  test('deleteFinished removes finished rows oldest first in batches, never pinned or pending ones; job_counts stays exact', async () => {
    const cutoff = T0 + BACKLOG + 20_000;
    const expirable = db.prepare(`
      SELECT seq FROM jobs WHERE status IN ('succeeded', 'failed', 'cancelled') AND pinned = 0 AND finished_at < ?
      ORDER BY finished_at`).pluck();
    const expected = expirable.all(cutoff) as number[];
    assert.ok(expected.length > 19_000, `${expected.length} rows to delete`);
    const countRunning = db.prepare(`SELECT count(*) FROM jobs WHERE status = 'running'`).pluck();
    const [pending, running] = [await store.countPending(), countRunning.get()];

    const deleted = await assertIndexRangesOnly('deleteFinished', () => store.deleteFinished(cutoff, 500));
    assert.equal(deleted, 500);
    assert.deepEqual(expirable.all(cutoff), expected.slice(500), 'the oldest 500 went, and only they');
    let total = deleted;
    for (let n = deleted; n === 500; total += n) n = await store.deleteFinished(cutoff, 500);
    assert.equal(total, expected.length);
    assert.deepEqual(expirable.all(cutoff), []);
    assert.equal(db.prepare(`SELECT count(*) FROM jobs WHERE pinned = 1 AND finished_at < ?`).pluck().get(cutoff), 19, 'pinned rows stay');
    assert.equal(await store.countPending(), pending, 'pending rows stay');
    assert.equal(countRunning.get(), running, 'running rows stay');
    const { kept, fresh } = countsByKindAndStatus(db);
    assert.deepEqual(kept, fresh);
  });
});

describe('job retention', () => {
  test('the engine deletes finished jobs older than jobTtlMs, keeps pinned, pending and running ones, and logs how many', async () => {
    const dataDir = makeTempDir();
    const lines: Array<{ msg: string; removed?: number }> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const engine = createEngine({ dataDir, store: openSqliteJobStore(dataDir), threads: 2, logger, pollIntervalMs: 50, jobTtlMs: 1000 });
    engine.register('noop', fixturePath('noop')).register('slow-progress', fixturePath('slow-progress'));
    const reader = openDatabase(jobsDatabasePath(dataDir), { readonly: true });
    try {
      await engine.start();
      const done = await Promise.all([1, 2, 3].map(() => engine.enqueue({ kind: 'noop', payload: {} })));
      const pinned = await engine.enqueue({ kind: 'noop', payload: {}, pinned: true });
      const later = await engine.enqueue({ kind: 'noop', payload: {}, runAt: Date.now() + 3_600_000 });
      const cancelled = await engine.enqueue({ kind: 'noop', payload: {}, runAt: Date.now() + 3_600_000 });
      await engine.cancel(cancelled.job.id);
      const finished = async (id: string) => ((await engine.get(id))?.finishedAt ? true : undefined);
      for (const { job } of [...done, pinned]) await waitFor(() => finished(job.id), 10_000, `job ${job.id} to finish`);
      const running = await engine.enqueue({ kind: 'slow-progress', payload: { steps: 1000, stepMs: 100 } });
      await waitFor(async () => ((await engine.get(running.job.id))?.status === 'running' ? true : undefined), 10_000, 'the slow job to run');

      const expired = [...done.map((r) => r.job.id), cancelled.job.id];
      await waitFor(async () => {
        const left = await Promise.all(expired.map((id) => engine.get(id)));
        return left.every((job) => job === undefined) ? true : undefined;
      }, 15_000, 'the finished jobs to be deleted');
      assert.equal((await engine.get(pinned.job.id))?.status, 'succeeded', 'a pinned job stays');
      assert.equal((await engine.get(later.job.id))?.status, 'pending');
      assert.equal((await engine.get(running.job.id))?.status, 'running');
      const { kept, fresh } = countsByKindAndStatus(reader);
      assert.deepEqual(kept, fresh, 'job_counts equals a fresh count');
      const removed = lines.filter((line) => line.msg === 'finished jobs removed').reduce((sum, line) => sum + line.removed!, 0);
      assert.equal(removed, expired.length, 'the sweeps logged how many rows they removed');
    } finally {
      reader.close();
      await engine.close({ graceMs: 0 });
    }
  });

  test('options.jobTtlMs must be a positive integer; the default is 7 days', async () => {
    const dataDir = makeTempDir();
    const store = openSqliteJobStore(dataDir);
    try {
      for (const jobTtlMs of [0, -1, 1.5]) {
        assert.throws(() => createEngine({ dataDir, store, jobTtlMs }), { message: 'options.jobTtlMs must be a positive integer' });
      }
      assert.equal(createEngine({ dataDir, store }).config.jobTtlMs, 7 * 24 * 3600 * 1000);
      assert.equal(ENGINE_DEFAULTS.jobTtlMs, 7 * 24 * 3600 * 1000);
    } finally {
      await store.close();
    }
  });

  test('--job-ttl (OFFLOAD_JOB_TTL) is a duration, 7d by default', () => {
    assert.equal(parseConfig([], {}).jobTtlMs, 7 * 86_400_000);
    const shortResults = { OFFLOAD_RESULT_TTL: '1s' }; // a job is kept at least as long as its export file
    assert.equal(parseConfig(['--job-ttl', '90m'], shortResults).jobTtlMs, 90 * 60_000);
    assert.equal(parseConfig([], { ...shortResults, OFFLOAD_JOB_TTL: '1s' }).jobTtlMs, 1000);
    assert.equal(parseConfig(['--job-ttl', '36h'], { OFFLOAD_JOB_TTL: '1s' }).jobTtlMs, 36 * 3_600_000, 'the flag wins');
    assert.throws(() => parseConfig(['--job-ttl', 'soon'], {}), { name: 'ConfigError', message: '--job-ttl must be a duration such as 90s, 30m, 24h or 7d, got "soon"' });
    assert.throws(() => parseConfig(['--job-ttl', '0'], {}), (err) => err instanceof ConfigError && /--job-ttl \(OFFLOAD_JOB_TTL\) must be longer than 0/.test(err.message));
  });
});
