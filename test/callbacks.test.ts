// Completion callbacks through real HTTP, to a local receiver on 127.0.0.1 (allowed with --callback-allow): signed
// deliveries of the final job document, retries with backoff then given up (500, no answer, a dropped socket), the
// delivery log in the job document, delivery after a SIGKILL, and the refusal of internal addresses without the
// allow-list — literal ones at enqueue, names resolving to one at delivery.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConfigError, parseConfig } from '../src/config.js';
import { startCallbackReceiver, verifySignature, type CallbackReceiver } from './callback-receiver.js';
import { createPostgresDatabase, makeTempDir, spawnServer, startTestServer, waitFor, type TestServer } from './helpers.js';

const SECRET = 'test-secret-🔑';
const FAST_RETRIES = ['--callback-timeout-ms', '300', '--callback-attempts', '3', '--callback-retry-base-ms', '40'];

let receiver: CallbackReceiver;
before(async () => {
  receiver = await startCallbackReceiver();
});
after(() => receiver.close());

const delivered = (job: any) => job.deliveries?.length > 0 && job.deliveries.every((d: any) => d.state !== 'pending');

describe('completion callbacks to an allowed receiver', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      args: ['--callback-allow', '127.0.0.1', '--webhook-secret', SECRET, '--webhook', `${receiver.url}/ok?all`, ...FAST_RETRIES],
    });
  });
  after(() => server.close());

  test('a job with callback_url POSTs its final job document there, signed; the job document logs the delivery', async () => {
    const posted = await server.request('POST', '/jobs', { body: { kind: 'echo', payload: { n: 1 }, callback_url: `${receiver.url}/ok` } });
    assert.equal(posted.status, 202);
    const [hit] = await receiver.waitFor('/ok');
    const job = await server.waitForJob(posted.body.job_id, delivered);
    assert.ok(verifySignature(hit!.headers['offload-signature'] as string, hit!.body, SECRET), 'the signature verifies');
    assert.equal(verifySignature(hit!.headers['offload-signature'] as string, hit!.body + ' ', SECRET), false, 'and fails for another body');
    const t = Number(/t=(\d+)/.exec(hit!.headers['offload-signature'] as string)![1]);
    assert.ok(Math.abs(t - Date.now() / 1000) < 60, 'the timestamp is now, in seconds');
    assert.equal(hit!.headers['content-type'], 'application/json');
    assert.equal(hit!.headers['offload-event'], 'job.succeeded');
    assert.equal(hit!.headers['offload-attempt'], '1');
    const body = JSON.parse(hit!.body);
    assert.deepEqual([body.job_id, body.status, body.result.payload, body.callback_url], [posted.body.job_id, 'succeeded', { n: 1 }, `${receiver.url}/ok`]);
    assert.equal(body.attempt_history.length, 1, 'the document of GET /jobs/{id}');
    const [delivery] = job.deliveries;
    assert.deepEqual(
      [delivery.delivery_id, delivery.url, delivery.event, delivery.state, delivery.attempts, delivery.next_attempt_at],
      [hit!.headers['offload-delivery'], `${receiver.url}/ok`, 'job.succeeded', 'delivered', 1, null],
    );
    assert.deepEqual(delivery.log.map((e: any) => [e.attempt, e.status_code, e.error]), [[1, 200, null]]);
    assert.ok(delivery.log[0].duration_ms >= 0 && Date.parse(delivery.log[0].at) > 0);
  });

  test('--webhook receives the jobs without their own callback_url, a cancelled one too', async () => {
    const before = receiver.received.filter((r) => r.path === '/ok?all').length;
    const job = await server.request('POST', '/jobs', { body: { kind: 'noop', delay_ms: 3_600_000 } });
    await server.request('DELETE', `/jobs/${job.body.job_id}`);
    const hits = await receiver.waitFor('/ok?all', before + 1);
    const hit = hits.find((h) => JSON.parse(h.body).job_id === job.body.job_id);
    assert.ok(hit, 'the webhook got the cancelled job');
    assert.equal(hit.headers['offload-event'], 'job.cancelled');
    assert.equal(JSON.parse(hit.body).status, 'cancelled');
    const ownUrlJobs = receiver.received.filter((r) => r.path === '/ok').map((r) => JSON.parse(r.body).job_id);
    assert.ok(ownUrlJobs.length > 0);
    assert.ok(hits.every((h) => !ownUrlJobs.includes(JSON.parse(h.body).job_id)), 'a job with its own callback_url is not sent to the webhook');
  });

  test('a receiver answering 500, one that never answers, one that drops the socket: retried with backoff, then given up', async () => {
    const ids = await Promise.all(['fail', 'hang', 'close'].map(async (path) =>
      (await server.request('POST', '/jobs', { body: { kind: 'noop', callback_url: `${receiver.url}/${path}` } })).body.job_id as string));
    const jobs = await Promise.all(ids.map((id) => server.waitForJob(id, delivered)));
    const errors = jobs.map((job) => {
      const [delivery] = job.deliveries;
      assert.deepEqual([delivery.state, delivery.attempts, delivery.log.length], ['failed', 3, 3], 'three attempts (--callback-attempts 3), then given up');
      return delivery.log.map((e: any) => [e.status_code, e.error]);
    });
    assert.deepEqual(errors[0], Array(3).fill([500, 'answered HTTP 500']));
    assert.deepEqual(errors[1], Array(3).fill([null, 'no answer within 300 ms']));
    for (const [status, error] of errors[2]) assert.deepEqual([status, typeof error], [null, 'string']);
    const hangs = jobs[1].deliveries[0].log;
    assert.ok(hangs.every((e: any) => e.duration_ms >= 290 && e.duration_ms < 2000), `each attempt stopped at its timeout: ${hangs.map((e: any) => e.duration_ms)}`);
    // Backoff: the gaps between the starts of the attempts of /fail (no time of their own) grow.
    const starts = receiver.received.filter((r) => r.path === '/fail').map((r) => r.at);
    assert.equal(starts.length, 3);
    assert.ok(starts[2]! - starts[1]! >= 20 && starts[1]! - starts[0]! >= 20, `spaced by backoff: ${starts}`);
    const metrics = (await server.request('GET', '/metrics')).text;
    assert.match(metrics, /offload_callback_attempts_total\{result="failed"\} (9|[1-9]\d+)/);
    assert.match(metrics, /offload_callback_deliveries_total\{outcome="given_up"\} 3/);
    assert.match(metrics, /offload_callback_deliveries_total\{outcome="delivered"\} \d+/);
  });

  test('a redirect is not followed; an endless answer body is never read; at most 8 deliveries are in flight at once', async () => {
    const post = (path: string) => server.request('POST', '/jobs', { body: { kind: 'noop', callback_url: `${receiver.url}/${path}` } });
    const [redirected, big] = await Promise.all([post('redirect'), post('big')]);
    const [redirectJob, bigJob] = await Promise.all([server.waitForJob(redirected.body.job_id, delivered), server.waitForJob(big.body.job_id, delivered)]);
    assert.deepEqual(redirectJob.deliveries[0].log.map((e: any) => e.status_code), [302, 302, 302], 'a 3xx is a failure, tried again');
    assert.equal(receiver.received.filter((r) => r.path === '/ok' && JSON.parse(r.body).job_id === redirected.body.job_id).length, 0, 'never followed');
    assert.deepEqual([bigJob.deliveries[0].state, bigJob.deliveries[0].log[0].status_code], ['delivered', 200]);
    assert.ok(bigJob.deliveries[0].log[0].duration_ms < 2000, 'answered at the status line');

    receiver.maxOpen = receiver.open;
    const ids = await Promise.all(Array.from({ length: 12 }, async () =>
      (await server.request('POST', '/jobs', { body: { kind: 'noop', callback_url: `${receiver.url}/hang?wave` } })).body.job_id as string));
    await Promise.all(ids.map((id) => server.waitForJob(id, delivered, 30_000)));
    assert.ok(receiver.maxOpen <= 8, `at most 8 at once (--callback-concurrency is fixed at 8): saw ${receiver.maxOpen}`);
    assert.ok(receiver.maxOpen >= 2, `several at once: saw ${receiver.maxOpen}`);
  });
});

