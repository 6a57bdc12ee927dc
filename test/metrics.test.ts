// GET /metrics after real jobs on real threads: the counters, histograms and gauges move as the jobs do.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { makeTempDir, spawnServer, startTestServer, waitFor, type TestServer } from './helpers.js';

let server: TestServer;

before(async () => {
  server = await startTestServer({ args: ['--threads', '2'] });
});
after(() => server.close());

type Samples = Map<string, number>;

/** Parses the Prometheus text format into `name{label="value",…}` → value, labels sorted by name. */
function parseMetrics(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `a sample line: ${line}`);
    const labels = [...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => `${k}="${v}"`).sort();
    samples.set(`${match[1]}{${labels.join(',')}}`, Number(match[3]));
  }
  return samples;
}

function key(name: string, labels: Record<string, string>): string {
  return `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).sort().join(',')}}`;
}

async function scrape(target: { request: TestServer['request'] } = server): Promise<{ samples: Samples; text: string }> {
  const res = await target.request('GET', '/metrics');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  return { samples: parseMetrics(res.text), text: res.text };
}

const value = (samples: Samples, name: string, labels: Record<string, string> = {}) => samples.get(key(name, labels)) ?? 0;

async function runJob(body: object): Promise<any> {
  const created = await server.request('POST', '/jobs', { body });
  assert.equal(created.status, 202, JSON.stringify(created.body));
  return server.waitForJob(created.body.job_id);
}

