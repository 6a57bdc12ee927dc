// Wall-clock steps and poison jobs, with real server processes on one database file.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FIXTURE_KINDS, fixturePath, listeningUrl, MAIN_JS, makeTempDir, request, spawnServer, spawnWatched, waitFor, type ChildServer } from './helpers.js';

const CLOCK_STEP = new URL('./fixtures/clock-step.js', import.meta.url).href;

/** `offload serve` whose Date.now() jumps by `stepMs` once `afterMs` have passed. */
async function spawnServerWithClockStep(dataDir: string, stepMs: number, afterMs: number, args: string[] = []): Promise<ChildServer> {
  const watched = spawnWatched(process.execPath, [
    '--import', CLOCK_STEP, MAIN_JS, 'serve', '--port', '0', '--data-dir', dataDir, '--threads', '2', '--retry-base-ms', '20', '--log-level', 'info',
    ...FIXTURE_KINDS.flatMap((kind) => ['--job', `${kind}=${fixturePath(kind)}`]), ...args,
  ], { env: { ...process.env, OFFLOAD_TEST_CLOCK_STEP_MS: String(stepMs), OFFLOAD_TEST_CLOCK_STEP_AFTER_MS: String(afterMs) } });
  const url = await listeningUrl(watched);
  return { ...watched, url, request: (m, p, o) => request(url, m, p, o) };
}

async function stop(server: ChildServer): Promise<void> {
  if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
  await server.exited;
}

describe('clock steps', () => {
  test('schedules keep their pace through a wall-clock step an hour forward: no burst of catch-up runs, none missed', async () => {
    const server = await spawnServerWithClockStep(makeTempDir(), 3_600_000, 3000);
    try {
      const made = await server.request('POST', '/schedules', { body: { interval_ms: 1000, catch_up: 'all', job: { kind: 'noop' } } });
      assert.equal(made.status, 201, made.text);
      const id = made.body.schedule_id;
      // Past the step (3 s after the start) by two more due times.
      const after = await waitFor(async () => {
        const schedule = (await server.request('GET', `/schedules/${id}`)).body;
        return schedule.runs_enqueued >= 5 ? schedule : undefined;
      }, 20_000, 'five runs');
      assert.equal(after.runs_skipped, 0);
      assert.ok(after.runs_enqueued <= 7, `${after.runs_enqueued} runs: the step did not look like an hour of missed due times`);
      const dueTimes = after.recent_runs.map((run: { due_at: string }) => Date.parse(run.due_at)).reverse();
      dueTimes.slice(1).forEach((due: number, i: number) => assert.equal(due - dueTimes[i], 1000, 'one run a second'));
    } finally {
      await stop(server);
    }
  });

  test('a forward step of the observer\'s wall clock past the lease does not take a healthy owner\'s job', async () => {
    const dataDir = makeTempDir();
    const owner = await spawnServer(dataDir, ['--lease-ms', '1500']);
    const observer = await spawnServerWithClockStep(dataDir, 120_000, 1000, ['--lease-ms', '1500']);
    try {
      const created = await owner.request('POST', '/jobs', { body: { kind: 'slow-progress', payload: { steps: 50, stepMs: 100 } } });
      const done = await waitFor(async () => {
        const job = (await owner.request('GET', `/jobs/${created.body.job_id}`)).body;
        return ['succeeded', 'failed', 'cancelled'].includes(job.status) ? job : undefined;
      }, 30_000, 'the job to finish');
      assert.equal(done.status, 'succeeded');
      assert.equal(done.attempts, 1, `the observer re-ran a healthy owner's job: ${JSON.stringify(done.attempt_history)}`);
      assert.doesNotMatch(observer.output(), /recovered orphaned job/);
    } finally {
      await stop(owner);
      await stop(observer);
    }
  });

  test('a backward step does not leave a queued job waiting for the step\'s length', async () => {
    const dataDir = makeTempDir();
    const server = await spawnServerWithClockStep(dataDir, -60_000, 1500, ['--threads', '1']);
    try {
      const blocker = await server.request('POST', '/jobs', { body: { kind: 'slow-progress', payload: { steps: 25, stepMs: 100 } } });
      assert.equal(blocker.status, 202);
      const queued = await server.request('POST', '/jobs', { body: { kind: 'noop', payload: {} } });
      const postedAt = performance.now();
      const done = await waitFor(async () => {
        const job = (await server.request('GET', `/jobs/${queued.body.job_id}`)).body;
        return job.status === 'succeeded' ? job : undefined;
      }, 30_000, 'the queued job to run after the step');
      // It waited for the blocker (2.5 s), not for the minute the clock went back.
      assert.ok(performance.now() - postedAt < 20_000, `the queued job ran ${Math.round(performance.now() - postedAt)} ms after its POST`);
      assert.equal(done.attempts, 1);
    } finally {
      await stop(server);
    }
  });
});

describe('poison jobs', () => {
  test('a job that kills its process on two attempts in a row fails with crashed instead of taking the server down again', async () => {
    const dataDir = makeTempDir();
    const servers: ChildServer[] = [];
    try {
      let server = await spawnServer(dataDir);
      servers.push(server);
      const created = await server.request('POST', '/jobs', { body: { kind: 'kills-process', payload: {}, max_attempts: 5 } });
      assert.equal(created.status, 202);
      const id = created.body.job_id;
      for (let death = 1; death <= 2; death++) {
        const exit = await server.exited;
        assert.equal(exit.signal, 'SIGKILL', `death ${death}: the fixture took the process down`);
        server = await spawnServer(dataDir);
        servers.push(server);
      }
      // The third process found the job dead twice: it must not run it a third time.
      const done = await waitFor(async () => {
        const job = (await server.request('GET', `/jobs/${id}`)).body;
        return job.status === 'failed' ? job : undefined;
      }, 15_000, 'the poison job to be failed');
      assert.equal(done.error.code, 'crashed');
      assert.equal(done.error.details.deaths_in_a_row, 2);
      assert.equal(done.attempts, 2);
      assert.deepEqual(done.attempt_history.map((a: any) => [a.attempt, a.outcome, a.error?.code]), [[1, 'retried', 'lost'], [2, 'failed', 'crashed']]);
      assert.equal((await server.request('GET', '/readyz')).status, 200, 'the server is up');
      assert.equal(server.child.exitCode, null);
    } finally {
      for (const server of servers) await stop(server);
    }
  });
});

