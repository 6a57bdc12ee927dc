// Flow control through real HTTP and real worker threads: --limit, --group-limit and --rate observed by counting
// running jobs and start times, round-robin fairness across group keys with a skewed backlog, limits held by two
// processes on one SQLite file, and the hostile inputs (group_key bounds, bad flags).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, parseConfig } from '../src/config.js';
import { createEngine } from '../src/engine/engine.js';
import { openSqliteJobStore } from '../src/engine/sqlite/sqlite-job-store.js';
import { fixturePath, MAIN_JS, makeTempDir, spawnServer, startTestServer, waitFor, type TestServer } from './helpers.js';

const WAITS = ['--job', `waits=${fixturePath('waits-for-file')}`];

/** Posts `n` jobs of kind waits; returns their ids. */
async function postWaits(server: Pick<TestServer, 'request'>, n: number, payload: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await server.request('POST', '/jobs', { body: { kind: 'waits', payload, ...extra } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    ids.push(res.body.job_id);
  }
  return ids;
}

async function running(server: Pick<TestServer, 'request'>): Promise<Array<{ group_key: string | null }>> {
  return (await server.request('GET', '/jobs?status=running&kind=waits&limit=100')).body.jobs;
}

/** Samples the running jobs for `ms`; returns the most seen at once, overall and per group key. */
async function sampleRunning(server: Pick<TestServer, 'request'>, ms: number) {
  let most = 0;
  const perKey = new Map<string, number>();
  for (const deadline = Date.now() + ms; Date.now() < deadline; ) {
    const jobs = await running(server);
    most = Math.max(most, jobs.length);
    const counts = new Map<string, number>();
    for (const job of jobs) if (job.group_key) counts.set(job.group_key, (counts.get(job.group_key) ?? 0) + 1);
    for (const [key, n] of counts) perKey.set(key, Math.max(perKey.get(key) ?? 0, n));
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { most, perKey };
}

const startLog = (path: string) => readFileSync(path, 'utf8').trim().split('\n').map((line) => {
  const [tag, at, id] = line.split(' ');
  return { tag: tag!, at: Number(at), id: id! };
});

describe('flow control over HTTP', () => {
  test('--limit KIND=N: never more than N running, the rest wait; /stats, the metrics and the job documents show it', async () => {
    const dir = makeTempDir();
    const server = await startTestServer({ args: [...WAITS, '--threads', '4', '--limit', 'waits=2'] });
    const release = join(dir, 'release');
    const ids = await postWaits(server, 6, { release });
    await waitFor(async () => ((await running(server)).length === 2 ? true : undefined), 10_000, 'two running');
    const { most } = await sampleRunning(server, 400);
    assert.equal(most, 2, 'four threads, a limit of 2');
    const stats = (await server.request('GET', '/stats')).body;
    assert.deepEqual(stats.limits.kinds, [{ kind: 'waits', concurrency: 2, rate: null, running: 2 }]);
    const metrics = (await server.request('GET', '/metrics')).text;
    assert.match(metrics, /offload_limit_waits_total\{kind="waits",limit="concurrency"\} [1-9]/);
    assert.match(metrics, /offload_limit_running\{kind="waits",bound="limit"\} 2/);
    // Held jobs are not polled for every millisecond: with nothing ending, about one claim per poll (200 ms here).
    const waits = async () => Number(/offload_limit_waits_total\{kind="waits",limit="concurrency"\} (\d+)/.exec((await server.request('GET', '/metrics')).text)![1]);
    const before = await waits();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const claims = (await waits()) - before;
    assert.ok(claims <= 10, `${claims} claims held back in 1 s`);
    writeFileSync(release, '');
    for (const id of ids) assert.equal((await server.waitForJob(id)).status, 'succeeded');
  });

  test('--group-limit N: at most N running per group_key, other keys and jobs without a key go on', async () => {
    const dir = makeTempDir();
    const server = await startTestServer({ args: [...WAITS, '--threads', '4', '--group-limit', '1'] });
    const release = join(dir, 'release');
    const ids = [
      ...(await postWaits(server, 3, { release }, { group_key: 'tenant-a' })),
      ...(await postWaits(server, 3, { release }, { group_key: 'tenant-b' })),
      ...(await postWaits(server, 1, { release })),
    ];
    await waitFor(async () => ((await running(server)).length === 3 ? true : undefined), 10_000, 'three running');
    const { most, perKey } = await sampleRunning(server, 400);
    assert.equal(most, 3, 'one of each key and the job without one, though a thread is free');
    assert.deepEqual([...perKey.entries()].sort(), [['tenant-a', 1], ['tenant-b', 1]]);
    const stats = (await server.request('GET', '/stats')).body;
    assert.deepEqual(stats.limits.groups, { concurrency: 1, rate: null });
    assert.deepEqual(stats.limits.running_by_group, [{ group_key: 'tenant-a', running: 1 }, { group_key: 'tenant-b', running: 1 }]);
    assert.equal((await server.request('GET', `/jobs/${ids[0]}`)).body.group_key, 'tenant-a');
    writeFileSync(release, '');
    for (const id of ids) assert.equal((await server.waitForJob(id)).status, 'succeeded');
  });

  test('round-robin across keys: with 200 jobs of key A queued first, B and C (10 each) start long before A drains', async () => {
    const dir = makeTempDir();
    const server = await startTestServer({ args: [...WAITS, '--threads', '2'] });
    const log = join(dir, 'starts.log');
    const release = join(dir, 'release');
    // Two blockers hold both threads while the backlog is queued, so that every job is pending when claiming starts.
    const blockers = await postWaits(server, 2, { release, tag: 'blocker', log });
    await waitFor(async () => ((await running(server)).length === 2 ? true : undefined), 10_000, 'the blockers running');
    const posted: string[] = [];
    for (const [key, n] of [['A', 200], ['B', 10], ['C', 10]] as const) posted.push(...(await postWaits(server, n, { tag: key, log }, { group_key: key })));
    writeFileSync(release, '');
    for (const id of [...blockers, ...posted]) assert.equal((await server.waitForJob(id, undefined, 60_000)).status, 'succeeded');
    const order = startLog(log).filter((start) => start.tag !== 'blocker').map((start) => start.tag);
    const lastOf = (tag: string) => order.lastIndexOf(tag);
    assert.equal(order.length, 220);
    // First come, first served would start B and C after all 200 of A (positions 200-219).
    assert.ok(lastOf('B') < 40 && lastOf('C') < 40, `B and C ended at ${lastOf('B')} and ${lastOf('C')} of 220: ${order.slice(0, 40).join('')}`);
    const firstThirty = order.slice(0, 30);
    for (const tag of ['A', 'B', 'C']) {
      const n = firstThirty.filter((t) => t === tag).length;
      assert.ok(n >= 8 && n <= 12, `${tag} had ${n} of the first 30 starts: ${firstThirty.join('')}`);
    }
  });

  test('--rate KIND=N/DURATION: at most N starts in any window of that length', async () => {
    const server = await startTestServer({ args: [...WAITS, '--threads', '4', '--rate', 'waits=3/300ms'] });
    const ids = await postWaits(server, 9, {});
    const starts: number[] = [];
    for (const id of ids) {
      const job = await server.waitForJob(id);
      assert.equal(job.status, 'succeeded');
      starts.push(Date.parse(job.started_at));
    }
    starts.sort((a, b) => a - b);
    // The claim's time, as the limit counts it (a thread's own clock would add its start-up time).
    for (let i = 3; i < starts.length; i++) {
      assert.ok(starts[i]! - starts[i - 3]! >= 300, `starts ${i - 3} and ${i} only ${starts[i]! - starts[i - 3]!} ms apart: ${starts.join(', ')}`);
    }
    assert.ok(starts.at(-1)! - starts[0]! >= 600, 'nine starts at three per 300 ms span two windows at least');
    assert.match((await server.request('GET', '/metrics')).text, /offload_limit_waits_total\{kind="waits",limit="rate"\} [1-9]/);
  });

  test('two processes on one SQLite file hold one --limit between them', async () => {
    const dataDir = makeTempDir();
    const release = join(makeTempDir(), 'release');
    const args = [...WAITS, '--limit', 'waits=2', '--threads', '3'];
    const [one, two] = [await spawnServer(dataDir, args), await spawnServer(dataDir, args)];
    try {
      const ids = [...(await postWaits(one, 4, { release })), ...(await postWaits(two, 4, { release }))];
      await waitFor(async () => ((await running(one)).length === 2 ? true : undefined), 10_000, 'two running');
      const { most } = await sampleRunning(two, 1500);
      assert.equal(most, 2, 'six threads in two processes, one limit of 2');
      writeFileSync(release, '');
      await waitFor(async () => {
        const done = await Promise.all(ids.map(async (id) => (await one.request('GET', `/jobs/${id}`)).body.status));
        return done.every((status) => status === 'succeeded') ? true : undefined;
      }, 20_000, 'every job to succeed');
    } finally {
      one.child.kill('SIGTERM');
      two.child.kill('SIGTERM');
      await Promise.all([one.exited, two.exited]);
    }
  });

  test('group_key: bounds and charset are checked (400 invalid_request), and it is kept in the idempotency hash', async () => {
    const server = await startTestServer({ args: WAITS });
    for (const group_key of ['', 'x'.repeat(129), 'a b', 'tenant\n', 'é', 7, null]) {
      const res = await server.request('POST', '/jobs', { body: { kind: 'waits', group_key } });
      assert.equal(res.status, 400, JSON.stringify(group_key));
      assert.equal(res.body.error.code, 'invalid_request');
      assert.equal(res.body.error.details[0].path, 'group_key');
    }
    const ok = await server.request('POST', '/jobs', { body: { kind: 'waits', group_key: 'org:42/team_a.b~c+d=e@f-' + 'x'.repeat(104) } });
    assert.equal(ok.status, 202);
    const headers = { 'Idempotency-Key': 'flow-1' };
    assert.equal((await server.request('POST', '/jobs', { headers, body: { kind: 'waits', group_key: 'a' } })).status, 202);
    assert.equal((await server.request('POST', '/jobs', { headers, body: { kind: 'waits', group_key: 'b' } })).status, 409);
  });
});

describe('flow-control options of the engine', () => {
  test('each limit is checked with a message naming it; a bad groupKey is refused at enqueue', async () => {
    const dataDir = makeTempDir();
    const cases: Array<[object, string]> = [
      [{ kinds: { export: { concurrency: 0 } } }, 'options.flow.kinds.export.concurrency must be a positive integer'],
      [{ kinds: { export: { rate: { count: 1.5, intervalMs: 10 } } } }, 'options.flow.kinds.export.rate.count must be a positive integer'],
      [{ groups: { rate: { count: 1, intervalMs: 86_400_001 } } }, 'options.flow.groups.rate.intervalMs must be at most 86400000'],
      [{ groups: { concurrency: -1 } }, 'options.flow.groups.concurrency must be a positive integer'],
    ];
    const unused = openSqliteJobStore(dataDir);
    for (const [flow, message] of cases) assert.throws(() => createEngine({ dataDir, store: unused, flow }), { name: 'EngineError', message });
    await unused.close();
    const engine = createEngine({ dataDir, store: openSqliteJobStore(dataDir) }).register('waits', fixturePath('waits-for-file'));
    try {
      for (const groupKey of ['', 'a b', 'x'.repeat(129), 42 as unknown as string]) {
        await assert.rejects(engine.enqueue({ kind: 'waits', payload: {}, groupKey }), {
          name: 'EngineError', message: "A job's groupKey must be 1 to 128 letters, digits or . _ ~ : @ / + = -",
        });
      }
      assert.equal((await engine.enqueue({ kind: 'waits', payload: {}, groupKey: 'tenant-1' })).job.groupKey, 'tenant-1');
    } finally {
      await engine.close();
    }
  });
});

describe('flow-control flags', () => {
  test('bad values are refused with exact messages; the variables work like the flags', () => {
    const cases: Array<[string[], string]> = [
      [['--limit', 'waits'], '--limit must look like KIND=N (e.g. export=2), got "waits"'],
      [['--limit', 'waits=0'], '--limit waits=0: a limit of 0 would never run a job; the least is 1'],
      [['--limit', 'waits=-1'], '--limit must be an integer from 1 to 1000000, got "waits=-1"'],
      [['--limit', 'waits=2.5'], '--limit must be an integer from 1 to 1000000, got "waits=2.5"'],
      [['--limit', 'waits=1000001'], '--limit must be an integer from 1 to 1000000, got "waits=1000001"'],
      [['--limit', 'nope=2'], '--limit nope: no such job kind (kinds: export, import, sleep, waits)'],
      [['--limit', 'waits=2', '--limit', 'waits=3'], '--limit waits is given twice'],
      [['--rate', 'waits=10'], '--rate must be N/DURATION such as 10/1s, 100/1m or 1000/1h, got "waits=10"'],
      [['--rate', 'waits=10/soon'], '--rate must be N/DURATION such as 10/1s, 100/1m or 1000/1h, got "waits=10/soon"'],
      [['--rate', 'waits=10/2d'], '--rate waits=10/2d: the interval must be from 1ms to 1d'],
      [['--rate', 'waits=0/1s'], '--rate waits=0/1s: a limit of 0 would never run a job; the least is 1'],
      [['--group-limit', 'x'], '--group-limit must be an integer from 1 to 1000000, got "x"'],
      [['--group-limit', '0'], '--group-limit 0: a limit of 0 would never run a job; the least is 1'],
      [['--group-rate', '5'], '--group-rate must be N/DURATION such as 10/1s, 100/1m or 1000/1h, got "5"'],
    ];
    for (const [args, message] of cases) {
      assert.throws(() => parseConfig([...WAITS, ...args], {}), (err: unknown) => err instanceof ConfigError && err.message === message, args.join(' '));
    }
    const config = parseConfig(WAITS, { OFFLOAD_LIMITS: 'waits=2,export=1', OFFLOAD_RATES: 'waits=10/1m', OFFLOAD_GROUP_LIMIT: '3', OFFLOAD_GROUP_RATE: '5/1s' });
    assert.deepEqual(config.flow, {
      kinds: { waits: { concurrency: 2, rate: { count: 10, intervalMs: 60_000 } }, export: { concurrency: 1 } },
      groups: { concurrency: 3, rate: { count: 5, intervalMs: 1000 } },
    });
    assert.deepEqual(parseConfig([], {}).flow, { kinds: {} });
  });

  test('offload serve exits 2 on a bad --limit, with the message and no stack', () => {
    const result = spawnSync(process.execPath, [MAIN_JS, 'serve', '--port', '0', '--data-dir', makeTempDir(), '--limit', 'export=0'], { encoding: 'utf8' });
    assert.equal(result.status, 2);
    assert.match(result.stderr, /--limit export=0: a limit of 0 would never run a job; the least is 1/);
    assert.doesNotMatch(result.stderr, /\n\s+at /);
  });
});
