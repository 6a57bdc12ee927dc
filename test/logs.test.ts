// What `offload serve` writes on stdout: one JSON line per request (with the X-Request-Id it echoes) and job
// lifecycle lines with job id, kind, attempt, outcome and duration.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { makeTempDir, spawnServer, waitFor, type ChildServer } from './helpers.js';

const TOKEN = 'tok-never-logged-5e1d';
const auth = { authorization: `Bearer ${TOKEN}` };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let server: ChildServer;

before(async () => {
  server = await spawnServer(makeTempDir(), ['--token', TOKEN]);
});
after(async () => {
  server.child.kill('SIGTERM');
  await server.exited;
});

function logLines(): any[] {
  return server.output().split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

/** Waits for the log line that `match` picks, so that a line written after the answer is not missed. */
function waitForLine(match: (line: any) => boolean, what: string): Promise<any> {
  return waitFor(() => logLines().find(match), 5000, what);
}

const jobLines = (jobId: string, msg: string) => logLines().filter((line) => line.job_id === jobId && line.msg === msg);

describe('request logs', () => {
  test('one line per request: method, path, status, duration and the request id echoed in X-Request-Id', async () => {
    const res = await server.request('GET', '/jobs?limit=3', { headers: { ...auth, 'X-Request-Id': 'trace-abc.123:4_5' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-request-id'), 'trace-abc.123:4_5');
    const line = await waitForLine((l) => l.msg === 'request' && l.request_id === 'trace-abc.123:4_5', 'the request line');
    assert.equal(line.method, 'GET');
    assert.equal(line.path, '/jobs', 'the path without the query string');
    assert.equal(line.status, 200);
    assert.equal(typeof line.duration_ms, 'number');
    assert.ok(line.duration_ms >= 0);
    assert.equal(line.level, 30);
    assert.equal(typeof line.time, 'number');
  });

  test('without a request id, or with one that is not sane, the server makes one up and echoes it', async () => {
    const ids = [];
    for (const offered of [undefined, 'has spaces', 'x'.repeat(129), 'quote"d', '']) {
      const headers: Record<string, string> = { ...auth, ...(offered === undefined ? {} : { 'X-Request-Id': offered }) };
      const res = await server.request('GET', '/readyz', { headers });
      const id = res.headers.get('x-request-id')!;
      assert.match(id, UUID, `offered ${JSON.stringify(offered)}`);
      ids.push(id);
      await waitForLine((l) => l.msg === 'request' && l.request_id === id, `the line of request ${id}`);
    }
    assert.equal(new Set(ids).size, ids.length, 'a new id per request');
  });

  test('errors are logged with their status, and the X-Request-Id is echoed on them too', async () => {
    const cases: Array<[string, string, Record<string, string>, number]> = [
      ['GET', '/no-such-route', auth, 404],
      ['GET', '/jobs/not-a-uuid', auth, 400],
      ['PUT', '/jobs', auth, 405],
      ['GET', '/metrics', {}, 401],
    ];
    for (const [method, path, headers, status] of cases) {
      const id = `err-${status}`;
      const res = await server.request(method, path, { headers: { ...headers, 'X-Request-Id': id } });
      assert.equal(res.status, status);
      assert.equal(res.headers.get('x-request-id'), id);
      const line = await waitForLine((l) => l.msg === 'request' && l.request_id === id, `the line of ${method} ${path}`);
      assert.deepEqual([line.method, line.path, line.status], [method, path, status]);
    }
  });
});

describe('job lifecycle logs', () => {
  test('"job started" and "job attempt ended" carry job_id, kind, attempt, status, error_code and durations', async () => {
    const post = async (body: object) => {
      const res = await server.request('POST', '/jobs', { headers: auth, body });
      assert.equal(res.status, 202);
      return res.body.job_id as string;
    };
    const ok = await post({ kind: 'echo', payload: {} });
    const thrown = await post({ kind: 'throws', payload: {}, max_attempts: 1 });
    const exited = await post({ kind: 'exits', payload: {}, max_attempts: 2 });
    await waitFor(() => (jobLines(exited, 'job attempt ended').length === 2 && jobLines(ok, 'job attempt ended').length === 1 &&
      jobLines(thrown, 'job attempt ended').length === 1 ? true : undefined), 15_000, 'every attempt to be logged');

    const [started] = jobLines(ok, 'job started');
    assert.deepEqual([started.kind, started.attempt], ['echo', 1]);
    assert.equal(typeof started.wait_ms, 'number');
    const [ended] = jobLines(ok, 'job attempt ended');
    assert.deepEqual([ended.kind, ended.attempt, ended.status, ended.error_code], ['echo', 1, 'succeeded', undefined]);
    assert.equal(typeof ended.duration_ms, 'number');

    const [failed] = jobLines(thrown, 'job attempt ended');
    assert.deepEqual([failed.kind, failed.attempt, failed.status, failed.error_code], ['throws', 1, 'failed', 'task_error']);
    // A failed attempt is a warning with what an operator needs to debug it: the message and the task's stack.
    assert.equal(failed.level, 40);
    assert.equal(typeof failed.error_message, 'string');
    assert.match(failed.stack, /^\w*Error: [^\n]*\n\s+at /, 'the stack of the throw in the task');
    assert.equal(ended.level, 30, 'a success stays at info');

    const attempts = jobLines(exited, 'job attempt ended').map((l) => [l.attempt, l.status, l.error_code]);
    assert.deepEqual(attempts, [[1, 'pending', 'worker_exit'], [2, 'failed', 'worker_exit']], 'a retry, then the final failure');
    assert.deepEqual(jobLines(exited, 'job attempt ended').map((l) => l.level), [40, 40], 'a retried attempt is a warning too');
    assert.deepEqual(jobLines(exited, 'job started').map((l) => l.attempt), [1, 2]);
  });

  test('every line is JSON, and the token never appears in the log', () => {
    const lines = logLines();
    assert.ok(lines.length > 10);
    assert.ok(lines.every((line) => line.name === 'offload' && typeof line.pid === 'number'));
    assert.ok(!server.output().includes(TOKEN));
  });
});
