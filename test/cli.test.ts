import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
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

describe('start-up failures: one line naming what is wrong, no stack, exit code 1 or 2', () => {
  const STACK_LINE = /^\s+at /m;
  const serve = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [MAIN_JS, 'serve', '--port', '0', ...args], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, ...env } });
  const oneLine = (result: ReturnType<typeof serve>, status: number, pattern: RegExp) => {
    assert.equal(result.status, status, result.stderr);
    assert.match(result.stderr, pattern);
    assert.doesNotMatch(result.stderr, STACK_LINE, 'no stack trace');
    assert.equal(result.stderr.trim().split('\n').length, 1, `one line: ${result.stderr}`);
  };

  test('a port in use names the address', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as AddressInfo;
    try {
      const result = spawnSync(process.execPath, [MAIN_JS, 'serve', '--port', String(port), '--data-dir', makeTempDir()], { encoding: 'utf8', timeout: 20_000 });
      oneLine(result, 1, new RegExp(`^offload: 127\\.0\\.0\\.1:${port} is already in use`));
    } finally {
      holder.close();
    }
  });

  test('an unusable data directory is named', () => {
    const file = join(makeTempDir(), 'a-file');
    writeFileSync(file, 'not a directory');
    oneLine(serve(['--data-dir', join(file, 'data')]), 1, new RegExp(`^offload: the data directory ${join(file, 'data')} cannot be used: `));
    const dir = makeTempDir();
    mkdirSync(join(dir, 'jobs.db')); // the database path is taken by a directory
    oneLine(serve(['--data-dir', dir]), 1, new RegExp(`^offload: the data directory ${dir} cannot be used: .*jobs\\.db`));
  });

  test('a --host that does not resolve is named', () => {
    oneLine(serve(['--host', 'no-such-host.invalid', '--token', 'a-long-enough-token-for-this-test-0001', '--data-dir', makeTempDir()]), 1,
      /^offload: --host "no-such-host\.invalid" .*(not resolve|not an address)/);
  });

  test('--job modules are loaded at start: a syntax error names file and line, a missing default export is refused', () => {
    const dir = makeTempDir();
    writeFileSync(join(dir, 'syntax.mjs'), 'const limit = 1;\nexport default async function job() {\n  return limit +;\n}\n');
    writeFileSync(join(dir, 'no-default.mjs'), 'export const handler = async () => 1;\n');
    writeFileSync(join(dir, 'not-function.mjs'), 'export default { run() {} };\n');
    oneLine(serve(['--data-dir', dir, '--job', `broken=${join(dir, 'syntax.mjs')}`]), 2,
      new RegExp(`^offload: --job broken: ${join(dir, 'syntax.mjs')}:3: SyntaxError: Unexpected token`));
    oneLine(serve(['--data-dir', dir, '--job', `nodefault=${join(dir, 'no-default.mjs')}`]), 2,
      /^offload: --job nodefault: .*no-default\.mjs has no default export \(exports: handler\)/);
    oneLine(serve(['--data-dir', dir, '--job', `object=${join(dir, 'not-function.mjs')}`]), 2,
      /^offload: --job object: .*not-function\.mjs: its default export is an object, not a function/);
    oneLine(serve(['--data-dir', dir, '--job', `missing=${join(dir, 'nope.mjs')}`]), 2, /^offload: --job missing: .*nope\.mjs not found/);
  });

  test('--job: a module that exits its thread while loading is named at once, not taken for a slow one', () => {
    const dir = makeTempDir();
    writeFileSync(join(dir, 'exits.mjs'), 'process.exit(3);\nexport default async () => 1;\n');
    const started = Date.now();
    oneLine(serve(['--data-dir', dir, '--job', `exits=${join(dir, 'exits.mjs')}`]), 2,
      /^offload: --job exits: .*exits\.mjs failed to load: Error: its thread exited with code 3 while loading it/);
    assert.ok(Date.now() - started < 8000, `took ${Date.now() - started} ms (the load timeout is 10 s)`);
  });

  test('--job cannot replace a built-in kind', () => {
    const dir = makeTempDir();
    writeFileSync(join(dir, 'fake-export.mjs'), 'export default async () => ({ stolen: true });\n');
    for (const kind of ['export', 'import']) {
      oneLine(serve(['--data-dir', dir, '--job', `${kind}=${join(dir, 'fake-export.mjs')}`]), 2, new RegExp(`^offload: --job ${kind}: "${kind}" is a built-in kind`));
    }
  });

  test('boolean variables take 1/0, true/false, yes/no, on/off, and nothing else', () => {
    oneLine(serve(['--data-dir', makeTempDir()], { OFFLOAD_ALLOW_INSECURE_BIND: 'sure' }), 2,
      /^offload: OFFLOAD_ALLOW_INSECURE_BIND must be one of 1, 0, true, false, yes, no, on, off; got "sure"/);
    const config = (value: string) => parseConfig(['--host', '0.0.0.0'], { OFFLOAD_ALLOW_INSECURE_BIND: value }).allowInsecureBind;
    for (const yes of ['1', 'true', 'YES', 'on']) assert.equal(config(yes), true, yes);
    for (const no of ['0', 'false', 'No', 'off']) assert.throws(() => config(no), /refusing to listen/, no);
  });

  test('--job-ttl shorter than --result-ttl is refused: an export file is found through its job', () => {
    assert.throws(() => parseConfig(['--job-ttl', '1h', '--result-ttl', '24h'], {}), /--job-ttl \(1h\) must not be shorter than --result-ttl \(24h\)/);
  });

  test('the stack of an unexpected failure is shown at --log-level debug only', () => {
    const file = join(makeTempDir(), 'a-file');
    writeFileSync(file, '');
    const result = serve(['--data-dir', join(file, 'data'), '--log-level', 'debug']);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /^offload: the data directory .* cannot be used: /);
    assert.match(result.stderr, STACK_LINE);
  });

  test('the help gives each default once', () => {
    const help = run('--help').stdout;
    assert.doesNotMatch(help, /\(default [^)]*\) \(default/);
  });
});
