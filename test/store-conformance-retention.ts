// The part of the JobStore contract job retention relies on: deleteFinished takes ended jobs oldest first, never a
// pinned or unfinished one, and unpin lets a pinned job go like any other. Called from describeJobStoreConformance.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ConformanceTools } from './store-conformance-console.js';

export function describeRetentionConformance({ store, insertOne, startJob, fenceOf, t0: T0 }: ConformanceTools): void {
  describe('retention', () => {
    test('deleteFinished removes ended jobs finished before the cutoff, oldest first, up to the limit, never pinned or active ones', async () => {
      const ended = async (finishedAt: number, pinned = false) => {
        const job = await startJob({ pinned });
        return (await store().complete(fenceOf(job), null, finishedAt))!;
      };
      const oldest = await ended(T0 + 1000);
      const older = await ended(T0 + 2000);
      const pinned = await ended(T0 + 500, true);
      const recent = await ended(T0 + 9000);
      const pending = await insertOne({ createdAt: T0 });
      assert.equal(await store().deleteFinished(T0 + 5000, 1), 1, 'the limit');
      assert.equal(await store().get(oldest.id), undefined, 'oldest first');
      assert.ok(await store().get(older.id));
      assert.equal(await store().deleteFinished(T0 + 5000, 100), 1);
      for (const kept of [pinned, recent, pending]) assert.ok(await store().get(kept.id), `${kept.id} is kept`);
    });

    test('unpin lets retention delete a pinned job once it ended; an unknown id changes nothing', async () => {
      const job = await startJob({ pinned: true });
      await store().complete(fenceOf(job), null, T0 + 1000);
      assert.equal(await store().deleteFinished(T0 + 5000, 100), 0, 'pinned');
      await store().unpin(job.id);
      await store().unpin('00000000-0000-4000-8000-000000000000');
      assert.equal(await store().deleteFinished(T0 + 5000, 100), 1);
      assert.equal(await store().get(job.id), undefined);
    });
  });
}
