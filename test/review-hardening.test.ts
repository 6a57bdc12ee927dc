// Defects found by attacking the console's API as a hostile client, an operator and a data engineer would; each
// test failed before its fix. Real server over HTTP, real SQLite, real worker threads.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { makeTempDir, spawnServer, startTestServer, waitFor, type TestServer } from './helpers.js';

let server: TestServer;
before(async () => {
  server = await startTestServer({ args: ['--max-event-streams-per-client', '1', '--max-pending', '100000'] });
});
after(async () => {
  await server?.close();
});

async function importCsv(csv: string, query = ''): Promise<string> {
  const upload = await server.request('POST', `/datasets?name=review${query}`, { rawBody: csv, headers: { 'content-type': 'text/csv' } });
  assert.equal(upload.status, 202, upload.text);
  const job = await server.waitForJob(upload.body.job_id);
  assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
  return upload.body.id;
}

describe('GET /datasets/{id}/preview', () => {
  test('reads the dataset files imports write now (format 2), with date, timestamp and json columns', async () => {
    const id = await importCsv('d,t,j\n2024-02-29,2024-01-01T10:00:00+02:00,"{""x"":1}"\n', '&types=d:date,t:timestamp,j:json');
    const preview = await server.request('GET', `/datasets/${id}/preview`);
    assert.equal(preview.status, 200, preview.text);
    assert.deepEqual(preview.body, {
      columns: [{ name: 'd', type: 'date' }, { name: 't', type: 'timestamp', timezone: 'UTC' }, { name: 'j', type: 'json' }],
      rows: [['2024-02-29', '2024-01-01T08:00:00Z', '{"x":1}']],
      total_rows: 1,
    });
  });

  test('cuts long text cells and stops the rows at a text budget: 20 cells of 2 MB answer a small page', async () => {
    const cell = 'x'.repeat(2 * 1024 * 1024);
    const id = await importCsv('n,big\n' + Array.from({ length: 20 }, (_, i) => `${i},${cell}`).join('\n') + '\n');
    const preview = await server.request('GET', `/datasets/${id}/preview?limit=20`);
    assert.equal(preview.status, 200, preview.text.slice(0, 300));
    assert.ok(preview.text.length < 100_000, `the answer is ${preview.text.length} bytes`);
    assert.equal(preview.body.rows.length, 20);
    assert.deepEqual(preview.body.rows[3], [3, 'x'.repeat(1000)]);
    assert.equal(preview.body.total_rows, 20);
  });
});

/** An event stream request whose answer this client reads no further than its first bytes: a stalled reader. */
async function openUnread(path: string): Promise<net.Socket> {
  const { hostname, port } = new URL(server.url);
  const socket = net.connect(Number(port), hostname);
  socket.on('error', () => {});
  const head = await new Promise<string>((resolve) => {
    socket.once('data', (chunk: Buffer) => {
      socket.pause();
      resolve(chunk.toString('latin1'));
    });
    socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
  });
  assert.match(head, /^HTTP\/1\.1 200 /);
  assert.equal(await fetchStatus('/events'), 429, 'the unread stream holds the one slot of this client');
  return socket;
}

/** The status of an event stream request, closing the stream at once. */
async function fetchStatus(path: string): Promise<number> {
  const controller = new AbortController();
  const res = await fetch(server.url + path, { signal: controller.signal });
  controller.abort();
  return res.status;
}