describe('completion callbacks without an allow-list', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ args: FAST_RETRIES });
  });
  after(() => server.close());

  test('literal loopback, private and link-local addresses, and non-http schemes, are 400 at enqueue', async () => {
    for (const url of [
      `${receiver.url}/ok`, 'http://10.1.2.3/hook', 'http://169.254.169.254/latest/meta-data', 'http://[::1]:9/x', 'http://192.168.0.10/',
      'http://2130706433/', 'http://[::ffff:127.0.0.1]/', 'http://0.0.0.0:80/', 'ftp://example.com/x', 'file:///etc/passwd', 'not a url',
      'http://user:pass@example.com/',
    ]) {
      const answer = await server.request('POST', '/jobs', { body: { kind: 'noop', callback_url: url } });
      assert.equal(answer.status, 400, url);
      assert.deepEqual([answer.body.error.code, answer.body.error.details[0].path], ['invalid_request', 'callback_url'], url);
    }
    const exportAnswer = await server.request('POST', '/exports', {
      body: { dataset_id: '00000000-0000-4000-8000-000000000000', format: 'csv', callback_url: 'http://10.0.0.1/' },
    });
    assert.deepEqual([exportAnswer.status, exportAnswer.body.error.details[0].path], [400, 'callback_url']);
  });

  test('a name that resolves to loopback is accepted, then refused at delivery: given up at once, nothing sent', async () => {
    const before = receiver.received.length;
    const posted = await server.request('POST', '/jobs', { body: { kind: 'noop', callback_url: `http://localhost:${receiver.port}/ok` } });
    assert.equal(posted.status, 202);
    const job = await server.waitForJob(posted.body.job_id, delivered);
    const [delivery] = job.deliveries;
    assert.deepEqual([delivery.state, delivery.attempts], ['failed', 1]);
    assert.match(delivery.log[0].error, /localhost resolves to (127\.0\.0\.1|::1), an internal address/);
    assert.equal(receiver.received.length, before, 'no request reached the receiver');
  });
});

