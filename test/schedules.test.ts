// Schedules through real HTTP on a real SQLite file, their clock moved by the test (engine option `now`): DST
// transitions of real zones, catch-up and overlap policies, pause/resume, validation; then two server processes
// on one database, one job per due time (a SQLite file; with OFFLOAD_TEST_STORE=postgres, as acceptance-pg runs it,
// a PostgreSQL database), and on SQLite a write lock held past the store's patience.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { jobsDatabasePath } from '../src/contracts/data-layout.js';
import { createPostgresDatabase, makeTempDir, spawnServer, startTestServer, waitFor, type ChildServer, type TestServer } from './helpers.js';

let clock = Date.parse('2026-03-28T23:00:00Z');
let server: TestServer;

before(async () => {
  server = await startTestServer({ engine: { now: () => clock, pollIntervalMs: 50 } });
});
after(() => server.close());

const at = (iso: string) => Date.parse(iso);

async function create(body: Record<string, unknown>) {
  const res = await server.request('POST', '/schedules', { body: { job: { kind: 'noop' }, ...body } });
  assert.equal(res.status, 201, res.text);
  return res.body;
}

const getSchedule = async (id: string) => (await server.request('GET', `/schedules/${id}`)).body;

/** Moves the clock to `time` and waits until the scheduler has looked at every schedule due by then. */
async function advanceTo(time: string | number, ids: string[]) {
  clock = typeof time === 'number' ? time : at(time);
  for (const id of ids) {
    await waitFor(async () => {
      const schedule = await getSchedule(id);
      const nextDue = schedule.next_due_at === null ? Infinity : Date.parse(schedule.next_due_at);
      return nextDue > clock ? schedule : undefined;
    }, 10_000, `schedule ${id} to be looked at`);
  }
}

const runTimes = async (id: string) => (await getSchedule(id)).recent_runs.map((run: { due_at: string }) => run.due_at).reverse();

describe('DST', () => {
  test('Europe/Berlin spring forward: a time that does not exist runs once, at the next valid minute', async () => {
    clock = at('2026-03-28T23:00:00Z');
    const daily = await create({ cron: '30 2 * * *', time_zone: 'Europe/Berlin' });
    const halfHourly = await create({ cron: '*/30 2 * * *', time_zone: 'Europe/Berlin' });
    assert.equal(daily.next_due_at, '2026-03-29T01:00:00.000Z', '02:30 does not exist on 29 March: 03:00 CEST');
    assert.equal(halfHourly.next_due_at, '2026-03-29T01:00:00.000Z', '02:00 and 02:30 both become 03:00, once');
    const ids = [daily.schedule_id, halfHourly.schedule_id];
    await advanceTo('2026-03-29T01:00:20Z', ids);
    await advanceTo('2026-03-29T01:30:20Z', ids);
    await advanceTo('2026-03-30T00:00:20Z', ids);
    await advanceTo('2026-03-30T00:30:20Z', ids);
    assert.deepEqual(await runTimes(daily.schedule_id), ['2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z']);
    assert.deepEqual(await runTimes(halfHourly.schedule_id), ['2026-03-29T01:00:00.000Z', '2026-03-30T00:00:00.000Z', '2026-03-30T00:30:00.000Z']);
    const job = await server.waitForJob((await getSchedule(daily.schedule_id)).last_run.job_id);
    assert.equal(job.status, 'succeeded');
  });

  test('Europe/Berlin fall back: a time that occurs twice runs once', async () => {
    clock = at('2026-10-24T23:30:00Z');
    const daily = await create({ cron: '30 2 * * *', time_zone: 'Europe/Berlin' });
    const hourly = await create({ cron: '0 * * * *', time_zone: 'Europe/Berlin' });
    const ids = [daily.schedule_id, hourly.schedule_id];
    // 02:00–02:59 CEST (00:00–00:59 UTC), then 02:00–02:59 CET (01:00–01:59 UTC) again.
    for (let t = at('2026-10-25T00:00:20Z'); t <= at('2026-10-25T03:00:20Z'); t += 30 * 60_000) await advanceTo(t, ids);
    assert.deepEqual(await runTimes(daily.schedule_id), ['2026-10-25T00:30:00.000Z']);
    assert.deepEqual(await runTimes(hourly.schedule_id), ['2026-10-25T00:00:00.000Z', '2026-10-25T02:00:00.000Z', '2026-10-25T03:00:00.000Z']);
  });

  test('America/New_York, 6 fields: 02:00:00 on 8 March is 03:00 EDT; 01:30 on 1 November runs once', async () => {
    clock = at('2026-03-08T05:00:00Z');
    const spring = await create({ cron: '0 0 2 * * *', time_zone: 'America/New_York' });
    assert.equal(spring.next_due_at, '2026-03-08T07:00:00.000Z');
    clock = at('2026-10-31T12:00:00Z');
    const fall = await create({ cron: '30 1 * * *', time_zone: 'America/New_York' });
    assert.equal(fall.next_due_at, '2026-11-01T05:30:00.000Z', '01:30 EDT, the first of the two');
    await advanceTo('2026-11-01T05:30:10Z', [fall.schedule_id]);
    assert.equal((await getSchedule(fall.schedule_id)).next_due_at, '2026-11-02T06:30:00.000Z', 'not 01:30 EST again');
  });
});

