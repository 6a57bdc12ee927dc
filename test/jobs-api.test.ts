import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request, startTestServer, waitFor, type TestServer } from './helpers.js';

let server: TestServer;

before(async () => {
  server = await startTestServer();
});
after(() => server.close());

function assertErrorShape(res: { status: number; body: any; headers: Headers }, status: number, code: string) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.match(res.headers.get('content-type') ?? '', /^application\/json; charset=utf-8/);
  assert.equal(res.body.error.code, code);
  assert.equal(typeof res.body.error.message, 'string');
  assert.ok(res.body.error.message.length > 0);
  assert.ok(!JSON.stringify(res.body).includes('    at '), 'no stack trace');
}

describe('POST /jobs and GET /jobs/{id}', () => {
  test('202 with Location and Retry-After; the row is committed before the answer', async () => {
    const res = await server.request('POST', '/jobs', { body: { kind: 'echo', payload: { n: 1 }, priority: 5 } });
    assert.equal(res.status, 202);
    const id = res.body.job_id;
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.equal(res.headers.get('location'), `/jobs/${id}`);
    assert.equal(res.headers.get('retry-after'), '1');
    assert.deepEqual(res.body, { job_id: id, status: 'pending', status_url: `/jobs/${id}` });
    // Read straight from the table, not from memory: the job was committed before the 202.
    assert.ok(await server.engine.get(id));
    const done = await server.waitForJob(id);
    assert.equal(done.status, 'succeeded');
    assert.equal(done.kind, 'echo');
    assert.deepEqual(done.payload, { n: 1 });
    assert.equal(done.priority, 5);
    assert.equal(done.attempts, 1);
    assert.equal(done.max_attempts, 3);
    assert.equal(done.error, null);
    assert.equal(done.next_run_at, null);
    for (const field of ['created_at', 'started_at', 'finished_at']) assert.match(done[field], /^\d{4}-\d\d-\d\dT.*Z$/);
  });

  test('GET sets Retry-After while the job is not finished', async () => {
    const created = await server.request('POST', '/jobs', { body: { kind: 'slow-progress', payload: { steps: 4, stepMs: 100 } } });
    const running = await server.request('GET', `/jobs/${created.body.job_id}`);
    assert.equal(running.headers.get('retry-after'), '1');
    await server.waitForJob(created.body.job_id);
    const finished = await server.request('GET', `/jobs/${created.body.job_id}`);
    assert.equal(finished.headers.get('retry-after'), null);
  });

  test('higher priority runs first', async () => {
    // Fill both threads, then queue low and high priority jobs behind them.
    const blockers = await Promise.all([1, 2].map(() => server.request('POST', '/jobs', { body: { kind: 'slow-progress', payload: { steps: 3, stepMs: 100 } } })));
    const low = await server.request('POST', '/jobs', { body: { kind: 'noop', payload: {}, priority: -1 } });
    const high = await server.request('POST', '/jobs', { body: { kind: 'noop', payload: {}, priority: 10 } });
    const [lowJob, highJob] = await Promise.all([server.waitForJob(low.body.job_id), server.waitForJob(high.body.job_id)]);
    assert.ok(Date.parse(highJob.started_at) <= Date.parse(lowJob.started_at), 'the high-priority job started first');
    await Promise.all(blockers.map((b) => server.waitForJob(b.body.job_id)));
  });
});

describe('Idempotency-Key on POST /jobs', () => {
  test('same key and body → the same job (200); another body → 409; a malformed key → 400', async () => {
    const headers = { 'Idempotency-Key': `jobs-key-${Date.now()}` };
    const first = await server.request('POST', '/jobs', { body: { kind: 'noop', payload: { a: 1, b: 2 } }, headers });
    assert.equal(first.status, 202);
    const again = await server.request('POST', '/jobs', { body: { payload: { b: 2, a: 1 }, kind: 'noop' }, headers });
    assert.equal(again.status, 200);
    assert.equal(again.body.job_id, first.body.job_id);
    const other = await server.request('POST', '/jobs', { body: { kind: 'noop', payload: { a: 3 } }, headers });
    assertErrorShape(other, 409, 'conflict');
    const malformed = await server.request('POST', '/jobs', { body: { kind: 'noop', payload: {} }, headers: { 'Idempotency-Key': 'has space' } });
    assertErrorShape(malformed, 400, 'invalid_request');
  });
});

