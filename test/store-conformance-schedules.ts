// The part of the JobStore contract the scheduler relies on (store.schedules): the compare-and-set of a look,
// the key (schedule, due time) of runs, due and queued selection, and the job inserted in the look's transaction.
// Called from describeJobStoreConformance, so PostgreSQL runs it too.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import type { NewJob } from '../src/engine/job.js';
import type { Schedule } from '../src/engine/schedule.js';
import type { ScheduleFire } from '../src/engine/schedule-store.js';
import type { ConformanceTools } from './store-conformance-console.js';

export function describeScheduleConformance({ store, insertOne, t0: T0 }: ConformanceTools): void {
  const schedules = () => store().schedules;
  const draft = (fields: Partial<Schedule> = {}): Schedule => ({
    id: randomUUID(), name: 'nightly', cron: '0 3 * * *', intervalMs: null, timeZone: 'Europe/Berlin',
    job: { kind: 'k', payload: { report: 'ü' }, priority: 5, maxAttempts: 2, timeoutMs: 60_000 }, catchUp: 'once', overlap: 'queue-one',
    paused: false, nextDueAt: T0 + 1000, queuedDueAt: null, lastDueAt: null, lastJobId: null, runsEnqueued: 0, runsSkipped: 0,
    anchorAt: T0, revision: 1, createdAt: T0, updatedAt: T0, ...fields,
  });
  const job = (ref: string, dueAt: number): NewJob => ({
    id: randomUUID(), kind: 'k', payload: {}, priority: 0, runAt: dueAt, maxAttempts: 3, timeoutMs: null, createdAt: T0 + 2000, ref,
  });
  /** A look that enqueues one run for `dueAt`, as the scheduler builds it. */
  const runAt = (seen: Schedule, ref: string, dueAt: number) => (): ScheduleFire => {
    const run = { dueAt, job: job(ref, dueAt) };
    return { schedule: { ...seen, nextDueAt: dueAt + 1000, lastDueAt: dueAt, lastJobId: run.job.id, runsEnqueued: seen.runsEnqueued + 1, revision: seen.revision + 1 }, runs: [run] };
  };

  describe('schedules', () => {
    test('insert, get, list by (createdAt, id), save by compare-and-set, delete with its runs', async () => {
      const a = await schedules().insert(draft({ createdAt: T0 }));
      const b = await schedules().insert(draft({ createdAt: T0 + 1, cron: null, intervalMs: 5000, paused: true, nextDueAt: null }));
      assert.deepEqual(await schedules().get(a.id), a);
      assert.equal(a.job.payload && (a.job.payload as { report: string }).report, 'ü');
      assert.equal(b.paused, true);
      assert.deepEqual((await schedules().list(10)).map((s) => s.id), [a.id, b.id]);
      assert.deepEqual((await schedules().list(10, { createdAt: a.createdAt, id: a.id })).map((s) => s.id), [b.id]);
      const saved = await schedules().save({ ...a, name: 'renamed', revision: 2 }, 1);
      assert.equal(saved?.name, 'renamed');
      assert.equal(await schedules().save({ ...a, name: 'stale', revision: 2 }, 1), undefined, 'the revision moved on');
      assert.equal((await schedules().get(a.id))?.name, 'renamed');
      assert.equal(await schedules().delete(a.id), true);
      assert.equal(await schedules().delete(a.id), false);
      assert.equal(await schedules().get(a.id), undefined);
    });

    test('due: unpaused ones of the kinds asked, due by now, and those with a queued run; earliestDue', async () => {
      const due = await schedules().insert(draft({ nextDueAt: T0 + 1000 }));
      await schedules().insert(draft({ nextDueAt: T0 + 9000 }));
      await schedules().insert(draft({ nextDueAt: T0 + 500, paused: true }));
      const queued = await schedules().insert(draft({ nextDueAt: T0 + 9000, queuedDueAt: T0 }));
      await schedules().insert(draft({ nextDueAt: T0, job: { ...draft().job, kind: 'not-run-here' } }));
      assert.deepEqual((await schedules().due(T0 + 1000, 10, ['k'])).map((s) => s.id).sort(), [due.id, queued.id].sort());
      assert.deepEqual(await schedules().due(T0 + 1000, 10, []), []);
      assert.equal(await schedules().earliestDue(), T0);
    });

    test('fire: counts the active jobs of the ref, inserts the run and its job in one write; a lost race writes nothing', async () => {
      const seen = await schedules().insert(draft());
      const ref = `schedule:${seen.id}`;
      await insertOne({ ref });
      let counted = -1;
      const fired = await schedules().fire(seen, ref, (active) => {
        counted = active;
        return runAt(seen, ref, T0 + 1000)();
      });
      assert.equal(counted, 1, 'the pending job of the ref');
      assert.equal(fired?.jobs.length, 1);
      assert.equal(fired?.schedule.revision, seen.revision + 1);
      const [inserted] = fired!.jobs;
      assert.deepEqual([inserted!.ref, inserted!.runAt, inserted!.status], [ref, T0 + 1000, 'pending']);
      assert.ok(await store().get(inserted!.id));
      assert.equal(await store().countActive({ ref }), 2);
      // A second look from the same read (another process): it loses, and its job is not inserted.
      const lost = runAt(seen, ref, T0 + 1000)();
      assert.equal(await schedules().fire(seen, ref, () => lost), undefined);
      assert.equal(await store().get(lost.runs[0]!.job.id), undefined);
      assert.deepEqual((await schedules().recentRuns(seen.id, 10)).map((run) => [run.dueAt, run.jobId]), [[T0 + 1000, inserted!.id]]);
      assert.equal(await schedules().fire(fired!.schedule, ref, () => null), null, 'nothing to do: nothing written');
      assert.equal((await schedules().get(seen.id))?.revision, fired!.schedule.revision);
    });

    test('fire: two looks at once from one read, one wins; a due time already taken inserts no job', async () => {
      const seen = await schedules().insert(draft());
      const ref = `schedule:${seen.id}`;
      const results = await Promise.all([schedules().fire(seen, ref, runAt(seen, ref, T0 + 1000)), schedules().fire(seen, ref, runAt(seen, ref, T0 + 1000))]);
      assert.equal(results.filter((r) => r === undefined).length, 1, 'one lost the compare-and-set');
      assert.equal(await store().countActive({ ref }), 1);
      // Even past the compare-and-set (a newer revision), the key (schedule, due time) lets the due time in once.
      const current = (await schedules().get(seen.id))!;
      const again = await schedules().fire(current, ref, runAt(current, ref, T0 + 1000));
      assert.deepEqual(again?.jobs, []);
      assert.equal(await store().countActive({ ref }), 1);
    });
  });
}
