// dedupe_key on POST /jobs through real HTTP: concurrent duplicates make one job, keep-latest replaces the waiting
// job's payload, the key is free again once its holder starts (pending) or ends (active), kinds do not collide,
// and it is not the Idempotency-Key.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from './helpers.js';

describe('dedupe keys', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  const post = (body: object, headers?: Record<string, string>) => server.request('POST', '/jobs', { body, headers });
  // Due in an hour: it stays pending, holding its key.
  const waiting = (fields: object) => post({ kind: 'noop', delay_ms: 3_600_000, ...fields });

  test('20 concurrent POSTs with one key make one job; the others get it back with deduplicated: true', async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => waiting({ dedupe_key: 'race', payload: { i } })));
    assert.equal(answers.filter((a) => a.status === 200).length, 19, 'one 202, nineteen 200');
    const created = answers.filter((a) => a.status === 202);
    assert.equal(created.length, 1);
    const id = created[0]!.body.job_id;
    for (const answer of answers.filter((a) => a.status === 200)) {
      assert.deepEqual(answer.body, { job_id: id, status: 'scheduled', status_url: `/jobs/${id}`, deduplicated: true, payload_replaced: false });
    }
    assert.equal(created[0]!.body.deduplicated, undefined, 'absent on a new job');
    const job = (await server.request('GET', `/jobs/${id}`)).body;
    assert.deepEqual([job.dedupe_key, job.dedupe_policy], ['race', 'pending']);
    const list = (await server.request('GET', '/jobs?kind=noop&status=scheduled')).body.jobs.filter((j: any) => j.dedupe_key === 'race');
    assert.equal(list.length, 1, 'one row in the database');
    const metrics = (await server.request('GET', '/metrics')).text;
    assert.match(metrics, /offload_jobs_deduplicated_total\{kind="noop",replaced="false"\} 19/);
  });

  test('policy latest replaces the payload of the waiting job; the first answer stays the only job', async () => {
    const first = await waiting({ dedupe_key: 'latest', dedupe_policy: 'latest', payload: { v: 1 } });
    assert.equal(first.status, 202);
    const second = await waiting({ dedupe_key: 'latest', dedupe_policy: 'latest', payload: { v: 2 } });
    assert.deepEqual([second.status, second.body.job_id, second.body.payload_replaced], [200, first.body.job_id, true]);
    const keepFirst = await waiting({ dedupe_key: 'latest', payload: { v: 3 } });
    assert.deepEqual([keepFirst.status, keepFirst.body.payload_replaced], [200, false], 'a duplicate of policy pending keeps what is there');
    assert.deepEqual((await server.request('GET', `/jobs/${first.body.job_id}`)).body.payload, { v: 2 });
  });

  test('the key is free once the holder starts (pending) or ends (active); other kinds never collide', async () => {
    const done = await post({ kind: 'noop', dedupe_key: 'free' });
    await server.waitForJob(done.body.job_id);
    const afterEnd = await post({ kind: 'noop', dedupe_key: 'free' });
    assert.equal(afterEnd.status, 202, 'the ended job no longer holds the key');
    assert.notEqual(afterEnd.body.job_id, done.body.job_id);

    const running = await post({ kind: 'sleep', payload: { seconds: 60 }, dedupe_key: 'busy', dedupe_policy: 'active' });
    await server.waitForJob(running.body.job_id, (job) => job.status === 'running');
    const whileRunning = await post({ kind: 'sleep', payload: { seconds: 60 }, dedupe_key: 'busy' });
    assert.deepEqual([whileRunning.status, whileRunning.body.job_id, whileRunning.body.status], [200, running.body.job_id, 'running']);
    assert.equal((await server.request('DELETE', `/jobs/${running.body.job_id}`)).status, 202);
    await server.waitForJob(running.body.job_id);
    const afterCancel = await waiting({ kind: 'sleep', dedupe_key: 'busy' });
    assert.equal(afterCancel.status, 202, 'cancelled: the key is free');

    const otherKind = await waiting({ kind: 'echo', dedupe_key: 'race' });
    assert.equal(otherKind.status, 202, 'the key of the noop job above does not hold for echo');
  });

  test('an Idempotency-Key replay is not a dedupe hit, and a dedupe hit is not an idempotency conflict', async () => {
    const headers = { 'Idempotency-Key': 'idem-dedupe-1' };
    const holder = await waiting({ dedupe_key: 'idem2' });
    assert.equal(holder.status, 202);
    const replay1 = await post({ kind: 'noop', delay_ms: 3_600_000, dedupe_key: 'idem3' }, headers);
    const replay2 = await post({ kind: 'noop', delay_ms: 3_600_000, dedupe_key: 'idem3' }, headers);
    assert.deepEqual([replay1.status, replay2.status, replay2.body.job_id, replay2.body.deduplicated], [202, 200, replay1.body.job_id, undefined]);
    const conflict = await post({ kind: 'noop', delay_ms: 3_600_000, dedupe_key: 'idem2', payload: { x: 1 } }, headers);
    assert.equal(conflict.status, 409, 'the same Idempotency-Key with another body is a conflict, dedupe key or not');
    const withOtherKey = await post({ kind: 'noop', delay_ms: 3_600_000, dedupe_key: 'idem2' }, { 'Idempotency-Key': 'idem-dedupe-2' });
    assert.deepEqual([withOtherKey.status, withOtherKey.body.job_id, withOtherKey.body.deduplicated], [200, holder.body.job_id, true]);
  });

  test('bad dedupe fields are 400 invalid_request naming the field', async () => {
    for (const [body, path] of [
      [{ kind: 'noop', dedupe_policy: 'latest' }, 'dedupe_policy'],
      [{ kind: 'noop', dedupe_key: 'k', dedupe_policy: 'newest' }, 'dedupe_policy'],
      [{ kind: 'noop', dedupe_key: '' }, 'dedupe_key'],
      [{ kind: 'noop', dedupe_key: 'x'.repeat(257) }, 'dedupe_key'],
      [{ kind: 'noop', dedupe_key: 7 }, 'dedupe_key'],
    ] as const) {
      const answer = await post(body);
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.equal(answer.body.error.code, 'invalid_request');
      assert.equal(answer.body.error.details[0].path, path);
    }
  });
});