describe('policies', () => {
  test('catch-up after an hour of downtime: skip runs none, once one, all each missed due time', async () => {
    clock = at('2026-05-01T10:01:00Z');
    const policies = ['skip', 'once', 'all'] as const;
    const made = await Promise.all(policies.map((catch_up) => create({ cron: '*/10 * * * *', catch_up })));
    await advanceTo('2026-05-01T11:05:00Z', made.map((s) => s.schedule_id));
    const [skip, once, all] = await Promise.all(made.map((s) => getSchedule(s.schedule_id)));
    assert.deepEqual([skip.runs_enqueued, skip.runs_skipped], [0, 6]);
    assert.deepEqual([once.runs_enqueued, once.runs_skipped], [1, 5]);
    assert.deepEqual(await runTimes(once.schedule_id), ['2026-05-01T11:00:00.000Z']);
    assert.deepEqual([all.runs_enqueued, all.runs_skipped], [6, 0]);
    assert.equal((await runTimes(all.schedule_id))[0], '2026-05-01T10:10:00.000Z');
    for (const s of [skip, once, all]) assert.equal(s.next_due_at, '2026-05-01T11:10:00.000Z');
  });

  test('catch-up all is bounded: 100 runs, the rest skipped', async () => {
    clock = at('2026-05-02T00:00:00Z');
    const every = await create({ interval_ms: 1000, catch_up: 'all' });
    await advanceTo(clock + 600_000, [every.schedule_id]);
    const after = await getSchedule(every.schedule_id);
    assert.deepEqual([after.runs_enqueued, after.runs_skipped], [100, 500]);
    await server.request('DELETE', `/schedules/${every.schedule_id}`);
  });

  test('overlap: allow enqueues beside an active run, skip drops, queue-one keeps one until the active one ended', async () => {
    clock = at('2026-06-01T00:00:30Z');
    const job = { kind: 'slow-progress', payload: { steps: 1000, stepMs: 50 } };
    const policies = ['allow', 'skip', 'queue-one'] as const;
    const made = await Promise.all(policies.map((overlap) => create({ cron: '* * * * *', overlap, job })));
    const ids = made.map((s) => s.schedule_id);
    for (const minute of [1, 2, 3]) await advanceTo(at('2026-06-01T00:00:10Z') + minute * 60_000, ids);
    const [allow, skip, queueOne] = await Promise.all(ids.map(getSchedule));
    assert.deepEqual([allow.runs_enqueued, allow.runs_skipped], [3, 0]);
    assert.deepEqual([skip.runs_enqueued, skip.runs_skipped], [1, 2]);
    assert.deepEqual([queueOne.runs_enqueued, queueOne.runs_skipped], [1, 1]);
    assert.equal(queueOne.queued_due_at, '2026-06-01T00:02:00.000Z');
    // The active run ends: the queued one is enqueued at the next look, without a new due time.
    await server.request('DELETE', `/jobs/${queueOne.last_run.job_id}`);
    const released = await waitFor(async () => {
      const s = await getSchedule(queueOne.schedule_id);
      return s.runs_enqueued === 2 ? s : undefined;
    });
    assert.equal(released.queued_due_at, null);
    assert.equal(released.last_run.due_at, '2026-06-01T00:02:00.000Z');
    await server.request('POST', '/jobs/bulk-cancel', { body: { kind: 'slow-progress' } });
    for (const id of ids) await server.request('DELETE', `/schedules/${id}`);
  });

  test('pause enqueues nothing; resume starts from now without catching up', async () => {
    clock = at('2026-07-01T00:00:30Z');
    const s = await create({ cron: '* * * * *', catch_up: 'all' });
    const paused = await server.request('PATCH', `/schedules/${s.schedule_id}`, { body: { paused: true } });
    assert.equal(paused.status, 200, paused.text);
    assert.deepEqual([paused.body.paused, paused.body.next_due_at], [true, null]);
    clock = at('2026-07-01T00:10:30Z');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal((await getSchedule(s.schedule_id)).runs_enqueued, 0);
    const resumed = await server.request('PATCH', `/schedules/${s.schedule_id}`, { body: { paused: false } });
    assert.deepEqual([resumed.body.paused, resumed.body.next_due_at], [false, '2026-07-01T00:11:00.000Z']);
    const list = await server.request('GET', '/schedules?limit=500');
    assert.ok(list.body.schedules.some((item: { schedule_id: string }) => item.schedule_id === s.schedule_id));
    assert.equal((await server.request('DELETE', `/schedules/${s.schedule_id}`)).status, 204);
    assert.equal((await server.request('GET', `/schedules/${s.schedule_id}`)).status, 404);
  });

  test('a PATCH to a new cron or zone moves the next due time; to an interval drops the cron', async () => {
    clock = at('2026-08-01T00:00:00Z');
    const s = await create({ cron: '0 12 * * *' });
    const zoned = await server.request('PATCH', `/schedules/${s.schedule_id}`, { body: { time_zone: 'Asia/Tokyo' } });
    assert.equal(zoned.body.next_due_at, '2026-08-01T03:00:00.000Z');
    const interval = await server.request('PATCH', `/schedules/${s.schedule_id}`, { body: { interval_ms: 60_000 } });
    assert.deepEqual([interval.body.cron, interval.body.interval_ms, interval.body.next_due_at], [null, 60_000, '2026-08-01T00:01:00.000Z']);
    await server.request('DELETE', `/schedules/${s.schedule_id}`);
  });
});

