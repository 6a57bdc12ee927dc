// The contract of JobStore as tests every implementation must pass (River's riverdrivertest is the model): the
// engine relies on nothing a store does beyond what is checked here. Times are explicit `now` values, never the
// clock, so no test sleeps.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { Fence, Job, JobError, NewJob } from '../src/engine/job.js';
import type { JobStore } from '../src/engine/job-store.js';
import { describeConsoleConformance } from './store-conformance-console.js';
import { describeRetentionConformance } from './store-conformance-retention.js';
import { describeScheduleConformance } from './store-conformance-schedules.js';

const T0 = 1_750_000_000_000;
const LEASE_MS = 30_000;

function newJob(fields: Partial<NewJob> = {}): NewJob {
  return { id: randomUUID(), kind: 'k', payload: {}, priority: 0, runAt: T0, maxAttempts: 3, timeoutMs: null, createdAt: T0, ...fields };
}

function failure(code = 'task_error'): JobError {
  return { code, message: `${code} in a conformance test`, details: { attempt: 1 } };
}

function fenceOf(job: Job): Fence {
  assert.ok(job.owner, `job ${job.id} has no owner: it is not running`);
  return { id: job.id, owner: job.owner, attempt: job.attempts };
}

/** Every write fenced by (owner, attempt), applied with `fence` at `now`. */
const FENCED_WRITES: Array<[string, (store: JobStore, fence: Fence, now: number) => Promise<Job | undefined>]> = [
  ['complete', (store, fence, now) => store.complete(fence, { stale: true }, now, { done: 9, total: 9 })],
  ['endAttempt failed', (store, fence, now) => store.endAttempt(fence, { status: 'failed', error: failure() }, now)],
  ['endAttempt cancelled', (store, fence, now) => store.endAttempt(fence, { status: 'cancelled', error: failure('cancelled') }, now)],
  ['endAttempt pending', (store, fence, now) => store.endAttempt(fence, { status: 'pending', error: failure('worker_exit'), runAt: now + 1 }, now)],
  ['saveProgress', (store, fence, now) => store.saveProgress(fence, 1, 2, now)],
  ['release', (store, fence, now) => store.release(fence, now)],
  ['endOrphan with ownerGone', (store, fence, now) => store.endOrphan(fence, { status: 'failed', error: failure('lost') }, now, true)],
];

function byKindAndStatus<T extends { kind: string; status: string }>(rows: T[]): T[] {
  return [...rows].sort((a, b) => a.kind.localeCompare(b.kind) || a.status.localeCompare(b.status));
}

function ids(jobs: Array<{ id: string }>): string[] {
  return jobs.map((job) => job.id);
}

function sortedIds(jobs: Array<{ id: string }>): string[] {
  return ids(jobs).sort();
}

