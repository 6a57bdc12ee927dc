import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { ConfigError, parseConfig } from '../src/config.js';
import { MAIN_JS, makeTempDir, spawnServer, waitFor } from './helpers.js';

const run = (...args: string[]) => spawnSync(process.execPath, [MAIN_JS, ...args], { encoding: 'utf8', timeout: 20_000 });
const version = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;

describe('offload command line', () => {
  test('--version prints offload and node versions', () => {
    const result = run('--version');
    assert.equal(result.status, 0);
    assert.equal(result.stdout, `offload ${version} (node ${process.version})\n`);
  });

  test('--help lists every flag with its environment variable', () => {
    const result = run('--help');
    assert.equal(result.status, 0);
    for (const flag of ['--port', '--host', '--data-dir', '--threads', '--worker-memory-mb', '--job', '--token', '--lease-ms',
      '--shutdown-grace', '--max-pending', '--max-upload-mb', '--result-ttl', '--durability']) {
      assert.ok(result.stdout.includes(flag), `help mentions ${flag}`);
    }
    assert.ok(result.stdout.includes('OFFLOAD_DATA_DIR'));
    assert.equal(run('serve', '--help').status, 0);
  });

  test('an unknown command or flag is a usage error with exit code 2', () => {
    const unknownCommand = run('frobnicate');
    assert.equal(unknownCommand.status, 2);
    assert.match(unknownCommand.stderr, /unknown command "frobnicate"/);
    const unknownFlag = run('serve', '--colour', 'red');
    assert.equal(unknownFlag.status, 2);
    assert.match(unknownFlag.stderr, /Unknown option '--colour'/);
  });

  test('binding a non-loopback address without a token is refused at start-up', () => {
    const result = run('serve', '--host', '0.0.0.0', '--port', '0', '--data-dir', makeTempDir());
    assert.equal(result.status, 2);
    assert.match(result.stderr, /refusing to listen on 0\.0\.0\.0 without a token/);
    assert.equal(result.stdout, '', 'nothing was started');
  });

  test('serve logs JSON lines, listens on 127.0.0.1, and registers --job kinds', async () => {
    const server = await spawnServer(makeTempDir());
    try {
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const created = await server.request('POST', '/jobs', { body: { kind: 'echo', payload: {} } });
      assert.equal(created.status, 202);
      for (const line of server.output().trim().split('\n')) JSON.parse(line);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    const jobLines = server.output().split('\n').filter((l) => l.includes('"msg":"job attempt ended"'));
    assert.ok(jobLines.length >= 1);
    assert.ok(jobLines.every((l) => JSON.parse(l).job_id), 'every job line carries the job id');
  });
});

describe('worker priority', () => {
  test('worker threads run at the --worker-nice increment; the main thread keeps its priority', async () => {
    const server = await spawnServer(makeTempDir(), ['--threads', '2', '--worker-nice', '7']);
    try {
      const niceOf = (tid: string) => Number(readFileSync(`/proc/${server.child.pid}/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]);
      // Each worker thread renices itself as it starts, which may be just after the server listens.
      await waitFor(() => {
        const nices = readdirSync(`/proc/${server.child.pid}/task`).map(niceOf);
        return nices.filter((n) => n === 7).length === 2 ? true : undefined;
      }, 10_000, 'two threads at nice 7');
      assert.equal(niceOf(String(server.child.pid)), 0, 'the main thread');
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });
});

describe('parseConfig', () => {
  test('defaults follow SPEC §5', () => {
    const config = parseConfig([], {});
    assert.equal(config.port, 8080);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.dataDir, 'data');
    assert.ok(config.threads >= 1);
    assert.equal(config.workerMemoryMb, 512);
    assert.equal(config.leaseMs, 15_000);
    assert.equal(config.shutdownGraceMs, 10_000);
    assert.equal(config.maxPending, 10_000);
    assert.equal(config.maxUploadMb, 1024);
    assert.equal(config.resultTtlMs, 24 * 3600 * 1000);
    assert.equal(config.durability, 'normal');
    assert.equal(config.store, 'sqlite');
    assert.equal(config.token, undefined);
  });

  test('--store takes sqlite or a PostgreSQL URL, from the flag or OFFLOAD_STORE', () => {
    assert.equal(parseConfig(['--store', 'postgres://u:p@db.internal:5432/offload'], {}).store, 'postgres://u:p@db.internal:5432/offload');
    assert.equal(parseConfig([], { OFFLOAD_STORE: 'postgresql://db/offload' }).store, 'postgresql://db/offload');
    assert.equal(parseConfig(['--store', 'sqlite'], { OFFLOAD_STORE: 'postgres://db/x' }).store, 'sqlite');
    const message = '--store (OFFLOAD_STORE) must be "sqlite" or a PostgreSQL URL such as postgres://user@db.internal:5432/offload';
    for (const bad of ['mysql://db/x', 'postgres', 'http://db/x', 'postgres:///x', 'Sqlite']) {
      assert.throws(() => parseConfig(['--store', bad], {}), (err: unknown) => err instanceof ConfigError && err.message === message, bad);
    }
  });

  test('flags win over OFFLOAD_* variables, which win over defaults', () => {
    const config = parseConfig(['--port', '9000'], { OFFLOAD_PORT: '9100', OFFLOAD_DATA_DIR: '/srv/offload', OFFLOAD_JOBS: 'a=./a.js,b=./b.js' });
    assert.equal(config.port, 9000);
    assert.equal(config.dataDir, '/srv/offload');
    assert.deepEqual(config.jobs, [{ kind: 'a', file: './a.js' }, { kind: 'b', file: './b.js' }]);
    assert.deepEqual(parseConfig(['--job', 'x=/x.js', '--job', 'y=/y.js'], {}).jobs, [{ kind: 'x', file: '/x.js' }, { kind: 'y', file: '/y.js' }]);
  });

  test('bad values get exact messages', () => {
    const cases: Array<[string[], string]> = [
      [['--port', '70000'], '--port (OFFLOAD_PORT) must be an integer from 0 to 65535, got "70000"'],
      [['--threads', '0'], '--threads (OFFLOAD_THREADS) must be an integer from 1 to 1024, got "0"'],
      [['--lease-ms', 'soon'], '--lease-ms (OFFLOAD_LEASE_MS) must be an integer from 100 to 9007199254740991, got "soon"'],
      [['--durability', 'paranoid'], '--durability (OFFLOAD_DURABILITY) must be "normal" or "full", got "paranoid"'],
      [['--result-ttl', 'forever'], '--result-ttl must be a duration such as 90s, 30m, 24h or 7d, got "forever"'],
      [['--job', 'nofile'], '--job must look like KIND=path/to/module.js, got "nofile"'],
    ];
    for (const [args, message] of cases) assert.throws(() => parseConfig(args, {}), (err: unknown) => err instanceof ConfigError && err.message === message);
  });

  test('a non-loopback host needs a token or the explicit escape hatch', () => {
    assert.throws(() => parseConfig(['--host', '0.0.0.0'], {}), ConfigError);
    assert.equal(parseConfig(['--host', '0.0.0.0', '--token', 's3cret'], {}).host, '0.0.0.0');
    assert.equal(parseConfig(['--host', '0.0.0.0', '--allow-insecure-bind'], {}).allowInsecureBind, true);
    assert.equal(parseConfig(['--host', '::1'], {}).host, '::1');
  });
});
