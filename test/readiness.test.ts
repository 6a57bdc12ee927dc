// GET /readyz as a report of real checks, and the zombie threads a native call leaves behind after a timeout.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { makeTempDir, startTestServer, waitFor, type TestResponse, type TestServer } from './helpers.js';

const lockHolders = new Set<ChildProcessWithoutNullStreams>();
after(() => {
  for (const child of lockHolders) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function zombieGauge(metrics: string): number {
  const match = /^offload_zombie_threads (\S+)$/m.exec(metrics);
  assert.ok(match, 'offload_zombie_threads is exported');
  return Number(match[1]);
}

async function scrapeZombies(server: TestServer): Promise<number> {
  const res = await server.request('GET', '/metrics');
  assert.equal(res.status, 200);
  return zombieGauge(res.text);
}

function checkOf(res: TestResponse, name: string): { name: string; ok: boolean; message?: string } {
  const checks = res.status === 200 ? res.body.checks : res.body.error?.details?.checks;
  assert.ok(Array.isArray(checks), `the answer lists its checks: ${res.text}`);
  const check = checks.find((c: { name: string }) => c.name === name);
  assert.ok(check, `a ${name} check: ${res.text}`);
  return check;
}

function assertReady(res: TestResponse): void {
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.status, 'ready');
  assert.deepEqual(res.body.checks, [
    { name: 'database', ok: true },
    { name: 'pool', ok: true },
    { name: 'threads', ok: true },
  ]);
}

function assertNotReady(res: TestResponse, failing: string, status: 'degraded' | 'unavailable'): void {
  assert.equal(res.status, 503, res.text);
  assert.equal(res.body.error.code, 'unavailable');
  assert.equal(res.body.error.details.status, status);
  const check = checkOf(res, failing);
  assert.equal(check.ok, false);
  assert.ok(check.message && check.message.length > 0, 'a failed check says why');
  assert.ok(res.body.error.message.includes(failing), `the message names ${failing}: ${res.body.error.message}`);
}

/** Runs `sqlite3 <file>` holding BEGIN EXCLUSIVE until release() (stdin stays open meanwhile). */
async function holdWriteLock(file: string): Promise<{ release(): Promise<void> }> {
  const child = spawn('sqlite3', [file], { stdio: ['pipe', 'pipe', 'pipe'] });
  lockHolders.add(child);
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  child.stderr.on('data', (chunk) => (out += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stdin.write(".timeout 5000\nBEGIN EXCLUSIVE;\nSELECT 'locked';\n");
  await waitFor(() => {
    if (child.exitCode !== null) throw new Error(`sqlite3 exited early: ${out}`);
    return out.includes('locked') ? true : undefined;
  }, 10_000, 'sqlite3 to hold the write lock');
  return {
    async release() {
      child.stdin.end('ROLLBACK;\n');
      await exited;
    },
  };
}

describe('GET /readyz', () => {
  test('200 with every check passed', async () => {
    const server = await startTestServer();
    try {
      const res = await server.request('GET', '/readyz');
      assertReady(res);
      assert.equal(res.body.threads, 2);
      assert.equal(server.engine.stats().zombieThreads, 0);
      assert.deepEqual(await server.engine.readiness(), { ready: true, checks: res.body.checks });
    } finally {
      await server.close();
    }
  });

  test('503 naming the database within ~2 s while another process holds the write lock, 200 once it is released', async () => {
    const server = await startTestServer();
    try {
      assertReady(await server.request('GET', '/readyz'));
      const lock = await holdWriteLock(join(server.dataDir, 'jobs.db'));
      let released = false;
      try {
        const started = Date.now();
        const res = await server.request('GET', '/readyz');
        const elapsed = Date.now() - started;
        assertNotReady(res, 'database', 'unavailable');
        assert.ok(elapsed < 2_000, `answered in ${elapsed} ms`);
        // The event loop was not blocked meanwhile: /healthz answers at once.
        const healthStarted = Date.now();
        const health = await Promise.all([server.request('GET', '/readyz'), server.request('GET', '/healthz')]);
        assert.equal(health[1].status, 200);
        assert.equal(health[0].status, 503);
        assert.ok(Date.now() - healthStarted < 2_000);
        await lock.release();
        released = true;
      } finally {
        if (!released) await lock.release();
      }
      await waitFor(async () => {
        const res = await server.request('GET', '/readyz');
        return res.status === 200 ? res : undefined;
      }, 5_000, '/readyz to answer 200 again');
      assertReady(await server.request('GET', '/readyz'));
    } finally {
      await server.close();
    }
  });

  test('503 naming the database while the disk is full, 200 once there is room again', async (t) => {
    // A small tmpfs is the only honest full disk; mounting one needs CAP_SYS_ADMIN. Without it there is no test.
    const dataDir = makeTempDir('offload-full-');
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dataDir], { encoding: 'utf8' });
    if (mounted.status !== 0) {
      t.skip(`cannot mount a tmpfs here: ${(mounted.stderr || mounted.error?.message || '').trim()}`);
      return;
    }
    const filler = join(dataDir, 'filler');
    let server: TestServer | undefined;
    try {
      server = await startTestServer({ dataDir });
      assertReady(await server.request('GET', '/readyz'));
      const fd = openSync(filler, 'w');
      try {
        const chunk = Buffer.alloc(64 * 1024, 1);
        for (;;) writeSync(fd, chunk);
      } catch (err) {
        assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
      } finally {
        closeSync(fd);
      }
      const full = await waitFor(async () => {
        const res = await server!.request('GET', '/readyz');
        return res.status === 503 ? res : undefined;
      }, 5_000, '/readyz to fail on the full disk');
      assertNotReady(full, 'database', 'unavailable');
      assert.match(checkOf(full, 'database').message!, /full/i);
      rmSync(filler);
      await waitFor(async () => {
        const res = await server!.request('GET', '/readyz');
        return res.status === 200 ? res : undefined;
      }, 5_000, '/readyz to answer 200 again');
    } finally {
      // Room first: on a full disk close() fails at its first write and leaves the pool running.
      rmSync(filler, { force: true });
      try {
        await server?.close();
      } finally {
        spawnSync('umount', ['--lazy', dataDir]);
      }
    }
  });

  test('a thread stuck in a native call after its timeout is a zombie: gauge ≥ 1 and 503 degraded until it exits', async () => {
    const server = await startTestServer();
    try {
      assert.equal(await scrapeZombies(server), 0);
      // The thread sleeps 7 s in execFileSync: terminate() at the timeout (+ the abort grace) cannot stop it. The
      // timeout leaves the fresh thread time to load the module and reach the call (its progress says it did).
      const created = await server.request('POST', '/jobs', {
        body: { kind: 'blocks-native', payload: { ms: 7_000 }, timeout_ms: 1_500, max_attempts: 1 },
      });
      assert.equal(created.status, 202, created.text);
      await server.waitForJob(created.body.job_id, (j) => j.status === 'running' && j.progress !== null, 1_500);
      const job = await server.waitForJob(created.body.job_id, undefined, 5_000);
      assert.equal(job.error.code, 'timeout');

      const zombies = await waitFor(async () => {
        const n = await scrapeZombies(server);
        return n >= 1 ? n : undefined;
      }, 5_000, 'offload_zombie_threads to count the stuck thread');
      assert.equal(zombies, 1);
      assert.equal(server.engine.stats().zombieThreads, 1);
      const degraded = await server.request('GET', '/readyz');
      assertNotReady(degraded, 'threads', 'degraded');
      assert.deepEqual(checkOf(degraded, 'database'), { name: 'database', ok: true });
      // Piscina replaced the thread: jobs still run meanwhile.
      const noop = await server.request('POST', '/jobs', { body: { kind: 'noop', payload: {} } });
      assert.equal((await server.waitForJob(noop.body.job_id)).status, 'succeeded');

      // Once the native call returns the thread exits, and is no longer counted.
      await waitFor(async () => ((await scrapeZombies(server)) === 0 ? true : undefined), 10_000, 'the zombie to exit');
      assertReady(await server.request('GET', '/readyz'));
      assert.equal(server.engine.stats().zombieThreads, 0);
    } finally {
      await server.close();
    }
  });
});