/** Runs the JobStore contract against the stores `openStore` returns: a fresh, empty one for each test. */
export function describeJobStoreConformance(name: string, openStore: () => Promise<JobStore> | JobStore): void {
  describe(`JobStore conformance: ${name}`, () => {
    let store: JobStore;
    beforeEach(async () => {
      store = await openStore();
    });
    afterEach(async () => {
      await store.close();
    });

    async function insertOne(fields: Partial<NewJob> = {}): Promise<Job> {
      const [inserted] = await store.insert([newJob(fields)]);
      assert.equal(inserted?.created, true, 'the job was inserted');
      return inserted.job;
    }

    /** Inserts a job and claims it: the only pending job of its kind due at `now`. */
    async function startJob({ owner = 'w1', now = T0, leaseMs = LEASE_MS, ...fields }: Partial<NewJob> & { owner?: string; now?: number; leaseMs?: number } = {}): Promise<Job> {
      const job = await insertOne({ runAt: now, ...fields });
      const claimed = await store.claim({ owner, kinds: [job.kind], limit: 1, now, leaseMs });
      assert.deepEqual(ids(claimed), [job.id], 'the job just inserted is the one claimed');
      return claimed[0]!;
    }

    describe('insert and get', () => {
      test('get returns every field as inserted, with the state of a new job', async () => {
        const fields: NewJob = {
          id: randomUUID(), kind: 'export', payload: { a: [1, 'x', null, 2.5], b: { c: true }, s: 'é"\n' }, priority: 7,
          runAt: T0 + 5000, maxAttempts: 4, timeoutMs: 60_000, createdAt: T0, idempotencyKey: 'route:key-1', requestHash: 'hash-1', ref: 'dataset-1',
        };
        const [inserted] = await store.insert([fields]);
        assert.equal(inserted?.created, true);
        const { id, kind, payload, priority, runAt, maxAttempts, timeoutMs, createdAt, idempotencyKey, requestHash, ref } = fields;
        assert.deepEqual({ ...inserted.job, seq: 0 }, {
          id, kind, status: 'pending', payload, priority, runAt, attempts: 0, maxAttempts, timeoutMs, owner: null, leaseExpiresAt: null,
          cancelRequested: false, progressDone: null, progressTotal: null, result: null, error: null, createdAt, startedAt: null,
          finishedAt: null, updatedAt: createdAt, seq: 0, idempotencyKey, requestHash, ref,
        });
        assert.equal(typeof inserted.job.seq, 'number');
        assert.deepEqual(await store.get(id), inserted.job, 'get returns what insert returned');
      });

      test('omitted idempotency key, request hash and ref read back as null', async () => {
        const job = await insertOne();
        assert.deepEqual([job.idempotencyKey, job.requestHash, job.ref, job.timeoutMs], [null, null, null, null]);
        assert.deepEqual(await store.get(job.id), job);
      });

      test('get of an unknown id resolves undefined', async () => {
        assert.equal(await store.get(randomUUID()), undefined);
      });

      test('insert of several jobs returns each in order, with seq increasing in creation order', async () => {
        const jobs = [newJob({ kind: 'a' }), newJob({ kind: 'b' }), newJob({ kind: 'c' })];
        const inserted = await store.insert(jobs);
        assert.deepEqual(inserted.map((r) => [r.job.id, r.created]), jobs.map((job) => [job.id, true]));
        const seqs = inserted.map((r) => r.job.seq);
        assert.ok(seqs[0]! < seqs[1]! && seqs[1]! < seqs[2]!, `seq increases in creation order: ${seqs.join(', ')}`);
        for (const { job } of inserted) assert.deepEqual(await store.get(job.id), job);
      });

      test('insert is one transaction: a batch with a failing job inserts none of it', async () => {
        const existing = await insertOne();
        const fresh = newJob();
        await assert.rejects(store.insert([fresh, newJob({ id: existing.id })]), 'a second job with the same id is refused');
        assert.equal(await store.get(fresh.id), undefined, 'the job before the failing one was inserted anyway: the failed call was not rolled back');
        assert.equal(await store.countPending(), 1);
      });

      test('an idempotency key already taken returns the existing job with created: false and inserts nothing', async () => {
        const first = await insertOne({ idempotencyKey: 'k1', requestHash: 'h1', payload: { n: 1 } });
        const replay = newJob({ idempotencyKey: 'k1', requestHash: 'h2', payload: { n: 2 } });
        const other = newJob();
        const results = await store.insert([replay, other]);
        assert.deepEqual(results[0], { job: first, created: false }, 'the existing row, unchanged (its own request hash)');
        assert.equal(results[1]?.created, true, 'the other job of the batch is inserted');
        assert.equal(await store.get(replay.id), undefined, 'the replay was not inserted');
        assert.equal(await store.countPending(), 2);
      });

      test('a key repeated within one insert call inserts the first job only', async () => {
        const [a, b] = [newJob({ idempotencyKey: 'k1' }), newJob({ idempotencyKey: 'k1' })];
        const results = await store.insert([a, b]);
        assert.deepEqual(results.map((r) => [r.job.id, r.created]), [[a.id, true], [a.id, false]]);
        assert.equal(await store.get(b.id), undefined);
      });

      test('an idempotency key stays taken while its job runs and after it finished', async () => {
        const running = await startJob({ idempotencyKey: 'k1' });
        const [whileRunning] = await store.insert([newJob({ idempotencyKey: 'k1' })]);
        assert.deepEqual([whileRunning?.job.id, whileRunning?.created], [running.id, false]);
        await store.complete(fenceOf(running), null, T0 + 1);
        const [afterwards] = await store.insert([newJob({ idempotencyKey: 'k1' })]);
        assert.deepEqual([afterwards?.job.id, afterwards?.job.status, afterwards?.created], [running.id, 'succeeded', false]);
      });
    });

    describe('claim', () => {
      test('claims only pending jobs of the requested kinds whose runAt <= now', async () => {
        const due = await insertOne({ runAt: T0 });
        const later = await insertOne({ runAt: T0 + 1000 });
        await insertOne({ kind: 'other', runAt: T0 });
        const cancelled = await insertOne({ runAt: T0 });
        await store.cancelPending(cancelled.id, failure('cancelled'), T0);
        const claimed = await store.claim({ owner: 'w1', kinds: ['k'], limit: 10, now: T0, leaseMs: LEASE_MS });
        assert.deepEqual(ids(claimed), [due.id], 'only the due pending job of kind k');
        assert.deepEqual(await store.claim({ owner: 'w2', kinds: ['k'], limit: 10, now: T0 + 999, leaseMs: LEASE_MS }), [],
          'a running job is not claimed again; a job due later is not claimed early');
        assert.deepEqual(ids(await store.claim({ owner: 'w2', kinds: ['k'], limit: 10, now: T0 + 1000, leaseMs: LEASE_MS })), [later.id],
          'a job is claimable at its runAt exactly');
      });

      test('claims several kinds at once', async () => {
        const a = await insertOne({ kind: 'a' });
        const b = await insertOne({ kind: 'b' });
        await insertOne({ kind: 'c' });
        const claimed = await store.claim({ owner: 'w1', kinds: ['a', 'b'], limit: 10, now: T0, leaseMs: LEASE_MS });
        assert.deepEqual(sortedIds(claimed), [a.id, b.id].sort());
      });

      test('claims by priority descending, then runAt, then creation order, up to the limit', async () => {
        // All created at the same instant: only the insertion order tells the ties apart.
        const [low, highLate, highEarly1, highEarly2] = (await store.insert([
          newJob({ priority: 0, runAt: T0 - 100 }),
          newJob({ priority: 5, runAt: T0 }),
          newJob({ priority: 5, runAt: T0 - 50 }),
          newJob({ priority: 5, runAt: T0 - 50 }),
        ])).map((r) => r.job.id);
        const first = await store.claim({ owner: 'w1', kinds: ['k'], limit: 3, now: T0, leaseMs: LEASE_MS });
        assert.deepEqual(ids(first), [highEarly1, highEarly2, highLate], 'priority 5 first, earliest runAt first, then creation order');
        const rest = await store.claim({ owner: 'w1', kinds: ['k'], limit: 3, now: T0, leaseMs: LEASE_MS });
        assert.deepEqual(ids(rest), [low]);
      });

      test('a claimed job is running, owned, leased until now + leaseMs, started now, its attempt counted', async () => {
        const job = await insertOne({ runAt: T0 });
        const now = T0 + 250;
        const [claimed] = await store.claim({ owner: 'w1', kinds: ['k'], limit: 1, now, leaseMs: 1000 });
        assert.deepEqual(claimed, {
          ...job, status: 'running', owner: 'w1', leaseExpiresAt: now + 1000, attempts: 1, startedAt: now, updatedAt: now,
        });
        assert.deepEqual(await store.get(job.id), claimed);
      });

      test('claim with no kinds or a limit of 0 returns [] and claims nothing', async () => {
        await insertOne();
        assert.deepEqual(await store.claim({ owner: 'w1', kinds: [], limit: 10, now: T0, leaseMs: LEASE_MS }), []);
        assert.deepEqual(await store.claim({ owner: 'w1', kinds: ['k'], limit: 0, now: T0, leaseMs: LEASE_MS }), []);
        assert.equal(await store.countPending(), 1);
      });

      test('two concurrent claims never return the same job', async () => {
        const inserted = await store.insert(Array.from({ length: 10 }, () => newJob()));
        const [a, b] = await Promise.all([
          store.claim({ owner: 'w1', kinds: ['k'], limit: 7, now: T0, leaseMs: LEASE_MS }),
          store.claim({ owner: 'w2', kinds: ['k'], limit: 7, now: T0, leaseMs: LEASE_MS }),
        ]);
        const all = [...ids(a), ...ids(b)];
        assert.equal(new Set(all).size, all.length, `a job was claimed twice: ${all.join(', ')}`);
        assert.deepEqual(all.sort(), sortedIds(inserted.map((r) => r.job)), 'between them they claimed all 10');
        for (const [owner, claimed] of [['w1', a], ['w2', b]] as const) {
          for (const job of claimed) assert.equal((await store.get(job.id))?.owner, owner, `job ${job.id} belongs to its claimer`);
        }
      });
    });

    describe('fenced writes', () => {
      test('complete records the result and final progress, ends the attempt', async () => {
        const job = await startJob();
        const done = await store.complete(fenceOf(job), { rows: 3, files: ['a.csv'] }, T0 + 10, { done: 3, total: 3 });
        assert.deepEqual(done, {
          ...job, status: 'succeeded', result: { rows: 3, files: ['a.csv'] }, owner: null, leaseExpiresAt: null, progressDone: 3,
          progressTotal: 3, finishedAt: T0 + 10, updatedAt: T0 + 10,
        });
        assert.deepEqual(await store.get(job.id), done);
      });

      test('complete without progress keeps the progress saved last', async () => {
        const job = await startJob();
        await store.saveProgress(fenceOf(job), 4, 10, T0 + 5);
        const done = await store.complete(fenceOf(job), null, T0 + 10);
        assert.deepEqual([done?.status, done?.progressDone, done?.progressTotal, done?.result], ['succeeded', 4, 10, null]);
      });

      test('complete with progress records it as saveProgress would, a null total included', async () => {
        const job = await startJob();
        await store.saveProgress(fenceOf(job), 4, 10, T0 + 5);
        const done = await store.complete(fenceOf(job), null, T0 + 10, { done: 7, total: null });
        assert.deepEqual({ done: done?.progressDone, total: done?.progressTotal }, { done: 7, total: null },
          'complete with { done: 7, total: null } kept the total saved earlier');
      });

      for (const status of ['failed', 'cancelled'] as const) {
        test(`endAttempt ${status} ends the job with its error`, async () => {
          const job = await startJob();
          const error = failure(status === 'cancelled' ? 'cancelled' : 'task_error');
          const ended = await store.endAttempt(fenceOf(job), { status, error }, T0 + 10);
          assert.deepEqual(ended, { ...job, status, error, owner: null, leaseExpiresAt: null, finishedAt: T0 + 10, updatedAt: T0 + 10 });
          assert.deepEqual(await store.get(job.id), ended);
        });
      }

      test('endAttempt pending puts the job back for a retry at runAt, keeping its error and attempt count', async () => {
        const job = await startJob();
        const error = failure('worker_exit');
        const retry = await store.endAttempt(fenceOf(job), { status: 'pending', error, runAt: T0 + 500 }, T0 + 10);
        assert.deepEqual(retry, { ...job, status: 'pending', error, runAt: T0 + 500, owner: null, leaseExpiresAt: null, updatedAt: T0 + 10 });
        assert.deepEqual(await store.claim({ owner: 'w1', kinds: ['k'], limit: 1, now: T0 + 499, leaseMs: LEASE_MS }), [], 'not before runAt');
        const [again] = await store.claim({ owner: 'w2', kinds: ['k'], limit: 1, now: T0 + 500, leaseMs: LEASE_MS });
        assert.deepEqual([again?.id, again?.attempts, again?.owner], [job.id, 2, 'w2']);
      });

      test('saveProgress records progress and leaves the job running', async () => {
        const job = await startJob();
        const saved = await store.saveProgress(fenceOf(job), 5, 20, T0 + 10);
        assert.deepEqual(saved, { ...job, progressDone: 5, progressTotal: 20, updatedAt: T0 + 10 });
        const unknownTotal = await store.saveProgress(fenceOf(job), 6, null, T0 + 20);
        assert.deepEqual([unknownTotal?.status, unknownTotal?.progressDone, unknownTotal?.progressTotal], ['running', 6, null]);
      });

      test('release gives the attempt back: pending, attempts − 1, no owner or lease, claimable at once', async () => {
        const job = await startJob();
        const released = await store.release(fenceOf(job), T0 + 10);
        assert.equal(released?.status, 'pending');
        assert.equal(released?.attempts, 0, 'the attempt is not counted');
        assert.deepEqual([released?.owner, released?.leaseExpiresAt, released?.finishedAt], [null, null, null]);
        assert.ok(released!.runAt <= T0 + 10, `claimable at release time (runAt ${released!.runAt - T0} ms after T0)`);
        assert.deepEqual(await store.get(job.id), released);
        const [again] = await store.claim({ owner: 'w2', kinds: ['k'], limit: 1, now: T0 + 10, leaseMs: LEASE_MS });
        assert.deepEqual([again?.id, again?.attempts], [job.id, 1]);
      });

      test('a fence of another owner or another attempt changes nothing and resolves undefined', async () => {
        // Attempt 1 of w1 ended in a retry; attempt 2 is running, w1's again.
        const first = await startJob();
        await store.endAttempt(fenceOf(first), { status: 'pending', error: failure('worker_exit'), runAt: T0 + 10 }, T0 + 5);
        const [second] = await store.claim({ owner: 'w1', kinds: ['k'], limit: 1, now: T0 + 10, leaseMs: LEASE_MS });
        assert.equal(second?.attempts, 2);
        const stale: Array<[string, Fence]> = [
          ['another owner', { id: first.id, owner: 'w2', attempt: 2 }],
          ['the previous attempt', { id: first.id, owner: 'w1', attempt: 1 }],
          ['a later attempt', { id: first.id, owner: 'w1', attempt: 3 }],
          ['another job id', { id: randomUUID(), owner: 'w1', attempt: 2 }],
        ];
        const before = await store.get(first.id);
        for (const [fenceName, fence] of stale) {
          for (const [writeName, write] of FENCED_WRITES) {
            assert.equal(await write(store, fence, T0 + 3_600_000), undefined, `${writeName} with a fence of ${fenceName} resolved a job`);
            assert.deepEqual(await store.get(first.id), before, `${writeName} with a fence of ${fenceName} changed the job`);
          }
        }
      });

      test('the fence of a job that is no longer running changes nothing and resolves undefined', async () => {
        const ends: Array<[string, (fence: Fence) => Promise<Job | undefined>]> = [
          ['succeeded', (fence) => store.complete(fence, 1, T0 + 1)],
          ['failed', (fence) => store.endAttempt(fence, { status: 'failed', error: failure() }, T0 + 1)],
          ['cancelled', (fence) => store.endAttempt(fence, { status: 'cancelled', error: failure('cancelled') }, T0 + 1)],
          ['pending for a retry', (fence) => store.endAttempt(fence, { status: 'pending', error: failure('worker_exit'), runAt: T0 + 1_000_000 }, T0 + 1)],
          ['released', (fence) => store.release(fence, T0 + 1)],
        ];
        for (const [endName, end] of ends) {
          const job = await startJob({ kind: `k-${endName}` });
          assert.ok(await end(fenceOf(job)), `the job could be ${endName}`);
          const before = await store.get(job.id);
          for (const [writeName, write] of FENCED_WRITES) {
            assert.equal(await write(store, fenceOf(job), T0 + 2), undefined, `${writeName} on a job ${endName} resolved a job`);
            assert.deepEqual(await store.get(job.id), before, `${writeName} on a job ${endName} changed it`);
          }
        }
      });
    });

    describe('leases and cancellation', () => {
      test('renewLeases extends only the running jobs of that owner', async () => {
        const a = await startJob({ owner: 'w1' });
        const finished = await startJob({ owner: 'w1' });
        await store.complete(fenceOf(finished), null, T0 + 1);
        const other = await startJob({ owner: 'w2' });
        const fences = [a, finished, other].map((job) => ({ id: job.id, attempt: job.attempts }));
        const renewed = await store.renewLeases('w1', fences, T0 + 90_000, T0 + 100);
        assert.deepEqual(renewed, [{ id: a.id, attempt: 1, cancelRequested: false }]);
        assert.equal((await store.get(a.id))?.leaseExpiresAt, T0 + 90_000);
        assert.deepEqual(await store.get(other.id), other, "w2's job is untouched");
        assert.equal((await store.get(finished.id))?.leaseExpiresAt, null, 'a finished job gets no lease');
        assert.deepEqual(await store.renewLeases('nobody', fences, T0 + 90_000, T0 + 100), []);
      });

      test('renewLeases extends only the listed attempts: a row the owner holds but does not run is left to expire', async () => {
        const listed = await startJob({ owner: 'w1', leaseMs: 1000 });
        const unlisted = await startJob({ owner: 'w1', leaseMs: 1000 });
        const renewed = await store.renewLeases('w1', [{ id: listed.id, attempt: 1 }, { id: unlisted.id, attempt: 2 }], T0 + 90_000, T0 + 100);
        assert.deepEqual(renewed, [{ id: listed.id, attempt: 1, cancelRequested: false }], 'an attempt number that is not the row\'s renews nothing');
        assert.equal((await store.get(unlisted.id))?.leaseExpiresAt, T0 + 1000);
        assert.deepEqual(await store.renewLeases('w1', [], T0 + 90_000, T0 + 100), []);
      });

      test('renewLeases records the heartbeat of the owner (leases.ts forgets owners silent for 10 leases)', async () => {
        await store.registerOwner({ id: 'w1', hostname: 'h', pid: 1, startedAt: T0, heartbeatAt: T0 });
        await store.renewLeases('w1', [], T0 + 90_000, T0 + 100);
        assert.equal((await store.listOwners())[0]?.heartbeatAt, T0 + 100);
      });

      test('renewLeases reports a cancellation asked with requestCancel', async () => {
        const asked = await startJob({ owner: 'w1' });
        const notAsked = await startJob({ owner: 'w1' });
        const flagged = await store.requestCancel(asked.id, T0 + 5);
        assert.deepEqual(flagged, { ...asked, cancelRequested: true, updatedAt: T0 + 5 }, 'requestCancel flags the job, which keeps running');
        const renewed = await store.renewLeases('w1', [asked, notAsked].map((job) => ({ id: job.id, attempt: job.attempts })), T0 + 90_000, T0 + 10);
        assert.deepEqual(renewed.sort((x, y) => x.id.localeCompare(y.id)),
          [{ id: asked.id, attempt: 1, cancelRequested: true }, { id: notAsked.id, attempt: 1, cancelRequested: false }].sort((x, y) => x.id.localeCompare(y.id)));
      });

      test('requestCancel affects only running jobs', async () => {
        const pending = await insertOne();
        const finished = await startJob({ kind: 'done' });
        await store.complete(fenceOf(finished), null, T0 + 1);
        const finishedBefore = await store.get(finished.id);
        assert.equal(await store.requestCancel(pending.id, T0 + 5), undefined, 'a pending job');
        assert.deepEqual(await store.get(pending.id), pending);
        assert.equal(await store.requestCancel(finished.id, T0 + 5), undefined, 'a finished job');
        assert.deepEqual(await store.get(finished.id), finishedBefore);
        assert.equal(await store.requestCancel(randomUUID(), T0 + 5), undefined, 'an unknown id');
      });

      test('cancelPending cancels only pending jobs', async () => {
        const pending = await insertOne();
        const error = failure('cancelled');
        const cancelled = await store.cancelPending(pending.id, error, T0 + 5);
        assert.deepEqual(cancelled, { ...pending, status: 'cancelled', error, finishedAt: T0 + 5, updatedAt: T0 + 5 });
        assert.equal(await store.cancelPending(pending.id, error, T0 + 6), undefined, 'a job already cancelled');
        assert.deepEqual(await store.get(pending.id), cancelled);
        const running = await startJob({ kind: 'running' });
        assert.equal(await store.cancelPending(running.id, error, T0 + 6), undefined, 'a running job');
        assert.deepEqual(await store.get(running.id), running);
        assert.equal(await store.cancelPending(randomUUID(), error, T0 + 6), undefined, 'an unknown id');
      });
    });

    describe('orphans', () => {
      test('findOrphans(now) returns the running jobs whose lease expired before now', async () => {
        const early = await startJob({ owner: 'w1', now: T0, leaseMs: 1000 });
        const late = await startJob({ owner: 'w2', now: T0 + 500, leaseMs: 1000 });
        await insertOne({ runAt: T0 });
        const finished = await startJob({ kind: 'done', leaseMs: 1000 });
        await store.complete(fenceOf(finished), null, T0 + 1);
        assert.deepEqual(await store.findOrphans(T0 + 999), [], 'no lease has expired yet');
        assert.deepEqual(ids(await store.findOrphans(T0 + 1001)), [early.id]);
        assert.deepEqual(sortedIds(await store.findOrphans(T0 + 1501)), [early.id, late.id].sort(), 'never a pending or finished job');
        assert.deepEqual((await store.findOrphans(T0 + 1001))[0], early, 'the orphan as stored');
      });

      test('findOrphans(now, owners) also returns the running jobs of those owners, leases valid or not', async () => {
        const ofW1 = await startJob({ owner: 'w1' });
        await startJob({ owner: 'w2' });
        assert.deepEqual(ids(await store.findOrphans(T0 + 1, ['w1'])), [ofW1.id]);
        assert.deepEqual(await store.findOrphans(T0 + 1, []), []);
      });

      test('endOrphan ends the attempt of an orphan: failed, or pending for a retry with the attempt counted', async () => {
        const failed = await startJob({ kind: 'a', leaseMs: 1000 });
        const error = failure('lost');
        const ended = await store.endOrphan(fenceOf(failed), { status: 'failed', error }, T0 + 2000, false);
        assert.deepEqual(ended, { ...failed, status: 'failed', error, owner: null, leaseExpiresAt: null, finishedAt: T0 + 2000, updatedAt: T0 + 2000 });
        const retried = await startJob({ kind: 'b', leaseMs: 1000 });
        const retry = await store.endOrphan(fenceOf(retried), { status: 'pending', error, runAt: T0 + 3000 }, T0 + 2000, false);
        assert.deepEqual(retry, { ...retried, status: 'pending', error, runAt: T0 + 3000, owner: null, leaseExpiresAt: null, updatedAt: T0 + 2000 });
        const [again] = await store.claim({ owner: 'w2', kinds: ['b'], limit: 1, now: T0 + 3000, leaseMs: LEASE_MS });
        assert.equal(again?.attempts, 2, 'the lost attempt counts');
      });

      test('endOrphan refuses once the owner renewed the lease, unless ownerGone', async () => {
        const job = await startJob({ owner: 'w1', leaseMs: 1000 });
        assert.deepEqual(ids(await store.findOrphans(T0 + 2000)), [job.id], 'an orphan at T0 + 2 s');
        await store.renewLeases('w1', [{ id: job.id, attempt: job.attempts }], T0 + 10_000, T0 + 2000);
        const renewed = await store.get(job.id);
        const error = failure('lost');
        assert.equal(await store.endOrphan(fenceOf(job), { status: 'failed', error }, T0 + 2001, false), undefined, 'the lease was renewed');
        assert.deepEqual(await store.get(job.id), renewed);
        const ended = await store.endOrphan(fenceOf(job), { status: 'failed', error }, T0 + 2001, true);
        assert.equal(ended?.status, 'failed', 'ownerGone overrides the lease');
      });
    });

    describe('list', () => {
      test('list returns newest first, filtered by kind and status', async () => {
        const inserted = (await store.insert([
          newJob({ kind: 'a' }), newJob({ kind: 'b' }), newJob({ kind: 'a' }), newJob({ kind: 'b' }), newJob({ kind: 'a' }),
        ])).map((r) => r.job);
        const [claimed] = await store.claim({ owner: 'w1', kinds: ['a'], limit: 1, now: T0, leaseMs: LEASE_MS });
        const newestFirst = ids(inserted).reverse();
        const ofKindA = ids(inserted.filter((job) => job.kind === 'a')).reverse();
        assert.deepEqual(ids(await store.list({ limit: 10 })), newestFirst);
        assert.deepEqual(ids(await store.list({ limit: 10, kind: 'a' })), ofKindA);
        assert.deepEqual(ids(await store.list({ limit: 10, status: 'running' })), [claimed!.id]);
        assert.deepEqual(ids(await store.list({ limit: 10, kind: 'a', status: 'pending' })), ofKindA.filter((id) => id !== claimed!.id));
        assert.deepEqual(await store.list({ limit: 10, kind: 'none' }), []);
        assert.deepEqual((await store.list({ limit: 10, status: 'running' }))[0], await store.get(claimed!.id), 'whole jobs');
      });

      test('pages of list with beforeSeq cover every job exactly once', async () => {
        const inserted = (await store.insert(Array.from({ length: 7 }, () => newJob()))).map((r) => r.job);
        const pages: string[][] = [];
        let beforeSeq: number | undefined;
        for (let page = await store.list({ limit: 3 }); page.length > 0; page = await store.list({ limit: 3, beforeSeq })) {
          assert.ok(pages.length < 5, 'pagination ends');
          pages.push(ids(page));
          beforeSeq = page[page.length - 1]!.seq;
        }
        assert.deepEqual(pages.map((p) => p.length), [3, 3, 1]);
        assert.deepEqual(pages.flat(), ids(inserted).reverse());
      });
    });

    describe('counts', () => {
      test('countPending and countByKindAndStatus follow insert, claim, complete, cancel and failure', async () => {
        const counts = async () => ({ pending: await store.countPending(), byKind: byKindAndStatus(await store.countByKindAndStatus()) });
        assert.deepEqual(await counts(), { pending: 0, byKind: [] }, 'an empty store');
        const [b] = (await store.insert([newJob({ kind: 'a' }), newJob({ kind: 'a' }), newJob({ kind: 'a' }), newJob({ kind: 'b' })]))
          .map((r) => r.job).filter((job) => job.kind === 'b');
        assert.deepEqual(await counts(), { pending: 4, byKind: [{ kind: 'a', status: 'pending', count: 3 }, { kind: 'b', status: 'pending', count: 1 }] });
        const [first, second] = await store.claim({ owner: 'w1', kinds: ['a'], limit: 2, now: T0, leaseMs: LEASE_MS });
        assert.deepEqual(await counts(), {
          pending: 2,
          byKind: [{ kind: 'a', status: 'pending', count: 1 }, { kind: 'a', status: 'running', count: 2 }, { kind: 'b', status: 'pending', count: 1 }],
        });
        await store.complete(fenceOf(first!), null, T0 + 1);
        await store.cancelPending(b!.id, failure('cancelled'), T0 + 1);
        assert.deepEqual(await counts(), { pending: 1, byKind: [{ kind: 'a', status: 'pending', count: 1 }, { kind: 'a', status: 'running', count: 1 }] },
          'kinds and statuses with no job are left out');
        await store.endAttempt(fenceOf(second!), { status: 'failed', error: failure() }, T0 + 2);
        assert.deepEqual(await counts(), { pending: 1, byKind: [{ kind: 'a', status: 'pending', count: 1 }] });
      });

      test('countActive counts the pending and running jobs of a ref only', async () => {
        await insertOne({ ref: 'r1' });
        await startJob({ kind: 'running', ref: 'r1' });
        const done = await startJob({ kind: 'done', ref: 'r1' });
        await store.complete(fenceOf(done), null, T0 + 1);
        const cancelled = await insertOne({ ref: 'r1' });
        await store.cancelPending(cancelled.id, failure('cancelled'), T0 + 1);
        await insertOne({ ref: 'r2' });
        await insertOne();
        assert.equal(await store.countActive({ ref: 'r1' }), 2);
        assert.equal(await store.countActive({ ref: 'r2' }), 1);
        assert.equal(await store.countActive({ ref: 'r3' }), 0);
      });

      test('nextRunAt gives the earliest runAt of the pending jobs of those kinds', async () => {
        assert.equal(await store.nextRunAt(['a']), undefined, 'an empty store');
        await insertOne({ kind: 'a', runAt: T0 + 300 });
        await insertOne({ kind: 'a', runAt: T0 + 100 });
        await insertOne({ kind: 'b', runAt: T0 + 50 });
        assert.equal(await store.nextRunAt(['a']), T0 + 100);
        assert.equal(await store.nextRunAt(['a', 'b']), T0 + 50);
        await store.claim({ owner: 'w1', kinds: ['a'], limit: 1, now: T0 + 100, leaseMs: LEASE_MS });
        assert.equal(await store.nextRunAt(['a']), T0 + 300, 'a running job is not pending');
        assert.equal(await store.nextRunAt(['c']), undefined);
        assert.equal(await store.nextRunAt([]), undefined);
      });
    });

    describe('idempotency keys', () => {
      test('expireIdempotencyKeys forgets the keys of jobs finished before the given time only', async () => {
        const early = await startJob({ kind: 'early', idempotencyKey: 'early' });
        await store.complete(fenceOf(early), null, T0 + 100);
        const late = await startJob({ kind: 'late', idempotencyKey: 'late' });
        await store.endAttempt(fenceOf(late), { status: 'failed', error: failure() }, T0 + 300);
        const running = await startJob({ kind: 'running', idempotencyKey: 'running' });
        await insertOne({ idempotencyKey: 'pending' });
        assert.equal(await store.expireIdempotencyKeys(T0 + 200), 1, 'one key expired');
        const keys = await Promise.all([early, late, running].map(async (job) => (await store.get(job.id))?.idempotencyKey));
        assert.deepEqual(keys, [null, 'late', 'running']);
        const [reused, replayed, stillPending] = await store.insert([
          newJob({ idempotencyKey: 'early' }), newJob({ idempotencyKey: 'late' }), newJob({ idempotencyKey: 'pending' }),
        ]);
        assert.equal(reused?.created, true, 'an expired key can be used again');
        assert.deepEqual([replayed?.created, replayed?.job.id], [false, late.id]);
        assert.equal(stillPending?.created, false, 'a pending job keeps its key');
        assert.equal(await store.expireIdempotencyKeys(T0 + 200), 0, 'nothing left to expire');
      });
    });

    describeConsoleConformance({ store: () => store, insertOne, startJob, fenceOf, t0: T0 });
    describeRetentionConformance({ store: () => store, insertOne, startJob, fenceOf, t0: T0 });
    describeScheduleConformance({ store: () => store, insertOne, startJob, fenceOf, t0: T0 });

    describe('owners and health', () => {
      test('registerOwner, listOwners and removeOwner', async () => {
        const w1 = { id: 'w1', hostname: 'host-a', pid: 101, startedAt: T0, heartbeatAt: T0 + 1 };
        const w2 = { id: 'w2', hostname: 'host-b', pid: 202, startedAt: T0 + 2, heartbeatAt: T0 + 3 };
        assert.deepEqual(await store.listOwners(), []);
        await store.registerOwner(w1);
        await store.registerOwner(w2);
        assert.deepEqual((await store.listOwners()).sort((a, b) => a.id.localeCompare(b.id)), [w1, w2]);
        await store.removeOwner('w1');
        assert.deepEqual(await store.listOwners(), [w2]);
        await store.removeOwner('unknown');
        assert.deepEqual(await store.listOwners(), [w2]);
      });

      test('ping resolves on a writable store', async () => {
        await store.ping();
      });
    });
  });
}
