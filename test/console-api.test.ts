// The console's API over real HTTP: the one event stream (resume, filters, changes written by another process),
// retry, list filters and search, bulk actions, dataset previews, stats and the icon.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { spawnServer, startTestServer, waitFor, type TestServer } from './helpers.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server?.close();
});

interface SseEvent { event: string; id: string; data: any }

/** Opens an event stream and collects its events until `close()`. */
async function openEvents(url: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const res = await fetch(url, { headers, signal: controller.signal });
  assert.equal(res.status, 200, await (res.status === 200 ? Promise.resolve('') : res.text()));
  assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  const events: SseEvent[] = [];
  void (async () => {
    let buffer = '';
    try {
      for await (const chunk of res.body!.pipeThrough(new TextDecoderStream())) {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const field = (name: string) => block.split('\n').find((line) => line.startsWith(`${name}: `))?.slice(name.length + 2);
          if (field('event')) events.push({ event: field('event')!, id: field('id')!, data: JSON.parse(field('data')!) });
        }
      }
    } catch { /* aborted */ }
  })();
  return {
    events,
    until: (what: string, probe: (e: SseEvent) => boolean, timeoutMs = 10_000) => waitFor(() => events.find(probe), timeoutMs, what),
    close: () => controller.abort(),
  };
}

async function post(path: string, body: unknown) {
  return server.request('POST', path, { body });
}

describe('GET /events', () => {
  test('one stream carries the changes of every job, summaries without payload; Last-Event-ID resumes; an unknown id resets', async () => {
    const stream = await openEvents(`${server.url}/events`);
    const ready = await stream.until('ready', (e) => e.event === 'ready');
    const a = (await post('/jobs', { kind: 'slow-progress', payload: { steps: 3, stepMs: 30 } })).body.job_id;
    const b = (await post('/jobs', { kind: 'noop', payload: { secret: 'not in the feed' } })).body.job_id;
    for (const id of [a, b]) await stream.until(`${id} succeeded`, (e) => e.data.job_id === id && e.data.status === 'succeeded');
    const ofA = stream.events.filter((e) => e.data.job_id === a).map((e) => `${e.data.status}:${e.data.progress?.done ?? '-'}`);
    assert.equal(ofA[0], 'pending:-');
    assert.ok(ofA.includes('running:3') || ofA.includes('succeeded:3'), ofA.join(' '));
    assert.equal(new Set(stream.events.map((e) => e.id)).size, stream.events.length, 'every id once');
    const jobEvent = stream.events.find((e) => e.data.job_id === b)!;
    assert.equal(jobEvent.event, 'job');
    assert.equal('payload' in jobEvent.data || 'result' in jobEvent.data, false);
    stream.close();

    // Resuming from the ready event replays everything since, in order.
    const resumed = await openEvents(`${server.url}/events`, { 'Last-Event-ID': ready.id });
    await resumed.until('the replay of b', (e) => e.data.job_id === b && e.data.status === 'succeeded');
    assert.deepEqual(resumed.events.filter((e) => e.event === 'job').map((e) => e.id).slice(0, stream.events.length - 1),
      stream.events.filter((e) => e.event === 'job').map((e) => e.id).slice(0, stream.events.length - 1));
    resumed.close();

    const unknown = await openEvents(`${server.url}/events`, { 'Last-Event-ID': 'deadbeef-12' });
    await unknown.until('reset', (e) => e.event === 'reset');
    unknown.close();
  });

  test('kind and status filters; bad ones are 400 invalid_request', async () => {
    const stream = await openEvents(`${server.url}/events?kind=echo,noop&status=succeeded`);
    const skipped = (await post('/jobs', { kind: 'slow-progress', payload: { steps: 1 } })).body.job_id;
    const wanted = (await post('/jobs', { kind: 'echo', payload: {} })).body.job_id;
    await stream.until('echo succeeded', (e) => e.data.job_id === wanted);
    await server.waitForJob(skipped);
    assert.ok(stream.events.filter((e) => e.event === 'job').every((e) => e.data.status === 'succeeded' && ['echo', 'noop'].includes(e.data.kind)));
    stream.close();
    for (const query of ['status=nope', 'kind=', 'x=1', `kind=${'k'.repeat(65)}`]) {
      const res = await server.request('GET', `/events?${query}`);
      assert.equal(res.status, 400, query);
      assert.equal(res.body.error.code, 'invalid_request');
    }
  });

  test('a job created by another process sharing the database appears on the stream (the poll)', async () => {
    const stream = await openEvents(`${server.url}/events`);
    await stream.until('ready', (e) => e.event === 'ready');
    const other = await spawnServer(server.dataDir, server.storeArgs);
    try {
      const id = (await other.request('POST', '/jobs', { body: { kind: 'noop', payload: {} } })).body.job_id;
      await stream.until('the other process\'s job', (e) => e.data.job_id === id, 10_000);
    } finally {
      other.child.kill('SIGKILL');
      await other.exited;
      stream.close();
    }
  });
});