describe('a client that does not read its event stream', () => {
  test('GET /jobs/{id}/events: is cut off and gives its slot back, however much the job sends', async () => {
    // Every progress event carries the job document with this payload: 20 of them are 16 MB.
    const job = (await server.request('POST', '/jobs', { body: { kind: 'slow-progress', payload: { steps: 20, stepMs: 60, pad: 'p'.repeat(800_000) } } })).body.job_id;
    const socket = await openUnread(`/jobs/${job}/events`);
    try {
      assert.equal((await server.waitForJob(job)).status, 'succeeded');
      // Unfixed, the ended answer waited for the client to read its megabytes, holding the slot for ever (429).
      await waitFor(async () => ((await fetchStatus('/events')) === 200 ? true : undefined), 10_000, 'the slot to be given back');
    } finally {
      socket.destroy();
    }
  });

  test('GET /events: is cut off and gives its slot back while the feed goes on', async () => {
    const socket = await openUnread('/events');
    try {
      // About 10 MB of events, past what the socket buffers and the 1 MiB the server keeps for a client.
      for (let batch = 0; batch < 24; batch++) {
        await Promise.all(Array.from({ length: 500 }, () => server.engine.enqueue({ kind: 'noop', payload: {}, delayMs: 3_600_000 })));
      }
      for (;;) {
        const cancelled = await server.request('POST', '/jobs/bulk-cancel', { body: { kind: 'noop', status: 'scheduled' } });
        assert.equal(cancelled.status, 200, cancelled.text);
        if (cancelled.body.changed === 0) break;
      }
      await waitFor(async () => ((await fetchStatus('/events')) === 200 ? true : undefined), 10_000, 'the slot to be given back');
    } finally {
      socket.destroy();
    }
  });
});

describe('bulk actions', () => {
  test('without any filter they act only when the body says all: true', async () => {
    const job = (await server.request('POST', '/jobs', { body: { kind: 'noop', payload: {}, delay_ms: 3_600_000 } })).body.job_id;
    for (const action of ['cancel', 'retry']) {
      for (const body of [{}, { limit: 5 }, { kind: 'noop', all: true }, { all: false }]) {
        const refused = await server.request('POST', `/jobs/bulk-${action}`, { body });
        assert.equal(refused.status, 400, `${action} ${JSON.stringify(body)}: ${refused.text}`);
        assert.equal(refused.body.error.code, 'invalid_request');
        assert.equal(refused.body.error.details[0].path, 'all');
      }
    }
    assert.equal((await server.request('GET', `/jobs/${job}`)).body.status, 'scheduled', 'the stray {} cancelled nothing');
    const all = await server.request('POST', '/jobs/bulk-cancel', { body: { all: true } });
    assert.equal(all.status, 200, all.text);
    assert.ok(all.body.job_ids.includes(job));
  });
});

describe('the demo kind sleep', () => {
  test('a job of a few seconds leaves no listener per tick on its signal (no MaxListenersExceededWarning in the log)', async () => {
    const child = await spawnServer(makeTempDir());
    try {
      const id = (await child.request('POST', '/jobs', { body: { kind: 'sleep', payload: { seconds: 1.5 } } })).body.job_id;
      await waitFor(async () => ((await child.request('GET', `/jobs/${id}`)).body.status === 'succeeded' ? true : undefined), 10_000, 'the sleep job');
      assert.doesNotMatch(child.output(), /MaxListenersExceededWarning/);
    } finally {
      child.child.kill('SIGTERM');
      await child.exited;
    }
  });
});

describe('GET /events and other processes', () => {
  test("another process's job still appears after a burst of more changes than one poll reads", async () => {
    const controller = new AbortController();
    const res = await fetch(`${server.url}/events`, { signal: controller.signal });
    let text = '';
    void (async () => {
      try {
        for await (const chunk of res.body!.pipeThrough(new TextDecoderStream())) text = (text + chunk).slice(-1_000_000);
      } catch { /* aborted */ }
    })();
    // 12,000 changes within a second or two: more than the 10,000 rows a poll reads, all within its 2 s look-back.
    for (let batch = 0; batch < 24; batch++) {
      await Promise.all(Array.from({ length: 500 }, () => server.engine.enqueue({ kind: 'noop', payload: {}, delayMs: 3_600_000 })));
    }
    const other = await spawnServer(server.dataDir, ['--max-pending', '100000']);
    try {
      const created = await other.request('POST', '/jobs', { body: { kind: 'noop', payload: {} } });
      assert.equal(created.status, 202, created.text);
      const id = created.body.job_id;
      // Unfixed, each poll read the same 10,000 rows from 2 s before the newest change seen, and never got past them.
      await waitFor(() => (text.includes(id) ? true : undefined), 10_000, "the other process's job on the stream");
    } finally {
      other.child.kill('SIGKILL');
      await other.exited;
      controller.abort();
      while ((await server.request('POST', '/jobs/bulk-cancel', { body: { kind: 'noop', status: 'pending' } })).body.changed > 0);
    }
  });
});
