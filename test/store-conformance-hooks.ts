// The part of the JobStore contract that deduplication and completion callbacks rely on: a held dedupe key folds
// inserts into the holder (atomically, whatever the policy), and every final status of a job with a callback URL
// leaves exactly one delivery, claimed with a lease and fenced by its attempt. Called from describeJobStoreConformance.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import type { NewJob } from '../src/engine/job.js';
import type { ConformanceTools } from './store-conformance-console.js';

const fail = (code: string) => ({ code, message: `${code} in a conformance test` });

export function describeHooksConformance({ store, insertOne, startJob, fenceOf, t0: T0 }: ConformanceTools): void {
  const newJob = (fields: Partial<NewJob> = {}): NewJob => ({
    id: randomUUID(), kind: 'k', payload: {}, priority: 0, runAt: T0, maxAttempts: 3, timeoutMs: null, createdAt: T0, ...fields,
  });
  const claimOne = async (kind = 'k', now = T0) => (await store().claim({ owner: 'w1', kinds: [kind], limit: 1, now, leaseMs: 30_000 }))[0]!;

  describe('dedupe keys', () => {
    test('a held key returns its holder, per kind; no key, another key or another kind inserts', async () => {
      const first = await insertOne({ dedupeKey: 'd1', payload: { n: 1 } });
      assert.deepEqual([first.dedupeKey, first.dedupePolicy], ['d1', 'pending']);
      const [again] = await store().insert([newJob({ dedupeKey: 'd1', payload: { n: 2 } })]);
      assert.deepEqual([again!.created, again!.deduplicated, again!.replaced, again!.job.id], [false, true, false, first.id]);
      assert.deepEqual((await store().get(first.id))!.payload, { n: 1 }, 'keep first: the payload is not touched');
      const others = await store().insert([newJob({ dedupeKey: 'd2' }), newJob({ dedupeKey: 'd1', kind: 'other' }), newJob(), newJob()]);
      assert.deepEqual(others.map((r) => r.created), [true, true, true, true]);
      assert.equal(await store().countPending(), 5);
    });

    test('policy pending frees the key once the holder starts; active once it ends; a batch repeating a key gets one job', async () => {
      const pending = await insertOne({ dedupeKey: 'p' });
      const active = await insertOne({ dedupeKey: 'a', dedupePolicy: 'active', kind: 'k2' });
      await claimOne('k');
      const running = await claimOne('k2');
      const [afterStart, whileRunning] = await store().insert([newJob({ dedupeKey: 'p' }), newJob({ dedupeKey: 'a', kind: 'k2' })]);
      assert.equal(afterStart!.created, true, 'pending: a started holder no longer holds its key');
      assert.notEqual(afterStart!.job.id, pending.id);
      assert.deepEqual([whileRunning!.deduplicated, whileRunning!.job.id, whileRunning!.job.status], [true, active.id, 'running']);
      await store().complete(fenceOf(running), null, T0 + 1);
      const [afterEnd] = await store().insert([newJob({ dedupeKey: 'a', kind: 'k2' })]);
      assert.equal(afterEnd!.created, true, 'active: an ended holder no longer holds its key');
      const batch = await store().insert([newJob({ dedupeKey: 'b' }), newJob({ dedupeKey: 'b' })]);
      assert.deepEqual(batch.map((r) => [r.created, r.job.id]), [[true, batch[0]!.job.id], [false, batch[0]!.job.id]]);
    });

    test('policy latest replaces a pending holder\'s payload; a started one is left alone and a new job is inserted', async () => {
      const holder = await insertOne({ dedupeKey: 'l', dedupePolicy: 'latest', payload: { v: 1 } });
      const [replaced] = await store().insert([newJob({ dedupeKey: 'l', dedupePolicy: 'latest', payload: { v: 2 } })]);
      assert.deepEqual([replaced!.deduplicated, replaced!.replaced, replaced!.job.id, replaced!.job.payload], [true, true, holder.id, { v: 2 }]);
      assert.deepEqual((await store().get(holder.id))!.payload, { v: 2 });
      await claimOne();
      const [next] = await store().insert([newJob({ dedupeKey: 'l', dedupePolicy: 'latest', payload: { v: 3 } })]);
      assert.equal(next!.created, true);
      assert.deepEqual((await store().get(holder.id))!.payload, { v: 2 }, 'the running job keeps what it started with');
    });

    test('concurrent inserts of one key make one job; a retried holder back to pending does not collide with the new holder', async () => {
      const results = (await Promise.all(Array.from({ length: 12 }, (_, i) => store().insert([newJob({ dedupeKey: 'race', payload: { i } })])))).flat();
      assert.equal(results.filter((r) => r.created).length, 1);
      assert.equal(new Set(results.map((r) => r.job.id)).size, 1);
      const running = await claimOne();
      const successor = await insertOne({ dedupeKey: 'race' });
      const retried = await store().endAttempt(fenceOf(running), { status: 'pending', error: fail('worker_exit'), runAt: T0 + 1 }, T0 + 1);
      assert.equal(retried?.status, 'pending', 'back to pending without a unique violation');
      const [dup] = await store().insert([newJob({ dedupeKey: 'race' })]);
      assert.equal(dup!.job.id, successor.id, 'the key stays with the job that took it');
    });

    test('an idempotency key is answered before the dedupe key; a taken id is refused', async () => {
      const first = await insertOne({ dedupeKey: 'x', idempotencyKey: 'idem', requestHash: 'h' });
      const [replay] = await store().insert([newJob({ dedupeKey: 'x', idempotencyKey: 'idem', requestHash: 'h' })]);
      assert.deepEqual([replay!.created, replay!.deduplicated, replay!.job.id], [false, undefined, first.id]);
      await assert.rejects(store().insert([newJob({ id: first.id })]));
    });
  });

  describe('completion deliveries', () => {
    test('each final status of a job with a callback URL leaves one pending delivery, in that write', async () => {
      const url = 'https://hooks.example/offload';
      const succeeded = await startJob({ callbackUrl: url });
      assert.equal(succeeded.callbackUrl, url);
      await store().complete(fenceOf(succeeded), { ok: 1 }, T0 + 10);
      const cancelled = await insertOne({ callbackUrl: url });
      await store().cancelPending(cancelled.id, fail('cancelled'), T0 + 20);
      const failed = await startJob({ callbackUrl: url });
      await store().endAttempt(fenceOf(failed), { status: 'failed', error: fail('task_error') }, T0 + 30);
      const quiet = await startJob();
      await store().complete(fenceOf(quiet), null, T0 + 40);
      const [delivery] = await store().deliveries(succeeded.id);
      assert.deepEqual(
        { ...delivery, id: undefined },
        { id: undefined, jobId: succeeded.id, url, event: 'succeeded', state: 'pending', attempts: 0, nextAttemptAt: T0 + 10, createdAt: T0 + 10, endedAt: null, log: [] },
      );
      assert.match(delivery!.id, /^[0-9a-f]{32}$/);
      assert.deepEqual((await store().deliveries(cancelled.id)).map((d) => d.event), ['cancelled']);
      assert.deepEqual((await store().deliveries(failed.id)).map((d) => d.event), ['failed']);
      assert.deepEqual(await store().deliveries(quiet.id), []);
      // Run again and ended again: another delivery.
      await store().retry(failed.id, T0 + 50);
      const again = await claimOne('k', T0 + 50);
      await store().complete(fenceOf(again), null, T0 + 60);
      assert.deepEqual((await store().deliveries(failed.id)).map((d) => d.event), ['failed', 'succeeded']);
    });

    test('claimDeliveries leases due ones, the first due first; endDeliveryAttempt logs, is fenced by the attempt, and ends them', async () => {
      const a = await startJob({ callbackUrl: 'http://a.example/' });
      await store().complete(fenceOf(a), null, T0 + 100);
      const b = await insertOne({ callbackUrl: 'http://b.example/' });
      await store().cancelPending(b.id, fail('cancelled'), T0 + 50);
      assert.deepEqual(await store().claimDeliveries(T0 + 49, 10, 1000), [], 'nothing due yet');
      assert.deepEqual((await store().claimDeliveries(T0 + 100, 1, 1000)).map((d) => d.jobId), [b.id], 'the one due first');
      const claimed = [...(await store().deliveries(b.id)), ...(await store().claimDeliveries(T0 + 100, 10, 1000))];
      assert.deepEqual(claimed.map((d) => [d.jobId, d.attempts, d.nextAttemptAt]), [[b.id, 1, T0 + 1100], [a.id, 1, T0 + 1100]]);
      assert.deepEqual(await store().claimDeliveries(T0 + 1099, 10, 1000), [], 'leased');
      const [first, second] = claimed as [typeof claimed[0], typeof claimed[0]];
      const tried = { attempt: 1, at: T0 + 100, durationMs: 12, statusCode: 500, error: 'HTTP 500' };
      const retrying = await store().endDeliveryAttempt(first.id, tried, { state: 'pending', nextAttemptAt: T0 + 400 }, T0 + 112);
      assert.deepEqual([retrying?.state, retrying?.nextAttemptAt, retrying?.log], ['pending', T0 + 400, [tried]]);
      const delivered = await store().endDeliveryAttempt(second.id, { ...tried, statusCode: 204, error: null }, { state: 'delivered' }, T0 + 112);
      assert.deepEqual([delivered?.state, delivered?.endedAt], ['delivered', T0 + 112]);
      assert.equal(await store().endDeliveryAttempt(second.id, tried, { state: 'failed' }, T0 + 113), undefined, 'ended: nothing written');
      const [retaken] = await store().claimDeliveries(T0 + 400, 1, 1000);
      assert.deepEqual([retaken?.id, retaken?.attempts], [first.id, 2]);
      assert.equal(await store().endDeliveryAttempt(first.id, tried, { state: 'failed' }, T0 + 401), undefined, 'a stale attempt is fenced off');
      const given = await store().endDeliveryAttempt(first.id, { ...tried, attempt: 2, error: 'timeout' }, { state: 'failed' }, T0 + 402);
      assert.deepEqual([given?.state, given?.log.map((e) => e.error)], ['failed', ['HTTP 500', 'timeout']]);
      assert.deepEqual(await store().claimDeliveries(T0 + 1_000_000, 10, 1000), []);
      await store().deleteFinished(T0 + 1_000_000, 100);
      assert.deepEqual(await store().deliveries(a.id), [], 'deleted with their job');
    });
  });
}