describe('GET /jobs', () => {
  test('lists newest first, filters by kind and status, and pages with a cursor', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await server.request('POST', '/jobs', { body: { kind: 'noop', payload: { i } } });
      ids.push(res.body.job_id);
    }
    await Promise.all(ids.map((id) => server.waitForJob(id)));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await server.request('GET', `/jobs?kind=noop&status=succeeded&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(page.status, 200);
      assert.ok(page.body.jobs.length <= 2);
      for (const job of page.body.jobs) {
        assert.equal(job.kind, 'noop');
        assert.equal(job.status, 'succeeded');
        seen.push(job.job_id);
      }
      cursor = page.body.next_cursor;
    } while (cursor);
    const ours = seen.filter((id) => ids.includes(id));
    assert.deepEqual(ours, [...ids].reverse());
    assert.equal(new Set(seen).size, seen.length, 'no job appears on two pages');
  });
});

describe('cancellation', () => {
  test('a pending job is cancelled at once', async () => {
    const { job: future } = await server.engine.enqueue({ kind: 'noop', payload: {}, runAt: Date.now() + 60_000 });
    const res = await server.request('DELETE', `/jobs/${future.id}`);
    assert.equal(res.status, 202);
    assert.equal(res.body.status, 'cancelled');
    assert.equal(res.body.error.code, 'cancelled');
    assert.equal(res.body.attempts, 0);
  });

  test('a running job is stopped and marked cancelled; the pool keeps working', async () => {
    const created = await server.request('POST', '/jobs', { body: { kind: 'hang', payload: {} } });
    const id = created.body.job_id;
    await server.waitForJob(id, (j) => j.status === 'running');
    const res = await server.request('DELETE', `/jobs/${id}`);
    assert.equal(res.status, 202);
    assert.equal(res.body.status, 'cancelled');
    assert.equal(res.body.error.code, 'cancelled');
    const again = await server.request('DELETE', `/jobs/${id}`);
    assertErrorShape(again, 409, 'conflict');
    const echo = await server.request('POST', '/jobs', { body: { kind: 'echo', payload: {} } });
    assert.equal((await server.waitForJob(echo.body.job_id)).status, 'succeeded');
  });

  test('a cooperative task sees ctx.signal abort', async () => {
    const created = await server.request('POST', '/jobs', { body: { kind: 'slow-progress', payload: { steps: 1000, stepMs: 20 } } });
    const id = created.body.job_id;
    await server.waitForJob(id, (j) => j.status === 'running');
    const res = await server.request('DELETE', `/jobs/${id}`);
    assert.equal(res.body.status, 'cancelled');
  });
});

describe('delayed jobs: run_at and delay_ms (SPEC §3)', () => {
  test('a job with delay_ms or run_at waits pending, shows next_run_at, and starts once due', async () => {
    const delayed = await server.request('POST', '/jobs', { body: { kind: 'noop', payload: {}, delay_ms: 800 } });
    const at = new Date(Date.now() + 1000).toISOString();
    const scheduled = await server.request('POST', '/jobs', { body: { kind: 'noop', payload: {}, run_at: at } });
    assert.equal(delayed.status, 202);
    assert.equal(scheduled.status, 202);
    assert.equal(scheduled.body.status, 'scheduled');
    const waiting = (await server.request('GET', `/jobs/${scheduled.body.job_id}`)).body;
    assert.equal(waiting.status, 'scheduled', 'pending in the state machine, shown as scheduled until due');
    assert.ok(Math.abs(Date.parse(waiting.next_run_at) - Date.parse(at)) < 50, `next_run_at ${waiting.next_run_at} is run_at ${at}`);
    for (const [accepted, delayMs] of [[delayed, 800], [scheduled, 1000]] as const) {
      const done = await server.waitForJob(accepted.body.job_id);
      assert.equal(done.status, 'succeeded');
      const waited = Date.parse(done.started_at) - Date.parse(done.created_at);
      assert.ok(waited >= delayMs - 50, `started ${waited} ms after creation, not before its ${delayMs} ms`);
    }
  });

  test('status=scheduled lists the pending jobs not due yet; status=pending the others, retries waiting included', async () => {
    const later = (await server.request('POST', '/jobs', { body: { kind: 'noop', payload: {}, delay_ms: 60_000 } })).body.job_id;
    const retrying = (await server.request('POST', '/jobs', { body: { kind: 'throws-retryable', payload: {}, max_attempts: 2 } })).body.job_id;
    const listed = async (status: string) => (await server.request('GET', `/jobs?status=${status}&limit=500`)).body.jobs as Array<{ job_id: string; status: string }>;
    const scheduledJobs = await listed('scheduled');
    assert.ok(scheduledJobs.some((job) => job.job_id === later));
    assert.ok(scheduledJobs.every((job) => job.status === 'scheduled'));
    const pendingJobs = await listed('pending');
    assert.ok(!pendingJobs.some((job) => job.job_id === later));
    assert.ok(pendingJobs.every((job) => job.status === 'pending'));
    await server.waitForJob(retrying);
    const cancelled = await server.request('POST', '/jobs/bulk-cancel', { body: { status: 'scheduled', kind: 'noop' } });
    assert.equal(cancelled.status, 200, cancelled.text);
    assert.equal((await server.request('GET', `/jobs/${later}`)).body.status, 'cancelled');
  });

  test('a past run_at runs now; both fields, a bad time or one over a year ahead are refused', async () => {
    const past = await server.request('POST', '/jobs', { body: { kind: 'noop', payload: {}, run_at: '2001-01-01T00:00:00Z' } });
    assert.equal((await server.waitForJob(past.body.job_id)).status, 'succeeded');
    const refused = [
      { run_at: new Date(Date.now() + 1000).toISOString(), delay_ms: 10 },
      { run_at: 'tomorrow' },
      { run_at: new Date(Date.now() + 400 * 86_400_000).toISOString() },
      { delay_ms: -1 },
      { delay_ms: 400 * 86_400_000 },
    ];
    for (const fields of refused) {
      const res = await server.request('POST', '/jobs', { body: { kind: 'noop', payload: {}, ...fields } });
      assertErrorShape(res, 400, 'invalid_request');
    }
  });
});

describe('GET /jobs/{id}/events (SSE)', () => {
  test('streams status and progress, and ends after the terminal event', async () => {
    const created = await server.request('POST', '/jobs', { body: { kind: 'slow-progress', payload: { steps: 5, stepMs: 300 } } });
    const res = await fetch(`${server.url}/jobs/${created.body.job_id}/events`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /^text\/event-stream/);
    const text = await res.text(); // resolves only because the server ends the stream
    const events = text.trim().split('\n\n').map((block) => {
      const event = /^event: (.+)$/m.exec(block)![1];
      const data = JSON.parse(/^data: (.+)$/m.exec(block)![1]!);
      return { event, data };
    });
    assert.equal(events[0]!.event, 'status');
    assert.ok(events.some((e) => e.event === 'progress' && e.data.progress?.done > 0), 'at least one progress event');
    const last = events.at(-1)!;
    assert.equal(last.event, 'status');
    assert.equal(last.data.status, 'succeeded');
    assert.deepEqual(last.data.progress, { done: 5, total: 5, percent: 100 });
    assert.equal(events.filter((e) => e.data.status === 'succeeded').length, 1);
  });

  test('lease renewals send no event: a job without progress gives only its status changes', async () => {
    const leased = await startTestServer({ args: ['--lease-ms', '150'] });
    try {
      // Renewed every 50 ms for 1.2 s: some 24 writes to the row, none of which a client needs to hear of.
      const created = await leased.request('POST', '/jobs', { body: { kind: 'hang', payload: {}, timeout_ms: 1200, max_attempts: 1 } });
      const text = await (await fetch(`${leased.url}/jobs/${created.body.job_id}/events`)).text();
      const events = text.trim().split('\n\n').map((block) => /^event: (.+)$/m.exec(block)![1]);
      assert.ok(!events.includes('progress'), `no progress event: ${events.join(', ')}`);
      assert.ok(events.length <= 3, `pending/running, then failed: ${events.join(', ')}`);
    } finally {
      await leased.close();
    }
  });

  test('a finished job gives one event and ends', async () => {
    const created = await server.request('POST', '/jobs', { body: { kind: 'noop', payload: {} } });
    await server.waitForJob(created.body.job_id);
    const text = await (await fetch(`${server.url}/jobs/${created.body.job_id}/events`)).text();
    assert.equal(text.trim().split('\n\n').length, 1);
  });
});

describe('bad requests get the JSON error shape, and the server keeps serving', () => {
  const validId = '00000000-0000-4000-8000-000000000000';
  const cases: Array<[string, string, Parameters<TestServer['request']>[2], number, string]> = [
    ['malformed JSON', '/jobs', { rawBody: '{"kind":', headers: { 'content-type': 'application/json' } }, 400, 'invalid_request'],
    ['wrong content type', '/jobs', { rawBody: 'kind=noop', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415, 'unsupported_media_type'],
    ['no body', '/jobs', {}, 400, 'invalid_request'],
    ['JSON that is not an object', '/jobs', { body: [1, 2] }, 400, 'invalid_request'],
    ['missing kind', '/jobs', { body: { payload: {} } }, 400, 'invalid_request'],
    ['unknown field', '/jobs', { body: { kind: 'noop', payload: {}, surprise: 1 } }, 400, 'invalid_request'],
    ['payload not an object', '/jobs', { body: { kind: 'noop', payload: 'x' } }, 400, 'invalid_request'],
    ['max_attempts zero', '/jobs', { body: { kind: 'noop', payload: {}, max_attempts: 0 } }, 400, 'invalid_request'],
    ['timeout_ms not an integer', '/jobs', { body: { kind: 'noop', payload: {}, timeout_ms: 1.5 } }, 400, 'invalid_request'],
    ['unregistered kind', '/jobs', { body: { kind: 'nope', payload: {} } }, 422, 'unknown_kind'],
    ['body over the limit', '/jobs', { body: { kind: 'noop', payload: { big: 'x'.repeat(1100 * 1024) } } }, 413, 'payload_too_large'],
  ];
  for (const [name, path, options, status, code] of cases) {
    test(`POST ${path}: ${name} → ${status} ${code}`, async () => {
      assertErrorShape(await server.request('POST', path, options), status, code);
    });
  }

  test('the field at fault is named in details', async () => {
    const res = await server.request('POST', '/jobs', { body: { kind: 'noop', payload: {}, priority: 'high' } });
    assertErrorShape(res, 400, 'invalid_request');
    assert.equal(res.body.error.details[0].path, 'priority');
  });

  const getCases: Array<[string, string, number, string]> = [
    ['GET', '/jobs/not-a-uuid', 400, 'invalid_request'],
    ['GET', `/jobs/${validId}`, 404, 'not_found'],
    ['GET', `/jobs/${validId}/events`, 404, 'not_found'],
    ['GET', '/jobs/not-a-uuid/events', 400, 'invalid_request'],
    ['DELETE', `/jobs/${validId}`, 404, 'not_found'],
    ['DELETE', '/jobs/x', 400, 'invalid_request'],
    ['GET', '/jobs?limit=0', 400, 'invalid_request'],
    ['GET', '/jobs?limit=abc', 400, 'invalid_request'],
    ['GET', '/jobs?status=sleeping', 400, 'invalid_request'],
    ['GET', '/jobs?cursor=zzzz', 400, 'invalid_request'],
    ['GET', '/jobs?colour=red', 400, 'invalid_request'],
    ['PUT', '/jobs', 405, 'method_not_allowed'],
    ['PATCH', `/jobs/${validId}`, 405, 'method_not_allowed'],
    ['GET', '/no-such-route', 404, 'not_found'],
  ];
  for (const [method, path, status, code] of getCases) {
    test(`${method} ${path} → ${status} ${code}`, async () => {
      assertErrorShape(await server.request(method, path), status, code);
    });
  }

  test('after all of that the server still serves', async () => {
    const res = await server.request('GET', '/healthz');
    assert.equal(res.status, 200);
    const created = await server.request('POST', '/jobs', { body: { kind: 'noop', payload: {} } });
    assert.equal((await server.waitForJob(created.body.job_id)).status, 'succeeded');
  });
});

describe('health', () => {
  test('/healthz and /readyz', async () => {
    assert.deepEqual((await server.request('GET', '/healthz')).body, { status: 'ok' });
    const ready = await server.request('GET', '/readyz');
    assert.equal(ready.status, 200);
    assert.equal(ready.body.status, 'ready');
    assert.equal(ready.body.threads, 2);
  });
});

describe('limits and shutdown', () => {
  test('a queue over --max-pending answers 429 queue_full with Retry-After, then drains', async () => {
    const small = await startTestServer({ args: ['--max-pending', '3', '--threads', '1'] });
    try {
      const blocker = await small.request('POST', '/jobs', { body: { kind: 'slow-progress', payload: { steps: 4, stepMs: 100 } } });
      await small.waitForJob(blocker.body.job_id, (j) => j.status === 'running');
      const accepted = [];
      for (let i = 0; i < 3; i++) accepted.push(await small.request('POST', '/jobs', { body: { kind: 'noop', payload: {} } }));
      assert.deepEqual(accepted.map((r) => r.status), [202, 202, 202]);
      const refused = await small.request('POST', '/jobs', { body: { kind: 'noop', payload: {} } });
      assertErrorShape(refused, 429, 'queue_full');
      assert.ok(Number(refused.headers.get('retry-after')) > 0);
      for (const res of accepted) assert.equal((await small.waitForJob(res.body.job_id)).status, 'succeeded');
      const later = await waitFor(async () => {
        const res = await small.request('POST', '/jobs', { body: { kind: 'noop', payload: {} } });
        return res.status === 202 ? res : undefined;
      }, 5000, 'the queue to accept again');
      assert.equal((await small.waitForJob(later.body.job_id)).status, 'succeeded');
    } finally {
      await small.close();
    }
  });

  test('while shutting down, new jobs get 503 shutting_down and readyz says so', async () => {
    const closing = await startTestServer({ args: ['--shutdown-grace', '5', '--threads', '1'] });
    const running = await closing.request('POST', '/jobs', { body: { kind: 'slow-progress', payload: { steps: 5, stepMs: 100 } } });
    await closing.waitForJob(running.body.job_id, (j) => j.status === 'running');
    const closed = closing.close();
    const refused = await request(closing.url, 'POST', '/jobs', { body: { kind: 'noop', payload: {} } });
    assertErrorShape(refused, 503, 'shutting_down');
    assert.ok(refused.headers.get('retry-after'));
    assertErrorShape(await request(closing.url, 'GET', '/readyz'), 503, 'shutting_down');
    await closed;
  });
});
