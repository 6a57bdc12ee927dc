// The part of the JobStore contract flow control relies on: round-robin across group keys, and concurrency and
// rate limits per kind and per key checked inside the claim (so that concurrent claims cannot overshoot them).
// Called from describeJobStoreConformance, so PostgreSQL runs it too.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FlowClaim, FlowLimits, LimitName } from '../src/engine/flow-control.js';
import type { Job } from '../src/engine/job.js';
import type { ClaimRequest } from '../src/engine/job-store.js';
import type { ConformanceTools } from './store-conformance-console.js';

const LEASE_MS = 30_000;
const keys = (jobs: Job[]) => jobs.map((job) => job.groupKey);

export function describeFlowConformance({ store, insertOne, fenceOf, t0: T0 }: ConformanceTools): void {
  /** A claim under `limits`, recording what the store reports as held back. */
  async function claimWith(limits: FlowLimits, fields: Partial<ClaimRequest> = {}) {
    const held: Array<[string, LimitName, number | null]> = [];
    const flow: FlowClaim = { limits, held: (...hold) => void held.push(hold) };
    const jobs = await store().claim({ owner: 'w1', kinds: ['k'], limit: 10, now: T0, leaseMs: LEASE_MS, flow, ...fields });
    return { jobs, held };
  }
  const insertMany = async (n: number, fields: Parameters<ConformanceTools['insertOne']>[0] = {}) => {
    const jobs: Job[] = [];
    for (let i = 0; i < n; i++) jobs.push(await insertOne({ createdAt: T0 + jobs.length, ...fields }));
    return jobs;
  };

  describe('flow control', () => {
    test('jobs with group keys are claimed round-robin across keys, however old the biggest backlog', async () => {
      await insertMany(6, { groupKey: 'a' });
      await insertMany(2, { groupKey: 'b' });
      await insertMany(2, { groupKey: 'c' });
      const rounds: Array<Array<string | null>> = [];
      for (let i = 0; i < 3; i++) rounds.push(keys((await claimWith({}, { limit: 3 })).jobs).sort());
      assert.deepEqual(rounds, [['a', 'b', 'c'], ['a', 'b', 'c'], ['a', 'a', 'a']]);
    });

    test('one job at a time still rotates across keys; jobs without a key take a turn like a key', async () => {
      await insertMany(4, { groupKey: 'a' });
      await insertMany(2, { groupKey: 'b' });
      await insertMany(2);
      const order: Array<string | null> = [];
      for (let i = 0; i < 6; i++) order.push(...keys((await claimWith({}, { limit: 1 })).jobs));
      assert.equal(new Set(order.slice(0, 3)).size, 3, `the first three claims serve a, b and the jobs without a key: ${order.join(',')}`);
      assert.equal(new Set(order.slice(3, 6)).size, 3, `and again: ${order.join(',')}`);
    });

    test('within a key, jobs keep the claim order (priority first)', async () => {
      const [low] = await insertMany(1, { groupKey: 'a' });
      const [high] = await insertMany(1, { groupKey: 'a', priority: 5 });
      assert.deepEqual((await claimWith({}, { limit: 1 })).jobs.map((job) => job.id), [high!.id]);
      assert.deepEqual((await claimWith({}, { limit: 1 })).jobs.map((job) => job.id), [low!.id]);
    });

    test('a kind limit caps the running jobs of the kind; a finished one frees its slot', async () => {
      await insertMany(5);
      const limits = { kinds: { k: { concurrency: 2 } } };
      const first = await claimWith(limits);
      assert.equal(first.jobs.length, 2);
      const second = await claimWith(limits);
      assert.deepEqual(second.jobs, []);
      assert.deepEqual(second.held, [['k', 'concurrency', null]]);
      await store().complete(fenceOf(first.jobs[0]!), null, T0 + 1);
      assert.equal((await claimWith(limits)).jobs.length, 1);
      assert.equal((await claimWith({}, { kinds: ['other'] })).jobs.length, 0);
    });

    test('concurrent claims together never exceed a kind limit', async () => {
      await insertMany(12);
      const limits = { kinds: { k: { concurrency: 3 } } };
      const claims = await Promise.all([1, 2, 3, 4].map((n) => claimWith(limits, { owner: `w${n}`, limit: 3 })));
      assert.equal(claims.reduce((sum, claim) => sum + claim.jobs.length, 0), 3);
    });

    test('a group limit caps the running jobs of each key, whatever their kind', async () => {
      await insertMany(3, { groupKey: 'a' });
      await insertMany(3, { groupKey: 'b' });
      await insertMany(1, { groupKey: 'a', kind: 'k2' });
      await insertMany(2);
      const limits = { groups: { concurrency: 1 } };
      const first = await claimWith(limits, { kinds: ['k', 'k2'] });
      assert.deepEqual(keys(first.jobs).sort(), ['a', 'b', null, null], 'one per key; jobs without a key are not limited by it');
      const second = await claimWith(limits, { kinds: ['k', 'k2'] });
      assert.deepEqual(second.jobs, []);
      assert.ok(second.held.some(([, limit]) => limit === 'group_concurrency'));
      assert.deepEqual(await store().countRunningByGroup(10), [{ groupKey: 'a', count: 1 }, { groupKey: 'b', count: 1 }]);
    });

    test('a kind rate lets at most N start per interval, and says when the next slot opens', async () => {
      await insertMany(5);
      const limits = { kinds: { k: { rate: { count: 2, intervalMs: 1000 } } } };
      const first = await claimWith(limits);
      assert.equal(first.jobs.length, 2);
      for (const job of first.jobs) await store().complete(fenceOf(job), null, T0 + 10);
      const held = await claimWith(limits, { now: T0 + 999 });
      assert.deepEqual(held.jobs, [], 'finished or not, the two starts are in the window');
      assert.deepEqual(held.held, [['k', 'rate', T0 + 1000]]);
      assert.equal((await claimWith(limits, { now: T0 + 1000 })).jobs.length, 2);
    });

    test('a group rate counts the starts of each key', async () => {
      await insertMany(3, { groupKey: 'a' });
      await insertMany(3, { groupKey: 'b' });
      const limits = { groups: { rate: { count: 1, intervalMs: 500 } } };
      assert.deepEqual(keys((await claimWith(limits)).jobs).sort(), ['a', 'b']);
      const held = await claimWith(limits, { now: T0 + 100 });
      assert.deepEqual(held.jobs, []);
      assert.deepEqual(held.held, [['k', 'group_rate', T0 + 500]]);
      assert.deepEqual(keys((await claimWith(limits, { now: T0 + 500 })).jobs).sort(), ['a', 'b']);
    });

    test('excluded jobs are not claimed under flow control', async () => {
      const [a1, a2] = await insertMany(2, { groupKey: 'a' });
      const { jobs } = await claimWith({ kinds: { k: { concurrency: 5 } } }, { exclude: [a1!.id] });
      assert.deepEqual(jobs.map((job) => job.id), [a2!.id]);
    });
  });
}