describe('POST /jobs/{id}/retry', () => {
  test('a failed job runs again: same id, pending, attempts counting on, history kept; other states are 409', async () => {
    const id = (await post('/jobs', { kind: 'throws', payload: {}, max_attempts: 1 })).body.job_id;
    const failed = await server.waitForJob(id);
    assert.equal(failed.status, 'failed');
    const retried = await post(`/jobs/${id}/retry`, undefined);
    assert.equal(retried.status, 202, retried.text);
    assert.equal(retried.headers.get('location'), `/jobs/${id}`);
    assert.equal(retried.body.job_id, id);
    assert.ok(['pending', 'running', 'failed'].includes(retried.body.status));
    assert.equal(retried.body.error, null);
    const again = await server.waitForJob(id, (job) => job.status === 'failed' && job.attempts === 2);
    assert.equal(again.max_attempts, 2);
    assert.deepEqual(again.attempt_history.map((a: any) => [a.attempt, a.outcome]), [[1, 'failed'], [2, 'failed']]);

    const ok = (await post('/jobs', { kind: 'noop', payload: {} })).body.job_id;
    await server.waitForJob(ok);
    const conflict = await post(`/jobs/${ok}/retry`, undefined);
    assert.equal(conflict.status, 409);
    assert.equal(conflict.body.error.code, 'conflict');
    assert.match(conflict.body.error.message, /succeeded/);
    assert.equal((await post('/jobs/00000000-0000-4000-8000-000000000000/retry', undefined)).status, 404);
    assert.equal((await post('/jobs/nope/retry', undefined)).body.error.code, 'invalid_request');

    const cancelled = (await post('/jobs', { kind: 'hang', payload: {} })).body.job_id;
    await server.request('DELETE', `/jobs/${cancelled}`);
    await server.waitForJob(cancelled);
    assert.equal((await post(`/jobs/${cancelled}/retry`, undefined)).status, 202, 'a cancelled job too');
    await server.request('DELETE', `/jobs/${cancelled}`);
  });
});

