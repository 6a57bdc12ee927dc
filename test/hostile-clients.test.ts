// A client that means harm, over real HTTP against the real server: no file outside the data directory is read
// or removed, no server path is shown, and every answer is the JSON error shape — never a 5xx, never a crash.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportPath, uploadPath } from '../src/contracts/data-layout.js';
import { makeTempDir, startTestServer, waitFor, type TestResponse, type TestServer } from './helpers.js';

let server: TestServer;
let outside: string;
const SECRET = 'top-secret-line-of-a-file-outside-the-data-dir';

before(async () => {
  server = await startTestServer();
  outside = path.join(makeTempDir('offload-outside-'), 'secret.csv');
  writeFileSync(outside, `${SECRET}\n1\n`);
});
after(() => server.close());

function assertJsonError(res: TestResponse, status: number, code: string, what: string): void {
  assert.equal(res.status, status, `${what}: ${res.status} ${res.text.slice(0, 300)}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json; charset=utf-8/, what);
  assert.equal(res.body.error.code, code, what);
  assert.equal(typeof res.body.error.message, 'string', what);
  assert.doesNotMatch(res.text, /\n\s+at /, `${what}: no stack trace`);
}

async function uploadCsv(name: string, csv: string): Promise<{ datasetId: string; jobId: string }> {
  const res = await server.request('POST', `/datasets?name=${encodeURIComponent(name)}`, { rawBody: csv, headers: { 'content-type': 'text/csv' } });
  assert.equal(res.status, 202, res.text);
  return { datasetId: res.body.id, jobId: res.body.job_id };
}

describe('clients never name a server path', () => {
  test('POST /jobs refuses the built-in kinds, whatever the payload', async () => {
    const { datasetId } = await uploadCsv('victim', 'a\n1\n');
    for (const [kind, payload] of [
      ['import', { dataset_id: datasetId, source_path: outside, content_type: 'csv' }],
      ['export', { dataset_id: datasetId, format: 'csv' }],
    ] as const) {
      const res = await server.request('POST', '/jobs', { body: { kind, payload } });
      assertJsonError(res, 422, 'unknown_kind', `POST /jobs kind ${kind}`);
      assert.ok(!res.body.error.details.kinds.includes(kind), 'the answer lists only kinds a client may start');
      assert.ok(res.body.error.details.kinds.includes('noop'));
    }
    const jobs = (await server.request('GET', '/jobs?limit=500')).body.jobs;
    assert.equal(jobs.filter((job: any) => job.kind === 'import').length, 1, 'only the upload\'s own import exists');
    const dataset = await server.waitForJob(jobs.find((job: any) => job.kind === 'import').job_id);
    assert.equal(dataset.status, 'succeeded');
    assert.deepEqual(dataset.result.columns, [{ name: 'a', type: 'integer' }], 'the dataset is the upload, not the outside file');
  });

  test('an import job whose stored payload names another file reads only its own upload, and deletes nothing', async () => {
    // As if written by an older version, or by an embedder's code: the path in the payload is ignored.
    const datasetId = randomUUID();
    const escaping = path.join(server.dataDir, 'uploads', '..', '..', path.basename(path.dirname(outside)), 'secret.csv');
    for (const sourcePath of [outside, escaping, path.join(server.dataDir, 'jobs.db')]) {
      const { job } = await server.engine.enqueue({ kind: 'import', payload: { dataset_id: datasetId, source_path: sourcePath, content_type: 'csv' } });
      const done = await server.waitForJob(job.id);
      assert.equal(done.status, 'failed');
      assert.equal(done.error.code, 'invalid_payload');
      assert.match(done.error.message, /uploaded file is missing/);
      assert.ok(!JSON.stringify(done).includes(SECRET));
    }
    assert.equal(readFileSync(outside, 'utf8'), `${SECRET}\n1\n`, 'the outside file is unread and still there');
    assert.ok(existsSync(path.join(server.dataDir, 'jobs.db')), 'jobs.db survives');
    assert.equal((await server.request('GET', '/readyz')).status, 200);
  });

  test('a symbolic link planted as an upload or an export file is neither followed nor removed', async () => {
    const datasetId = randomUUID();
    mkdirSync(path.join(server.dataDir, 'uploads'), { recursive: true });
    symlinkSync(outside, uploadPath(server.dataDir, datasetId));
    const { job } = await server.engine.enqueue({ kind: 'import', payload: { dataset_id: datasetId, content_type: 'csv' } });
    const done = await server.waitForJob(job.id);
    assert.equal(done.status, 'failed');
    assert.ok(!JSON.stringify(done).includes(SECRET), 'nothing of the linked file is shown');
    assert.ok(existsSync(outside));

    const { datasetId: real, jobId } = await uploadCsv('real', 'a\n1\n');
    await server.waitForJob(jobId);
    const created = await server.request('POST', '/exports', { body: { dataset_id: real, format: 'csv' } });
    const exported = await server.waitForJob(created.body.job_id);
    assert.equal(exported.status, 'succeeded');
    const file = exportPath(server.dataDir, exported.job_id, 'csv');
    rmSync(file);
    symlinkSync(outside, file);
    assertJsonError(await server.request('GET', `/exports/${exported.job_id}/download`), 410, 'gone', 'download of a planted link');
    assert.equal((await server.request('DELETE', `/exports/${exported.job_id}`)).status, 204);
    assert.ok(existsSync(outside), 'deleting the export did not follow the link');
  });

  test('no job document, dataset or error shows a server path', async () => {
    const { datasetId, jobId } = await uploadCsv('paths', 'a,b\n1,2\n');
    await server.waitForJob(jobId);
    const bad = await server.request('POST', '/datasets?name=bad', { rawBody: 'a,b\n1\n', headers: { 'content-type': 'text/csv' } });
    await server.waitForJob(bad.body.job_id);
    const texts = [
      (await server.request('GET', `/jobs/${jobId}`)).text,
      (await server.request('GET', `/datasets/${datasetId}`)).text,
      (await server.request('GET', `/jobs/${bad.body.job_id}`)).text,
      (await server.request('GET', '/datasets')).text,
    ];
    const failed = await server.request('POST', '/jobs', { body: { kind: 'reads-missing', payload: {} } });
    const failedJob = await server.waitForJob(failed.body.job_id);
    assert.equal(failedJob.error.code, 'task_error');
    assert.match(failedJob.error.message, /ENOENT: no such file or directory, open '<data-dir>\/no-such-dir\/no-such-file'/);
    texts.push((await server.request('GET', `/jobs/${failed.body.job_id}`)).text);
    for (const text of texts) {
      assert.ok(!text.includes(server.dataDir), `no data-dir path in ${text.slice(0, 200)}`);
      assert.ok(!text.includes('source_path'));
    }
  });
});

describe('bounded input', () => {
  test('JSON nested 1,000 / 5,000 / 20,000 deep → 400 with the limit; the job list keeps working', async () => {
    for (const depth of [1_000, 5_000, 20_000]) {
      const rawBody = `{"kind":"noop","payload":${'['.repeat(depth)}${']'.repeat(depth)}}`;
      const res = await server.request('POST', '/jobs', { rawBody, headers: { 'content-type': 'application/json' } });
      assertJsonError(res, 400, 'invalid_request', `depth ${depth}`);
      assert.equal(res.body.error.details[0].max_depth, 64);
    }
    const shallow = await server.request('POST', '/jobs', { body: { kind: 'noop', payload: { a: { b: { c: [[[1]]] } } } } });
    assert.equal(shallow.status, 202);
    assert.equal((await server.request('GET', '/jobs?limit=500')).status, 200);
  });

  test('a 60 MB single-line NDJSON upload with a 64 MB worker heap fails the import; the server lives', async () => {
    const small = await startTestServer({ args: ['--worker-memory-mb', '64', '--max-record-mb', '16'] });
    try {
      const line = `{"a":"${'x'.repeat(60 * 1024 * 1024)}"}\n`;
      const res = await small.request('POST', '/datasets?name=bomb', { rawBody: line, headers: { 'content-type': 'application/x-ndjson' } });
      assert.equal(res.status, 202, res.text);
      const done = await small.waitForJob(res.body.job_id, undefined, 60_000);
      assert.equal(done.status, 'failed');
      assert.equal(done.error.code, 'record_too_large', JSON.stringify(done.error));
      assert.match(done.error.message, /line 1/);
      assert.equal((await small.request('GET', '/readyz')).status, 200);
      const after = await small.request('POST', '/datasets?name=fine', { rawBody: 'a\n1\n', headers: { 'content-type': 'text/csv' } });
      assert.equal((await small.waitForJob(after.body.job_id)).status, 'succeeded', 'the pool still imports');

      const csv = `a,b\n1,"${'y'.repeat(40 * 1024 * 1024)}"\n`;
      const bigCsv = await small.request('POST', '/datasets?name=bomb-csv', { rawBody: csv, headers: { 'content-type': 'text/csv' } });
      const csvDone = await small.waitForJob(bigCsv.body.job_id, undefined, 60_000);
      assert.equal(csvDone.error?.code, 'record_too_large');
    } finally {
      await small.close();
    }
  });
});

describe('every answer is the JSON error shape', () => {
  test('TRACE, PROPFIND, LINK on any path → 405 JSON', async () => {
    for (const method of ['TRACE', 'PROPFIND', 'LINK', 'UNLINK', 'MKCOL']) {
      for (const p of ['/jobs', '/healthz', '/nope', `/jobs/${randomUUID()}`]) {
        const res = await rawHttp(server.url, `${method} ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
        assert.match(res.head, /^HTTP\/1\.1 405 /, `${method} ${p}: ${res.head}`);
        assert.equal(JSON.parse(res.body).error.code, 'method_not_allowed');
      }
    }
  });

  test('Content-Encoding gzip, deflate, br or junk on a plain body → 415 JSON, on JSON and uploads alike', async () => {
    for (const encoding of ['gzip', 'deflate', 'br', 'x-junk']) {
      const json = await server.request('POST', '/jobs', { body: { kind: 'noop', payload: {} }, headers: { 'content-encoding': encoding } });
      assertJsonError(json, 415, 'unsupported_media_type', `JSON with ${encoding}`);
      const upload = await server.request('POST', '/datasets?name=z', { rawBody: 'a\n1\n', headers: { 'content-type': 'text/csv', 'content-encoding': encoding } });
      assertJsonError(upload, 415, 'unsupported_media_type', `upload with ${encoding}`);
    }
    assert.equal((await server.request('POST', '/jobs', { body: { kind: 'noop', payload: {} }, headers: { 'content-encoding': 'identity' } })).status, 202);
  });

  test('a charset other than UTF-8 → 415, bad percent-encoding in a path → 400', async () => {
    for (const charset of ['x-unknown', 'latin1', 'utf-16']) {
      const res = await server.request('POST', '/jobs', { rawBody: '{"kind":"noop","payload":{}}', headers: { 'content-type': `application/json; charset=${charset}` } });
      assertJsonError(res, 415, 'unsupported_media_type', `charset ${charset}`);
    }
    assertJsonError(await server.request('GET', '/jobs/%E0%A4%A'), 400, 'invalid_request', 'bad percent-encoding');
  });

  test('a lone surrogate in an export\'s download name → the file is served', async () => {
    const { datasetId, jobId } = await uploadCsv('plain', 'a\n1\n');
    await server.waitForJob(jobId);
    const { job } = await server.engine.enqueue({ kind: 'export', payload: { dataset_id: datasetId, format: 'csv', filename_base: 'bad\ud800name' } });
    await server.waitForJob(job.id);
    const res = await server.request('GET', `/exports/${job.id}/download`);
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('content-disposition') ?? '', /filename\*=UTF-8''bad/);
  });

  test('malformed HTTP gets our JSON 400, oversized headers 431', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['bad header syntax', 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nFoo bar\r\n\r\n', /^HTTP\/1\.1 400 /],
      ['raw UTF-8 in the path', 'GET /jobs/\u00e9\u00e9 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', /^HTTP\/1\.1 400 /],
      ['an unknown method token', 'FOO /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', /^HTTP\/1\.1 (400|405) /],
      ['headers over 16 KB', `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, /^HTTP\/1\.1 431 /],
    ];
    for (const [what, raw, status] of cases) {
      const res = await rawHttp(server.url, raw);
      assert.match(res.head, status, `${what}: ${res.head}`);
      assert.match(res.head, /content-type: application\/json; charset=utf-8/i, what);
      assert.equal(typeof JSON.parse(res.body).error.code, 'string', what);
    }
    assert.equal((await server.request('GET', '/healthz')).status, 200);
  });

  test('security headers on every answer, errors included', async () => {
    for (const res of [await server.request('GET', '/healthz'), await server.request('GET', '/nope'), await server.request('POST', '/jobs', { rawBody: '{', headers: { 'content-type': 'application/json' } })]) {
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    }
  });
});

describe('DNS rebinding: only loopback host names when bound to loopback', () => {
  test('a foreign Host → 421 JSON; loopback names and --allowed-host names are served', async () => {
    const named = await startTestServer({ args: ['--allowed-host', 'offload.internal'] });
    try {
      const port = new URL(named.url).port;
      for (const host of ['evil.example', `evil.example:${port}`, 'localhost.evil.example', '127.0.0.1.nip.io', '10.0.0.1']) {
        const res = await rawHttp(named.url, `GET /jobs HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
        assert.match(res.head, /^HTTP\/1\.1 421 /, `Host ${host}: ${res.head}`);
        assert.equal(JSON.parse(res.body).error.code, 'host_not_allowed');
      }
      for (const host of ['localhost', `localhost:${port}`, `127.0.0.1:${port}`, '[::1]', `[::1]:${port}`, 'LOCALHOST', 'offload.internal', `offload.internal:${port}`]) {
        const res = await rawHttp(named.url, `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
        assert.match(res.head, /^HTTP\/1\.1 200 /, `Host ${host}: ${res.head}`);
      }
    } finally {
      await named.close();
    }
  });
});

describe('connection limits', () => {
  test('event streams are capped per client; a closed stream frees its slot', async () => {
    const capped = await startTestServer({ args: ['--max-event-streams-per-client', '2'] });
    try {
      const job = await capped.request('POST', '/jobs', { body: { kind: 'hang', payload: {} } });
      const id = job.body.job_id;
      const streams = [new AbortController(), new AbortController()];
      for (const controller of streams) {
        const res = await fetch(`${capped.url}/jobs/${id}/events`, { signal: controller.signal });
        assert.equal(res.status, 200);
      }
      const third = await capped.request('GET', `/jobs/${id}/events`);
      assertJsonError(third, 429, 'too_many_streams', 'third stream');
      assert.equal(third.headers.get('retry-after'), '5');
      streams[0]!.abort();
      await waitFor(async () => {
        const controller = new AbortController();
        const res = await fetch(`${capped.url}/jobs/${id}/events`, { signal: controller.signal }).catch(() => undefined);
        controller.abort();
        return res?.status === 200 ? true : undefined;
      }, 5000, 'a slot to free up');
      streams[1]!.abort();
      await capped.request('DELETE', `/jobs/${id}`);
    } finally {
      await capped.close();
    }
  });

  test('a stalled upload is cut after the idle timeout and leaves no file; slow headers get 408', async () => {
    // The headers limit under the idle one: an idle socket is dropped without an answer, slow headers get one.
    const strict = await startTestServer({ args: ['--idle-timeout-ms', '1500', '--headers-timeout-ms', '300'] });
    try {
      const { hostname, port } = new URL(strict.url);
      const started = Date.now();
      const closed = await new Promise<string>((resolve) => {
        const socket = connect(Number(port), hostname, () => {
          socket.write('POST /datasets?name=slow HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\nContent-Length: 1000000\r\n\r\na,b\n1,2\n');
        });
        let received = '';
        socket.on('data', (chunk) => (received += chunk));
        socket.on('close', () => resolve(received));
        socket.on('error', () => {});
      });
      assert.ok(Date.now() - started < 10_000, 'the server closed the stalled connection');
      assert.ok(!closed.startsWith('HTTP/1.1 202'), 'the partial upload was not accepted');
      await waitFor(async () => {
        return readdirSync(path.join(strict.dataDir, 'uploads')).length === 0 ? true : undefined;
      }, 5000, 'the partial upload to be removed');
      assert.equal((await strict.request('GET', '/datasets')).body.datasets.length, 0);

      const slow = await new Promise<string>((resolve) => {
        const socket = connect(Number(port), hostname, () => socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n'));
        let received = '';
        socket.on('data', (chunk) => (received += chunk));
        socket.on('close', () => resolve(received));
        socket.on('error', () => {});
      });
      assert.match(slow, /^HTTP\/1\.1 408 /);
      assert.equal(JSON.parse(slow.slice(slow.indexOf('\r\n\r\n') + 4)).error.code, 'request_timeout');
    } finally {
      await strict.close();
    }
  });
});

/** Sends `raw` bytes as they are and returns what came back, split into head and body. */
function rawHttp(baseUrl: string, raw: string): Promise<{ head: string; body: string }> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(Buffer.from(raw, 'utf8')));
    let received = '';
    socket.on('data', (chunk) => (received += chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const split = received.indexOf('\r\n\r\n');
      resolve({ head: received.slice(0, split), body: received.slice(split + 4) });
    });
  });
}

