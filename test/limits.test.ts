// Configurable limits, each answered with the SPEC error shape over real HTTP. (--max-pending: 429 queue_full with
// Retry-After and the queue draining afterwards is in jobs-api.test.ts; --max-upload-mb belongs to the upload route.)
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConfigError, parseConfig } from '../src/config.js';
import { startTestServer, type TestResponse, type TestServer } from './helpers.js';

function assertError(res: TestResponse, status: number, code: string) {
  assert.equal(res.status, status, res.text);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json; charset=utf-8/);
  assert.equal(res.body.error.code, code);
  assert.ok(res.body.error.message.length > 0);
  assert.ok(!res.text.includes('    at '), 'no stack trace');
}

describe('--max-body-kb', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ args: ['--max-body-kb', '2'] });
  });
  after(() => server.close());

  test('a JSON body over the limit → 413 payload_too_large; one under it is accepted', async () => {
    const over = await server.request('POST', '/jobs', { body: { kind: 'echo', payload: { text: 'x'.repeat(2100) } } });
    assertError(over, 413, 'payload_too_large');
    const under = await server.request('POST', '/jobs', { body: { kind: 'echo', payload: { text: 'x'.repeat(1900) } } });
    assert.equal(under.status, 202, under.text);
    assert.equal((await server.waitForJob(under.body.job_id)).status, 'succeeded');
  });

  test('a chunked body (no Content-Length) is cut off at the limit too', async () => {
    const encoder = new TextEncoder();
    let chunks = 0;
    // 64 KiB in 1 KiB chunks, far past the 2 KiB limit; the server must stop reading long before the end.
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode('{"kind":"echo","payload":{"text":"'));
      },
      pull(controller) {
        if (chunks++ < 64) {
          controller.enqueue(encoder.encode('x'.repeat(1024)));
        } else {
          controller.enqueue(encoder.encode('"}}'));
          controller.close();
        }
      },
    });
    const res = await fetch(`${server.url}/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit);
    const text = await res.text();
    assertError({ status: res.status, headers: res.headers, body: JSON.parse(text), text }, 413, 'payload_too_large');
  });

  test('the default limit is 1024 KiB', () => {
    assert.equal(parseConfig([], {}).maxBodyKb, 1024);
    assert.equal(parseConfig([], { OFFLOAD_MAX_BODY_KB: '64' }).maxBodyKb, 64);
  });
});

describe('--max-timeout-ms and --default-timeout-ms', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ args: ['--max-timeout-ms', '5000', '--default-timeout-ms', '400'] });
  });
  after(() => server.close());

  test('timeout_ms over the ceiling → 400 invalid_request naming the field and the ceiling', async () => {
    const res = await server.request('POST', '/jobs', { body: { kind: 'echo', payload: {}, timeout_ms: 5001 } });
    assertError(res, 400, 'invalid_request');
    assert.match(res.body.error.message, /ceiling of 5000 ms/);
    assert.equal(res.body.error.details[0].in, 'body');
    assert.equal(res.body.error.details[0].path, 'timeout_ms');
    assert.equal(res.body.error.details[0].max_timeout_ms, 5000);
  });

  test('timeout_ms at the ceiling is accepted and kept', async () => {
    const res = await server.request('POST', '/jobs', { body: { kind: 'echo', payload: {}, timeout_ms: 5000 } });
    assert.equal(res.status, 202);
    const job = await server.waitForJob(res.body.job_id);
    assert.equal(job.timeout_ms, 5000);
    assert.equal(job.status, 'succeeded');
  });

  test('a job that gives no timeout gets the default one, and is stopped by it', async () => {
    const res = await server.request('POST', '/jobs', { body: { kind: 'hang', payload: {} } });
    assert.equal(res.status, 202);
    const job = await server.waitForJob(res.body.job_id);
    assert.equal(job.timeout_ms, 400);
    assert.equal(job.status, 'failed');
    assert.equal(job.error.code, 'timeout');
    assert.equal(job.error.details.timeout_ms, 400);
  });
});

describe('timeout defaults', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  test('by default the ceiling is 7 days and a job without a timeout gets it: nothing runs unbounded', async () => {
    const sevenDays = 7 * 24 * 3600 * 1000;
    assertError(await server.request('POST', '/jobs', { body: { kind: 'echo', payload: {}, timeout_ms: sevenDays + 1 } }), 400, 'invalid_request');
    const res = await server.request('POST', '/jobs', { body: { kind: 'echo', payload: {} } });
    assert.equal(res.status, 202);
    assert.equal((await server.waitForJob(res.body.job_id)).timeout_ms, sevenDays);
  });

  test('bad limit values are refused at start-up with exact messages', () => {
    const cases: Array<[string[], string]> = [
      [['--max-body-kb', '0'], '--max-body-kb (OFFLOAD_MAX_BODY_KB) must be an integer from 1 to 1048576, got "0"'],
      [['--max-timeout-ms', '2147483648'], '--max-timeout-ms (OFFLOAD_MAX_TIMEOUT_MS) must be an integer from 1 to 2147483647, got "2147483648"'],
      [['--default-timeout-ms', '1.5'], '--default-timeout-ms (OFFLOAD_DEFAULT_TIMEOUT_MS) must be an integer from 1 to 2147483647, got "1.5"'],
      [['--max-timeout-ms', '1000', '--default-timeout-ms', '2000'], '--default-timeout-ms (2000) must not exceed --max-timeout-ms (1000)'],
    ];
    for (const [args, message] of cases) {
      assert.throws(() => parseConfig(args, {}), (err: unknown) => err instanceof ConfigError && err.message === message, args.join(' '));
    }
    const config = parseConfig([], { OFFLOAD_MAX_TIMEOUT_MS: '60000', OFFLOAD_DEFAULT_TIMEOUT_MS: '1000' });
    assert.deepEqual([config.maxTimeoutMs, config.defaultTimeoutMs], [60_000, 1000]);
    assert.equal(parseConfig([], {}).defaultTimeoutMs, undefined, 'unset: the engine uses the ceiling');
  });
});