describe('validation', () => {
  test('bad cron, bad zone, both timings, unknown and internal kinds: the error codes of POST /jobs', async () => {
    const cases: Array<[Record<string, unknown>, number, string, string?]> = [
      [{ cron: 'every day' }, 400, 'invalid_request', 'cron'],
      [{ cron: '* * * * * * *' }, 400, 'invalid_request', 'cron'],
      [{ cron: '61 * * * *' }, 400, 'invalid_request', 'cron'],
      [{ cron: '0 0 30 2 *' }, 400, 'invalid_request'],
      [{ cron: '* * * * *', time_zone: 'Mars/Olympus_Mons' }, 400, 'invalid_request', 'time_zone'],
      [{ cron: '* * * * *', interval_ms: 1000 }, 400, 'invalid_request', 'cron'],
      [{}, 400, 'invalid_request', 'cron'],
      [{ interval_ms: 10 }, 400, 'invalid_request', 'interval_ms'],
      [{ cron: '* * * * *', catch_up: 'sometimes' }, 400, 'invalid_request', 'catch_up'],
      [{ cron: '* * * * *', job: { kind: 'nope' } }, 422, 'unknown_kind'],
      [{ cron: '* * * * *', job: { kind: 'export' } }, 422, 'unknown_kind'],
      [{ cron: '* * * * *', job: { kind: 'noop', timeout_ms: 2_000_000_000 } }, 400, 'invalid_request', 'job.timeout_ms'],
    ];
    for (const [body, status, code, path] of cases) {
      const res = await server.request('POST', '/schedules', { body: { job: { kind: 'noop' }, ...body } });
      assert.equal(res.status, status, `${JSON.stringify(body)}: ${res.text}`);
      assert.equal(res.body.error.code, code);
      if (path) assert.ok(res.body.error.details.some((d: { path: string }) => d.path === path), res.text);
    }
    const made = await create({ cron: '0 4 * * *' });
    const patches: Array<[unknown, number, string]> = [
      [{}, 400, 'invalid_request'],
      [{ cron: '* * * * *', interval_ms: 5000 }, 400, 'invalid_request'],
      [{ name: 'x'.repeat(201) }, 400, 'invalid_request'],
      [{ paused: 'yes' }, 400, 'invalid_request'],
      [{ time_zone: '../../etc/passwd' }, 400, 'invalid_request'],
      [{ job: { kind: 'import' } }, 422, 'unknown_kind'],
      [{ revision: 1 }, 400, 'invalid_request'],
    ];
    for (const [body, status, code] of patches) {
      const res = await server.request('PATCH', `/schedules/${made.schedule_id}`, { body });
      assert.deepEqual([res.status, res.body.error?.code], [status, code], `${JSON.stringify(body)}: ${res.text}`);
    }
    assert.equal((await server.request('PATCH', `/schedules/${made.schedule_id}`, { rawBody: 'paused=true', headers: { 'content-type': 'text/plain' } })).status, 415);
    assert.deepEqual((await getSchedule(made.schedule_id)).revision ?? null, null, 'the revision is not part of the document');
    await server.request('DELETE', `/schedules/${made.schedule_id}`);
    const id = '00000000-0000-4000-8000-000000000000';
    assert.equal((await server.request('PATCH', `/schedules/${id}`, { body: { paused: true } })).status, 404);
    assert.equal((await server.request('GET', '/schedules/not-a-uuid')).status, 400);
    assert.equal((await server.request('DELETE', `/schedules/${id}`)).status, 404);
    assert.equal((await server.request('GET', '/schedules?cursor=x')).status, 400);
  });
});