describe('GET /jobs filters, bulk actions', () => {
  test('q searches payload and result, dataset/created_* filter, pages follow cursors; bulk cancel and retry by filter', async () => {
    const before = new Date().toISOString();
    const tag = `needle-${Date.now()}`;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await post('/jobs', { kind: 'echo', payload: { tag, i } })).body.job_id);
    await Promise.all(ids.map((id) => server.waitForJob(id)));
    const page1 = await server.request('GET', `/jobs?q=${tag}&limit=3`);
    assert.equal(page1.status, 200, page1.text);
    assert.deepEqual(page1.body.jobs.map((j: any) => j.job_id), ids.slice(2).reverse());
    const page2 = await server.request('GET', `/jobs?q=${tag}&limit=3&cursor=${page1.body.next_cursor}`);
    assert.deepEqual(page2.body.jobs.map((j: any) => j.job_id), ids.slice(0, 2).reverse());
    assert.equal(page2.body.next_cursor, null, 'fewer than 10,000 jobs: the window reached the first one');
    assert.equal((await server.request('GET', `/jobs?q=${tag}-nowhere`)).body.jobs.length, 0);
    assert.equal((await server.request('GET', `/jobs?kind=echo&created_after=${encodeURIComponent(before)}`)).body.jobs.length, 5);
    assert.equal((await server.request('GET', `/jobs?kind=echo&created_before=${encodeURIComponent(before)}`)).body.jobs.some((j: any) => ids.includes(j.job_id)), false);
    for (const query of ['created_after=yesterday', 'dataset=x', 'q=', `q=${'x'.repeat(201)}`]) {
      assert.equal((await server.request('GET', `/jobs?${query}`)).body.error?.code, 'invalid_request', query);
    }

    const hangs: string[] = [];
    for (let i = 0; i < 3; i++) hangs.push((await post('/jobs', { kind: 'hang', payload: { batch: tag } })).body.job_id);
    const cancelled = await post('/jobs/bulk-cancel', { kind: 'hang', q: tag });
    assert.equal(cancelled.status, 200, cancelled.text);
    assert.deepEqual([cancelled.body.changed, [...cancelled.body.job_ids].sort()], [3, [...hangs].sort()]);
    for (const id of hangs) assert.equal((await server.waitForJob(id)).status, 'cancelled');
    const retried = await post('/jobs/bulk-retry', { kind: 'hang', q: tag, status: 'cancelled', limit: 2 });
    assert.deepEqual([retried.body.changed, retried.body.more], [2, true]);
    const rest = await post('/jobs/bulk-cancel', { kind: 'hang' });
    assert.equal(rest.body.changed, 2, 'the two retried ones');
    assert.equal((await post('/jobs/bulk-cancel', { limit: 0 })).status, 400);
  });
});

describe('datasets, stats, icon', () => {
  test('GET /datasets/{id}/preview: columns and the first rows, typed', async () => {
    const csv = 'id,name,ok\n' + Array.from({ length: 30 }, (_, i) => `${i},n${i},${i % 2 === 0}`).join('\n') + '\n';
    const upload = await server.request('POST', '/datasets?name=p', { rawBody: csv, headers: { 'content-type': 'text/csv' } });
    await server.waitForJob(upload.body.job_id);
    const preview = await server.request('GET', `/datasets/${upload.body.id}/preview?limit=3`);
    assert.equal(preview.status, 200, preview.text);
    assert.deepEqual(preview.body, {
      columns: [{ name: 'id', type: 'integer' }, { name: 'name', type: 'text' }, { name: 'ok', type: 'boolean' }],
      rows: [[0, 'n0', true], [1, 'n1', false], [2, 'n2', true]],
      total_rows: 30,
    });
    assert.equal((await server.request('GET', `/datasets/${upload.body.id}/preview`)).body.rows.length, 20);
    assert.equal((await server.request('GET', `/datasets/${upload.body.id}/preview?limit=101`)).status, 400);
    assert.equal((await server.request('GET', '/datasets/00000000-0000-4000-8000-000000000000/preview')).status, 404);
  });

  test('GET /stats: counts, queue, finishes per minute by kind; the favicon', async () => {
    const id = (await post('/jobs', { kind: 'throws', payload: {}, max_attempts: 1 })).body.job_id;
    await server.waitForJob(id);
    const stats = await server.request('GET', '/stats?minutes=5');
    assert.equal(stats.status, 200, stats.text);
    assert.equal(stats.body.threads.total, 2);
    assert.ok(stats.body.finished_per_minute.some((row: any) => row.kind === 'throws' && row.failed >= 1), JSON.stringify(stats.body.finished_per_minute));
    assert.ok(stats.body.counts.some((row: any) => row.kind === 'throws' && row.status === 'failed'));
    assert.equal(Date.parse(stats.body.since), Math.floor(Date.now() / 60_000) * 60_000 - 4 * 60_000);
    assert.equal((await server.request('GET', '/stats?minutes=0')).status, 400);
    for (const path of ['/favicon.ico', '/favicon.svg']) {
      const icon = await server.request('GET', path);
      assert.equal(icon.status, 200);
      assert.equal(icon.headers.get('content-type'), 'image/svg+xml');
      assert.match(icon.text, /^<svg /);
    }
  });
});