describe('GET /metrics', () => {
  test('job counters and histograms count real attempts by kind, status and error code', async () => {
    const before = (await scrape()).samples;

    assert.equal((await runJob({ kind: 'echo', payload: {} })).status, 'succeeded');
    assert.equal((await runJob({ kind: 'throws', payload: {}, max_attempts: 1 })).error.code, 'task_error');
    const exited = await runJob({ kind: 'exits', payload: {}, max_attempts: 2 });
    assert.deepEqual([exited.status, exited.error.code, exited.attempts], ['failed', 'worker_exit', 2]);
    assert.equal((await runJob({ kind: 'hang', payload: {}, timeout_ms: 300 })).error.code, 'timeout');
    const { job: future } = await server.engine.enqueue({ kind: 'noop', payload: {}, runAt: Date.now() + 60_000 });
    assert.equal((await server.request('DELETE', `/jobs/${future.id}`)).body.status, 'cancelled');

    // The answer may be read before the attempt's event reached the metrics: poll, don't assume.
    const after = await waitFor(async () => {
      const { samples } = await scrape();
      return value(samples, 'offload_jobs_finished_total', { kind: 'hang', status: 'failed', error_code: 'timeout' }) >
        value(before, 'offload_jobs_finished_total', { kind: 'hang', status: 'failed', error_code: 'timeout' })
        ? samples
        : undefined;
    }, 5000, 'the metrics to count the jobs');
    const delta = (name: string, labels: Record<string, string>) => value(after, name, labels) - value(before, name, labels);

    const attempts = 'offload_job_attempts_total';
    assert.equal(delta(attempts, { kind: 'echo', status: 'succeeded', error_code: 'none' }), 1);
    assert.equal(delta(attempts, { kind: 'throws', status: 'failed', error_code: 'task_error' }), 1);
    assert.equal(delta(attempts, { kind: 'exits', status: 'retried', error_code: 'worker_exit' }), 1, 'the retry is counted');
    assert.equal(delta(attempts, { kind: 'exits', status: 'failed', error_code: 'worker_exit' }), 1);
    assert.equal(delta(attempts, { kind: 'hang', status: 'failed', error_code: 'timeout' }), 1);

    const finished = 'offload_jobs_finished_total';
    assert.equal(delta(finished, { kind: 'echo', status: 'succeeded', error_code: 'none' }), 1);
    assert.equal(delta(finished, { kind: 'exits', status: 'failed', error_code: 'worker_exit' }), 1, 'one job, however many attempts');
    assert.equal(delta(finished, { kind: 'noop', status: 'cancelled', error_code: 'cancelled' }), 1, 'a pending job cancelled is finished too');
    assert.equal(value(after, finished, { kind: 'exits', status: 'retried', error_code: 'worker_exit' }), 0);

    assert.equal(delta('offload_job_run_seconds_count', { kind: 'echo', status: 'succeeded' }), 1);
    assert.equal(delta('offload_job_run_seconds_count', { kind: 'exits', status: 'retried' }), 1);
    assert.ok(delta('offload_job_run_seconds_sum', { kind: 'hang', status: 'failed' }) >= 0.3, 'the timed-out attempt ran 300 ms or more');
    assert.equal(delta('offload_job_run_seconds_bucket', { kind: 'hang', status: 'failed', le: '0.1' }), 0);
    assert.equal(delta('offload_job_run_seconds_bucket', { kind: 'hang', status: 'failed', le: '+Inf' }), 1);
    assert.equal(delta('offload_job_wait_seconds_count', { kind: 'echo' }), 1);
    assert.equal(delta('offload_job_wait_seconds_count', { kind: 'exits' }), 2, 'one wait per attempt');
  });

  test('gauges: pending and running jobs by kind, busy and idle threads', async () => {
    const later = Date.now() + 60_000;
    const pending = await Promise.all([1, 2, 3].map(() => server.engine.enqueue({ kind: 'noop', payload: {}, runAt: later }).then((r) => r.job)));
    const running = await server.request('POST', '/jobs', { body: { kind: 'hang', payload: {} } });
    await server.waitForJob(running.body.job_id, (j) => j.status === 'running');

    const { samples } = await scrape();
    assert.equal(value(samples, 'offload_jobs', { kind: 'noop', status: 'pending' }), 3);
    assert.equal(value(samples, 'offload_jobs', { kind: 'hang', status: 'running' }), 1);
    assert.ok(samples.has(key('offload_jobs', { kind: 'oom', status: 'pending' })), 'a registered kind with no job shows 0');
    assert.equal(value(samples, 'offload_worker_threads', { state: 'busy' }), 1);
    assert.equal(value(samples, 'offload_worker_threads', { state: 'idle' }), 1);

    for (const job of pending) assert.equal((await server.request('DELETE', `/jobs/${job.id}`)).status, 202);
    assert.equal((await server.request('DELETE', `/jobs/${running.body.job_id}`)).body.status, 'cancelled');
    const drained = await waitFor(async () => {
      const { samples: now } = await scrape();
      return value(now, 'offload_worker_threads', { state: 'busy' }) === 0 ? now : undefined;
    }, 5000, 'the thread to be idle again');
    assert.equal(value(drained, 'offload_jobs', { kind: 'noop', status: 'pending' }), 0);
    assert.equal(value(drained, 'offload_jobs', { kind: 'hang', status: 'running' }), 0);
    assert.equal(value(drained, 'offload_worker_threads', { state: 'idle' }), 2);
  });

  test('HTTP request durations by route template (never the raw path), method and status', async () => {
    const job = await runJob({ kind: 'echo', payload: {} });
    assert.equal((await server.request('GET', `/jobs/${job.job_id}`)).status, 200);
    assert.equal((await server.request('GET', '/jobs/00000000-0000-4000-8000-000000000000')).status, 404);
    assert.equal((await server.request('GET', '/no/such/route')).status, 404);
    assert.equal((await server.request('PUT', '/healthz')).status, 405);

    const http = 'offload_http_request_duration_seconds';
    // Observed when the answer's socket work is over, which may be just after the client read it: poll.
    const { samples, text } = await waitFor(async () => {
      const scraped = await scrape();
      return value(scraped.samples, `${http}_count`, { route: 'unmatched', method: 'PUT', status: '405' }) >= 1 ? scraped : undefined;
    }, 5000, 'the requests to be observed');
    assert.ok(value(samples, `${http}_count`, { route: '/jobs/:id', method: 'GET', status: '200' }) >= 2, 'the poll and the GET');
    assert.ok(value(samples, `${http}_count`, { route: '/jobs/:id', method: 'GET', status: '404' }) >= 1);
    assert.ok(value(samples, `${http}_count`, { route: '/jobs', method: 'POST', status: '202' }) >= 1);
    assert.ok(value(samples, `${http}_count`, { route: 'unmatched', method: 'GET', status: '404' }) >= 1, 'a path no route has');
    assert.ok(value(samples, `${http}_bucket`, { route: '/jobs/:id', method: 'GET', status: '200', le: '+Inf' }) >= 2);
    assert.ok(!text.includes(job.job_id), 'no id in any label');
    assert.ok(!text.includes('/no/such/route'), 'no raw path in any label');
  });

  test('oldest pending age: how long a due job waits behind a busy pool; 0 when none is due', async () => {
    const age = 'offload_oldest_pending_age_seconds';
    const { job: future } = await server.engine.enqueue({ kind: 'echo', payload: {}, runAt: Date.now() + 60_000 });
    const hangs = await Promise.all([1, 2].map(async () => (await server.request('POST', '/jobs', { body: { kind: 'hang', payload: {} } })).body.job_id as string));
    for (const id of hangs) await server.waitForJob(id, (j) => j.status === 'running');
    const posted = performance.now();
    const queued = await server.request('POST', '/jobs', { body: { kind: 'noop', payload: {} } });
    assert.equal(queued.status, 202);

    const first = await waitFor(async () => {
      const { samples } = await scrape();
      return value(samples, age, { kind: 'noop' }) >= 0.2 ? samples : undefined;
    }, 5000, 'the queued job to have waited 0.2 s');
    assert.ok(value(first, age, { kind: 'noop' }) <= (performance.now() - posted) / 1000 + 0.05, 'no older than the job');
    assert.equal(value(first, age, { kind: 'echo' }), 0, 'a pending job not due yet does not count');
    assert.ok(first.has(key(age, { kind: 'oom' })), 'a registered kind with no job shows 0');
    assert.equal((await server.request('GET', `/jobs/${queued.body.job_id}`)).body.status, 'pending', 'both threads are busy');

    for (const id of hangs) assert.equal((await server.request('DELETE', `/jobs/${id}`)).body.status, 'cancelled');
    await server.waitForJob(queued.body.job_id);
    const drained = (await scrape()).samples;
    assert.equal(value(drained, age, { kind: 'noop' }), 0);
    assert.equal(value(drained, age, { kind: 'echo' }), 0);
    assert.equal((await server.request('DELETE', `/jobs/${future.id}`)).status, 202);
  });

  test('run and wait histograms have buckets up to 7 days, the default --max-timeout-ms', async () => {
    const { samples } = await scrape();
    const bucketsOf = (name: string, labels: string[]) => [...samples.keys()]
      .filter((k) => k.startsWith(`${name}_bucket{`) && labels.every((label) => k.includes(label)))
      .map((k) => /le="([^"]+)"/.exec(k)![1]!);
    for (const [name, labels] of [['offload_job_run_seconds', ['kind="echo"', 'status="succeeded"']], ['offload_job_wait_seconds', ['kind="echo"']]] as const) {
      const buckets = bucketsOf(name, [...labels]);
      for (const le of ['600', '1800', '3600', '14400', '43200', '86400', '259200', '604800', '+Inf']) {
        assert.ok(buckets.includes(le), `${name} has le="${le}": ${buckets}`);
      }
      assert.equal(Math.max(...buckets.filter((le) => le !== '+Inf').map(Number)), 7 * 24 * 3600);
    }
  });

  test('process, heap, and event-loop delay metrics, and the build info', async () => {
    const { samples, text } = await scrape();
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_active_handles_total']) {
      assert.ok(samples.has(`${name}{}`), `${name} is exported`);
    }
    assert.match(text, /^# TYPE offload_job_attempts_total counter$/m);
    assert.match(text, /^# TYPE offload_job_run_seconds histogram$/m);
    assert.match(text, /^# TYPE offload_jobs gauge$/m);
    assert.match(text, /^offload_build_info\{version="\d+\.\d+\.\d+[^"]*",node_version="v\d+[^"]*"\} 1$/m);
  });

  test('each app has its own registry: two servers in one process count separately', async () => {
    const other = await startTestServer();
    try {
      const res = await other.request('POST', '/jobs', { body: { kind: 'noop', payload: {} } });
      await other.waitForJob(res.body.job_id);
      const mine = await waitFor(async () => {
        const { samples } = await scrape(other);
        return value(samples, 'offload_job_attempts_total', { kind: 'noop', status: 'succeeded', error_code: 'none' }) === 1 ? samples : undefined;
      }, 5000, 'the other server to count its job');
      assert.equal(value(mine, 'offload_jobs_finished_total', { kind: 'echo', status: 'succeeded', error_code: 'none' }), 0);
    } finally {
      await other.close();
    }
  });

  test('attempts lost with a killed process are counted by the process that recovers them', async () => {
    const dataDir = makeTempDir();
    const doomed = await spawnServer(dataDir, ['--threads', '2']);
    const post = async (body: object) => (await doomed.request('POST', '/jobs', { body })).body.job_id as string;
    const lastAttempt = await post({ kind: 'hang', payload: {}, max_attempts: 1 });
    const retryable = await post({ kind: 'slow-progress', payload: { steps: 1000, stepMs: 20 }, max_attempts: 2 });
    await waitFor(async () => {
      const states = await Promise.all([lastAttempt, retryable].map((id) => doomed.request('GET', `/jobs/${id}`)));
      return states.every((s) => s.body.status === 'running') ? true : undefined;
    }, 10_000, 'both jobs to run in the child');
    doomed.child.kill('SIGKILL');
    await doomed.exited;

    // Same host, dead pid: the new server recovers both at start-up, before it listens.
    const heir = await startTestServer({ dataDir });
    try {
      const { samples } = await scrape(heir);
      assert.equal(value(samples, 'offload_job_attempts_total', { kind: 'hang', status: 'failed', error_code: 'lost' }), 1);
      assert.equal(value(samples, 'offload_job_attempts_total', { kind: 'slow-progress', status: 'retried', error_code: 'lost' }), 1);
      assert.equal(value(samples, 'offload_jobs_finished_total', { kind: 'hang', status: 'failed', error_code: 'lost' }), 1);
      assert.equal(value(samples, 'offload_jobs_finished_total', { kind: 'slow-progress', status: 'failed', error_code: 'lost' }), 0);
      const retried = await heir.waitForJob(retryable, (j) => j.status === 'running');
      assert.equal(retried.attempts, 2);
      assert.equal((await heir.request('DELETE', `/jobs/${retryable}`)).body.status, 'cancelled');
    } finally {
      await heir.close();
    }
  });
});
