// A process killed with SIGKILL loses no accepted job and leaves none running; SIGTERM hands running jobs back.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { makeTempDir, spawnServer, waitFor } from './helpers.js';

const LEASE_MS = 2000;

test('SIGKILL: every accepted job survives, none stays running, orphans are retried or failed lost', async () => {
  const dataDir = makeTempDir();
  const first = await spawnServer(dataDir, ['--lease-ms', String(LEASE_MS), '--threads', '2']);
  const post = async (body: object) => {
    const res = await first.request('POST', '/jobs', { body });
    assert.equal(res.status, 202);
    return res.body.job_id as string;
  };
  // Two long jobs take both threads: one may be retried, the other has no attempt left.
  const retryable = await post({ kind: 'slow-progress', payload: { steps: 10, stepMs: 100 }, max_attempts: 3 });
  const lastAttempt = await post({ kind: 'slow-progress', payload: { steps: 200, stepMs: 100 }, max_attempts: 1 });
  await waitFor(async () => {
    const states = await Promise.all([retryable, lastAttempt].map((id) => first.request('GET', `/jobs/${id}`)));
    return states.every((s) => s.body.status === 'running') ? true : undefined;
  }, 10_000, 'both long jobs to run');
  const pending = [];
  for (let i = 0; i < 5; i++) pending.push(await post({ kind: 'echo', payload: { i } }));
  // The last 202 comes right before the kill: its row must be there afterwards.
  const lastAccepted = await post({ kind: 'echo', payload: { last: true } });
  first.child.kill('SIGKILL');
  const exit = await first.exited;
  assert.equal(exit.signal, 'SIGKILL');

  // On disk, between the two processes: every accepted job is there; the two killed mid-run still say running.
  const rows = readJobRows(dataDir);
  for (const id of [retryable, lastAttempt, ...pending, lastAccepted]) assert.ok(rows.has(id), `job ${id} is in the table`);
  assert.equal(rows.get(retryable)!.status, 'running');
  assert.equal(rows.get(lastAccepted)!.status, 'pending');

  const restartedAt = Date.now();
  const second = await spawnServer(dataDir, ['--lease-ms', String(LEASE_MS), '--threads', '2']);
  try {
    const all = [retryable, lastAttempt, ...pending, lastAccepted];
    const final = await waitFor(async () => {
      const jobs = await Promise.all(all.map(async (id) => (await second.request('GET', `/jobs/${id}`)).body));
      return jobs.every((j) => ['succeeded', 'failed'].includes(j.status)) ? jobs : undefined;
    }, LEASE_MS + 15_000, 'every job to finish after the restart');
    const byId = new Map(final.map((j) => [j.job_id, j]));

    const retried = byId.get(retryable)!;
    assert.equal(retried.status, 'succeeded');
    assert.equal(retried.attempts, 2, 'the orphan was retried once');

    const lost = byId.get(lastAttempt)!;
    assert.equal(lost.status, 'failed');
    assert.equal(lost.error.code, 'lost');
    assert.equal(lost.attempts, 1);
    // The old owner is provably dead (same host, pid gone): no need to wait for its lease to expire.
    assert.ok(Date.parse(lost.finished_at) - restartedAt < LEASE_MS + 3000, 'recovered within lease + a few seconds');

    for (const id of [...pending, lastAccepted]) assert.equal(byId.get(id)!.status, 'succeeded');
    assert.deepEqual(byId.get(lastAccepted)!.result.payload, { last: true });
    const running = await second.request('GET', '/jobs?status=running');
    assert.equal(running.body.jobs.length, 0);
  } finally {
    second.child.kill('SIGTERM');
    await second.exited;
  }
});

test('SIGTERM: the process exits within the grace, the running job returns to pending without counting an attempt, and completes after restart', async () => {
  const dataDir = makeTempDir();
  const graceS = 1;
  const first = await spawnServer(dataDir, ['--shutdown-grace', String(graceS), '--threads', '1']);
  const created = await first.request('POST', '/jobs', { body: { kind: 'slow-progress', payload: { steps: 60, stepMs: 100 } } });
  const id = created.body.job_id;
  await waitFor(async () => ((await first.request('GET', `/jobs/${id}`)).body.status === 'running' ? true : undefined), 10_000, 'the job to run');
  const signalledAt = Date.now();
  first.child.kill('SIGTERM');
  const exit = await first.exited;
  const tookMs = Date.now() - signalledAt;
  assert.equal(exit.code, 0, first.output());
  assert.ok(tookMs < graceS * 1000 + 3000, `exited after ${tookMs} ms`);
  assert.ok(tookMs >= graceS * 1000 - 100, 'running jobs were given the grace period');

  const onDisk = readJobRows(dataDir).get(id)!;
  assert.deepEqual(onDisk, { status: 'pending', attempts: 0, owner: null });

  const second = await spawnServer(dataDir, ['--threads', '1']);
  try {
    const before = (await second.request('GET', `/jobs/${id}`)).body;
    assert.ok(['pending', 'running'].includes(before.status));
    const done = await waitFor(async () => {
      const job = (await second.request('GET', `/jobs/${id}`)).body;
      return job.status === 'succeeded' ? job : undefined;
    }, 20_000, 'the job to complete after restart');
    assert.equal(done.attempts, 1, 'the interrupted attempt was not counted');
  } finally {
    second.child.kill('SIGTERM');
    await second.exited;
  }
});

test('SIGTERM with nothing running exits at once', async () => {
  const server = await spawnServer(makeTempDir(), ['--shutdown-grace', '10']);
  const signalledAt = Date.now();
  server.child.kill('SIGTERM');
  assert.equal((await server.exited).code, 0);
  assert.ok(Date.now() - signalledAt < 3000);
});

function readJobRows(dataDir: string): Map<string, { status: string; attempts: number; owner: string | null }> {
  const db = new Database(join(dataDir, 'jobs.db'), { readonly: true });
  try {
    const rows = db.prepare('SELECT id, status, attempts, owner FROM jobs').all() as Array<{ id: string; status: string; attempts: number; owner: string | null }>;
    return new Map(rows.map(({ id, ...rest }) => [id, rest]));
  } finally {
    db.close();
  }
}