const onPostgres = process.env.OFFLOAD_TEST_STORE === 'postgres';

describe('server processes sharing one database', () => {
  const dataDir = makeTempDir();
  let a: ChildServer;
  let b: ChildServer;
  before(async () => {
    const storeArgs = onPostgres ? ['--store', await createPostgresDatabase()] : [];
    [a, b] = await Promise.all([spawnServer(dataDir, storeArgs), spawnServer(dataDir, storeArgs)]);
  });
  after(async () => {
    for (const node of [a, b]) node?.child.kill('SIGTERM');
    await Promise.all([a?.exited, b?.exited]);
  });

  test('two processes: exactly one job per due time', async () => {
    const made = await a.request('POST', '/schedules', { body: { interval_ms: 1000, job: { kind: 'noop' } } });
    assert.equal(made.status, 201, made.text);
    const id = made.body.schedule_id;
    await waitFor(async () => ((await b.request('GET', `/schedules/${id}`)).body.runs_enqueued >= 3 ? true : undefined), 20_000);
    await a.request('PATCH', `/schedules/${id}`, { body: { paused: true } });
    const schedule = (await b.request('GET', `/schedules/${id}`)).body;
    const jobs = (await a.request('GET', '/jobs?kind=noop&limit=500')).body.jobs;
    assert.equal(jobs.length, schedule.runs_enqueued, 'one job per run, none twice');
    const dueTimes = schedule.recent_runs.map((run: { due_at: string }) => Date.parse(run.due_at));
    assert.equal(new Set(dueTimes).size, dueTimes.length);
    assert.deepEqual(new Set(schedule.recent_runs.map((run: { job_id: string }) => run.job_id)), new Set(jobs.map((job: { job_id: string }) => job.job_id)));
    const counts = await Promise.all([a, b].map(async (node) => {
      const text = (await node.request('GET', '/metrics')).text;
      return Number(/^offload_schedule_runs_total\{[^}]*\} (\d+)/m.exec(text)?.[1] ?? 0);
    }));
    assert.equal(counts[0]! + counts[1]!, schedule.runs_enqueued, `runs enqueued per process: ${counts.join(', ')}`);
  });

  // SQLite's write lock, held by another process; PostgreSQL's faults are the multi-node tests'.
  if (!onPostgres) test('the database locked past the store\'s patience: the failed look is logged, the processes live, the next look enqueues', async () => {
    const locker = spawn('sqlite3', [jobsDatabasePath(dataDir)]);
    try {
      const made = await a.request('POST', '/schedules', { body: { interval_ms: 1000, catch_up: 'once', job: { kind: 'echo' } } });
      const id = made.body.schedule_id;
      await waitFor(async () => ((await a.request('GET', `/schedules/${id}`)).body.runs_enqueued >= 1 ? true : undefined), 10_000);
      let out = '';
      locker.stdout.on('data', (chunk) => (out += chunk));
      locker.stdin.write(".timeout 10000\nBEGIN EXCLUSIVE;\nSELECT 'locked';\n");
      await waitFor(() => (out.includes('locked') ? true : undefined), 10_000, 'sqlite3 to take the lock');
      const before = (await a.request('GET', `/schedules/${id}`)).body.runs_enqueued;
      await waitFor(() => (a.output().includes('looking for due schedules failed') ? true : undefined), 20_000, 'the failed look in the log');
      locker.stdin.end('COMMIT;\n.quit\n');
      await new Promise((resolve) => locker.once('exit', resolve));
      const after = await waitFor(async () => {
        const schedule = (await a.request('GET', `/schedules/${id}`)).body;
        return schedule.runs_enqueued > before && schedule.runs_skipped > 0 ? schedule : undefined;
      }, 10_000, 'a run after the lock');
      assert.deepEqual([a.child.exitCode, b.child.exitCode], [null, null], 'the servers still run');
      // Missed by less than the 60 s grace: caught up as one run (catch_up once), the rest counted as skipped.
      assert.ok(after.runs_enqueued - before <= 2, `runs after the lock: ${after.runs_enqueued - before}`);
      assert.ok(after.runs_skipped >= 8, `skipped while locked: ${after.runs_skipped}`);
    } finally {
      locker.kill('SIGKILL');
    }
  });
});
