// Every way a task can fail ends with the right status and error code, retries exactly as specified, and the
// pool runs a normal job right after. Real worker threads, real SQLite, real HTTP.
import assert from 'node:assert/strict';
import { supportsHeapGuard } from '../src/engine/heap-guard.js';
import { after, before, describe, test } from 'node:test';
import { toJobDocument } from '../src/http/job-document.js';
import { startTestServer, type TestServer } from './helpers.js';

let server: TestServer;

before(async () => {
  server = await startTestServer({ args: ['--worker-memory-mb', '64'] });
});
after(() => server.close());

async function runJob(kind: string, extra: Record<string, unknown> = {}) {
  const created = await server.request('POST', '/jobs', { body: { kind, payload: {}, ...extra } });
  assert.equal(created.status, 202, created.text);
  return server.waitForJob(created.body.job_id);
}

async function assertPoolStillWorks() {
  const job = await runJob('echo', { payload: { after: 'failure' } });
  assert.equal(job.status, 'succeeded');
  assert.deepEqual(job.result.payload, { after: 'failure' });
}

describe('failures are written back', () => {
  test('a task that throws fails at once with task_error', async () => {
    const job = await runJob('throws');
    assert.equal(job.status, 'failed');
    assert.equal(job.attempts, 1);
    assert.equal(job.error.code, 'task_error');
    assert.equal(job.error.message, 'the fixture failed on purpose');
    assert.equal(job.error.details.attempt, 1);
    assert.equal(typeof job.error.details.duration_ms, 'number');
    assert.ok(!JSON.stringify(job).includes('at throws'), 'no stack trace reaches the API');
    await assertPoolStillWorks();
  });

  test('a task that throws a non-Error value fails with task_error and keeps what it threw', async () => {
    const job = await runJob('throws-non-error');
    assert.equal(job.error.code, 'task_error');
    assert.match(job.error.message, /a plain object, not an Error/);
  });

  test('a retryable task error is retried with backoff until it succeeds', async () => {
    const job = await runJob('throws-retryable', { payload: { succeedOnAttempt: 3 }, max_attempts: 3 });
    assert.equal(job.status, 'succeeded');
    assert.equal(job.attempts, 3);
    assert.deepEqual(job.result, { attempt: 3 });
  });

  test('a retryable task error stops after max_attempts', async () => {
    const job = await runJob('throws-retryable', { max_attempts: 2 });
    assert.equal(job.status, 'failed');
    assert.equal(job.attempts, 2);
    assert.equal(job.error.code, 'task_error');
    assert.equal(job.error.message, 'temporary failure on attempt 2');
  });

  test('a retried job waits in pending with next_run_at', async () => {
    // Watch the engine's own writes: the pending window between attempts is too short to catch by polling.
    const seen: any[] = [];
    const record = (job: Parameters<typeof toJobDocument>[0]) => seen.push(toJobDocument(job));
    server.engine.on('change', record);
    const created = await server.request('POST', '/jobs', { body: { kind: 'throws-retryable', payload: {}, max_attempts: 2 } });
    await server.waitForJob(created.body.job_id);
    server.engine.off('change', record);
    const states = seen.filter((j) => j.job_id === created.body.job_id);
    const waiting = states.find((j) => j.status === 'pending' && j.attempts === 1);
    assert.ok(waiting, `a pending state after attempt 1 among ${states.map((j) => j.status).join(', ')}`);
    assert.equal(waiting.error.code, 'task_error');
    assert.ok(Date.parse(waiting.next_run_at) >= Date.parse(waiting.created_at));
  });

  test('process.exit in the worker is worker_exit with the exit code, retried up to max_attempts', async () => {
    const job = await runJob('exits', { max_attempts: 2 });
    assert.equal(job.status, 'failed');
    assert.equal(job.attempts, 2);
    assert.equal(job.error.code, 'worker_exit');
    assert.equal(job.error.details.exit_code, 7);
    await assertPoolStillWorks();
  });

  test('running out of heap is worker_oom, final, with the limit in the details', async () => {
    const job = await runJob('oom', { max_attempts: 3 });
    assert.equal(job.status, 'failed');
    assert.equal(job.attempts, 1);
    assert.equal(job.error.code, 'worker_oom');
    assert.equal(job.error.details.memory_limit_mb, 64);
    // Where the parent can read a worker's heap (Node ≥ 22), the guard ends it before V8's own limit, which on
    // Node 24 aborted the whole process in 7 of 10 runs; on Node 20, V8's limit ends it (ERR_WORKER_OUT_OF_MEMORY).
    if (supportsHeapGuard()) {
      assert.equal(job.error.details.detected_by, 'heap_guard', JSON.stringify(job.error));
      assert.ok(job.error.details.heap_used_mb >= 64);
    }
    await assertPoolStillWorks();
  });

  test('memory held outside the heap (640 MB of Buffers, limit 64 MB) is worker_oom where the heap guard runs', async () => {
    const job = await runJob('external-hog', { max_attempts: 2 });
    if (supportsHeapGuard()) {
      assert.equal(job.status, 'failed');
      assert.equal(job.error.code, 'worker_oom', JSON.stringify(job.error));
      assert.equal(job.error.details.detected_by, 'heap_guard');
    } else {
      // Node 20 cannot read a worker's memory from the parent, and V8 bounds only the heap: documented as such.
      assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
    }
    await assertPoolStillWorks();
  });

  test('an infinite loop past timeout_ms is timeout, final, and its thread is terminated', async () => {
    const started = Date.now();
    const job = await runJob('hang', { timeout_ms: 300, max_attempts: 3 });
    assert.equal(job.status, 'failed');
    assert.equal(job.attempts, 1);
    assert.equal(job.error.code, 'timeout');
    assert.equal(job.error.details.timeout_ms, 300);
    assert.ok(Date.now() - started < 10_000);
    // Both threads must be usable again: a spinning thread left behind would starve one of these.
    await Promise.all([assertPoolStillWorks(), assertPoolStillWorks()]);
  });

  test('an exception thrown from a timer kills the thread: worker_exit, retried', async () => {
    const job = await runJob('timer-throws', { max_attempts: 2 });
    assert.equal(job.status, 'failed');
    assert.equal(job.attempts, 2);
    assert.equal(job.error.code, 'worker_exit');
    assert.match(job.error.message, /thrown from a timer/);
    await assertPoolStillWorks();
  });

  test('a result that cannot be stored fails as task_error without killing the thread', async () => {
    const job = await runJob('uncloneable');
    assert.equal(job.status, 'failed');
    assert.equal(job.error.code, 'task_error');
    assert.match(job.error.message, /cannot be stored as JSON/);
    await assertPoolStillWorks();
  });

  test('progress is stored and the final counts are kept', async () => {
    const job = await runJob('slow-progress', { payload: { steps: 6, stepMs: 60 } });
    assert.equal(job.status, 'succeeded');
    assert.deepEqual(job.progress, { done: 6, total: 6, percent: 100 });
  });
});