test('a job that finished while its callback was in flight is delivered after the server was killed (SIGKILL) and restarted', async () => {
  const dataDir = makeTempDir();
  const store = process.env.OFFLOAD_TEST_STORE === 'postgres' ? ['--store', await createPostgresDatabase()] : [];
  const args = ['--callback-allow', `127.0.0.1:${receiver.port}`, '--callback-timeout-ms', '400', ...store];
  receiver.switchTo = 'hang';
  const first = await spawnServer(dataDir, args);
  const posted = await first.request('POST', '/jobs', { body: { kind: 'noop', callback_url: `${receiver.url}/switch` } });
  const [inFlight] = await receiver.waitFor('/switch');
  first.child.kill('SIGKILL');
  await first.exited;
  receiver.switchTo = 'ok';
  const second = await spawnServer(dataDir, args);
  try {
    const hits = await receiver.waitFor('/switch', 2);
    assert.equal(hits[1]!.headers['offload-delivery'], inFlight!.headers['offload-delivery'], 'the same delivery, again: at least once');
    assert.equal(hits[1]!.headers['offload-attempt'], '2');
    assert.equal(hits[1]!.headers['offload-signature'], undefined, 'no secret, no signature');
    const job = await waitFor(async () => {
      const doc = (await second.request('GET', `/jobs/${posted.body.job_id}`)).body;
      return doc.deliveries[0].state === 'delivered' ? doc : undefined;
    });
    assert.deepEqual(job.deliveries[0].log.map((e: any) => [e.attempt, e.status_code]), [[2, 200]], 'the killed attempt left no entry');
  } finally {
    second.child.kill('SIGTERM');
    await second.exited;
  }
});

test('callback flags: --callback-allow entries, --webhook checked like a callback_url, the secret from the environment', () => {
  const config = parseConfig(['--callback-allow', 'hooks.internal', '--callback-allow', '[::1]:9000', '--callback-allow', '10.0.0.5:443'], {
    OFFLOAD_WEBHOOK_SECRET: 's', OFFLOAD_WEBHOOK: 'https://10.0.0.5/all',
  });
  assert.deepEqual(config.callbackAllow, [{ host: 'hooks.internal' }, { host: '::1', port: 9000 }, { host: '10.0.0.5', port: 443 }]);
  assert.deepEqual([config.webhookSecret, config.webhookUrl], ['s', 'https://10.0.0.5/all']);
  assert.throws(() => parseConfig(['--callback-allow', 'http://x/'], {}), (err: unknown) => err instanceof ConfigError && /--callback-allow/.test(err.message));
  assert.throws(() => parseConfig(['--webhook', 'ftp://example.com/'], {}), /--webhook .*http/);
  assert.throws(() => parseConfig(['--webhook', 'http://127.0.0.1:9/'], {}), /--webhook .*--callback-allow/);
});
