// The part of the JobStore contract the console reads and writes: filtered lists, changes since a point, counts of
// every status, finishes per minute, and retry. Called from describeJobStoreConformance, so every store runs it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Fence, Job, NewJob } from '../src/engine/job.js';
import type { JobStore } from '../src/engine/job-store.js';

export interface ConformanceTools {
  store(): JobStore;
  insertOne(fields?: Partial<NewJob>): Promise<Job>;
  startJob(fields?: Partial<NewJob> & { owner?: string; now?: number }): Promise<Job>;
  fenceOf(job: Job): Fence;
  t0: number;
}

const ids = (jobs: Array<{ id: string }>) => jobs.map((job) => job.id);
const failure = (code: string) => ({ code, message: `${code} in a conformance test` });

export function describeConsoleConformance({ store, insertOne, startJob, fenceOf, t0: T0 }: ConformanceTools): void {
  describe('console reads and retry', () => {
    test('list filters by ref, creation time, text in payload or result, and a seq window; all combine', async () => {
      const a = await insertOne({ kind: 'a', ref: 'd1', createdAt: T0, payload: { city: 'Zürich', n: 1 } });
      const b = await insertOne({ kind: 'b', ref: 'd1', createdAt: T0 + 1000, payload: { city: 'Bern' } });
      const c = await startJob({ kind: 'a', priority: 10, createdAt: T0 + 2000, payload: { city: 'Basel' } });
      await store().complete(fenceOf(c), { note: 'found Zürich' }, T0 + 3000);
      const d = await insertOne({ kind: 'a', ref: 'd2', createdAt: T0 + 3000, payload: { ZÜRICH: true } });
      const list = (filter: object) => store().list({ limit: 10, ...filter }).then(ids);
      assert.deepEqual(await list({ ref: 'd1' }), [b.id, a.id], 'ref, newest first');
      assert.deepEqual(await list({ ref: 'd1', kind: 'a' }), [a.id]);
      assert.deepEqual(await list({ ref: 'd1', status: 'running' }), []);
      assert.deepEqual(await list({ createdAfter: T0 + 1000 }), [d.id, c.id, b.id], 'createdAfter is inclusive');
      assert.deepEqual(await list({ createdBefore: T0 + 1000 }), [a.id], 'createdBefore is exclusive');
      assert.deepEqual(await list({ createdAfter: T0 + 1000, createdBefore: T0 + 3000, kind: 'a' }), [c.id]);
      assert.deepEqual(await list({ text: 'Zürich' }), [c.id, a.id], 'payload or result, case-sensitive');
      assert.deepEqual(await list({ text: 'zürich' }), []);
      assert.deepEqual(await list({ text: '%' }), [], 'no wildcards');
      assert.deepEqual(await list({ text: 'Basel', status: 'succeeded' }), [c.id]);
      assert.deepEqual(await list({ fromSeq: b.seq, beforeSeq: d.seq }), [c.id, b.id], 'fromSeq inclusive, beforeSeq exclusive');
      assert.deepEqual(await list({ fromSeq: b.seq, kind: 'a', limit: 1 }), [d.id], 'limit');
    });

    test('listUpdatedAfter returns the rows changed after a point, in (updatedAt, seq) order, in pages', async () => {
      const a = await insertOne({ createdAt: T0 });
      const b = await insertOne({ createdAt: T0 });
      const c = await insertOne({ createdAt: T0 + 5 });
      const claimed = (await store().claim({ owner: 'w1', kinds: ['k'], limit: 1, now: T0 + 10, leaseMs: 30_000 }))[0]!;
      assert.equal(claimed.id, a.id);
      const all = await store().listUpdatedAfter({ updatedAt: 0, seq: 0 }, 10);
      assert.deepEqual(ids(all), [b.id, c.id, a.id], 'b and c as inserted; a moved to T0 + 10 by its claim');
      assert.deepEqual(all.map((job) => job.updatedAt), [T0, T0 + 5, T0 + 10]);
      assert.deepEqual(all[2], await store().get(a.id), 'whole jobs');
      assert.deepEqual(ids(await store().listUpdatedAfter({ updatedAt: T0, seq: b.seq }, 10)), [c.id, a.id], 'the same updatedAt with a later seq counts');
      assert.deepEqual(ids(await store().listUpdatedAfter({ updatedAt: T0, seq: 0 }, 1)), [b.id], 'limit');
      assert.deepEqual(await store().listUpdatedAfter({ updatedAt: T0 + 10, seq: a.seq }, 10), []);
    });

    test('countAllByKindAndStatus counts every status, finished ones too', async () => {
      await insertOne({ kind: 'a' });
      const done = await startJob({ kind: 'a', priority: 10 });
      await store().complete(fenceOf(done), null, T0 + 1);
      const failed = await startJob({ kind: 'b' });
      await store().endAttempt(fenceOf(failed), { status: 'failed', error: failure('task_error') }, T0 + 1);
      const counts = (await store().countAllByKindAndStatus()).sort((x, y) => x.kind.localeCompare(y.kind) || x.status.localeCompare(y.status));
      assert.deepEqual(counts, [
        { kind: 'a', status: 'pending', count: 1 }, { kind: 'a', status: 'succeeded', count: 1 }, { kind: 'b', status: 'failed', count: 1 },
      ]);
    });

    test('countFinishedPerMinute counts final outcomes per kind, status and minute in [since, until)', async () => {
      const minute = Math.floor(T0 / 60_000) * 60_000;
      const finish = async (kind: string, at: number, how: 'succeeded' | 'failed') => {
        const job = await startJob({ kind, now: minute });
        if (how === 'succeeded') await store().complete(fenceOf(job), null, at);
        else await store().endAttempt(fenceOf(job), { status: 'failed', error: failure('task_error') }, at);
      };
      await finish('a', minute + 1_000, 'succeeded');
      await finish('a', minute + 59_999, 'succeeded');
      await finish('a', minute + 60_000, 'failed');
      await finish('b', minute + 61_000, 'succeeded');
      await finish('a', minute + 180_000, 'succeeded');
      const retried = await startJob({ kind: 'a', now: minute });
      await store().endAttempt(fenceOf(retried), { status: 'pending', error: failure('worker_exit'), runAt: minute + 1 }, minute + 2_000);
      const cancelled = await insertOne({ kind: 'c' });
      await store().cancelPending(cancelled.id, failure('cancelled'), minute + 2_000);
      const rows = (await store().countFinishedPerMinute(minute, minute + 180_000))
        .sort((x, y) => x.minute - y.minute || x.kind.localeCompare(y.kind) || x.status.localeCompare(y.status));
      assert.deepEqual(rows, [
        { kind: 'a', status: 'succeeded', minute, count: 2 },
        { kind: 'c', status: 'cancelled', minute, count: 1 },
        { kind: 'a', status: 'failed', minute: minute + 60_000, count: 1 },
        { kind: 'b', status: 'succeeded', minute: minute + 60_000, count: 1 },
      ], 'a retry is not a finish; until is exclusive');
    });

    test('retry puts a failed or cancelled job back to pending with an attempt left, and nothing else', async () => {
      const failed = await startJob({ maxAttempts: 1 });
      await store().endAttempt(fenceOf(failed), { status: 'failed', error: failure('task_error') }, T0 + 10);
      const retried = await store().retry(failed.id, T0 + 20);
      assert.ok(retried);
      assert.deepEqual(
        [retried.status, retried.attempts, retried.maxAttempts, retried.runAt, retried.error, retried.result, retried.finishedAt, retried.updatedAt],
        ['pending', 1, 2, T0 + 20, null, null, null, T0 + 20],
      );
      assert.deepEqual(await store().get(failed.id), retried);
      assert.equal((await store().attempts(failed.id)).length, 1, 'the history is kept');
      const [again] = await store().claim({ owner: 'w2', kinds: ['k'], limit: 1, now: T0 + 20, leaseMs: 30_000 });
      assert.deepEqual([again?.id, again?.attempts], [failed.id, 2], 'claimable at once; the attempt count goes on');

      const cancelled = await insertOne({ maxAttempts: 3 });
      await store().cancelPending(cancelled.id, failure('cancelled'), T0 + 1);
      assert.deepEqual([(await store().retry(cancelled.id, T0 + 2))?.status, (await store().get(cancelled.id))?.maxAttempts], ['pending', 3]);

      const pending = await insertOne();
      assert.equal(await store().retry(pending.id, T0 + 1), undefined, 'pending');
      assert.equal(await store().retry(again!.id, T0 + 21), undefined, 'running');
      const succeeded = await startJob({ kind: 'done' });
      await store().complete(fenceOf(succeeded), { ok: 1 }, T0 + 1);
      assert.equal(await store().retry(succeeded.id, T0 + 2), undefined, 'succeeded');
      assert.deepEqual((await store().get(succeeded.id))?.result, { ok: 1 }, 'unchanged');
      assert.equal(await store().retry('00000000-0000-4000-8000-000000000000', T0), undefined, 'no such job');
    });
  });
}
