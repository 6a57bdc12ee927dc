import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { parseConfig } from '../src/config.js';
import type { EngineOptions } from '../src/engine/engine.js';
import { startServer, type RunningServer } from '../src/server.js';
import { startPostgres, type PostgresCluster } from './pg-harness.js';

export const FIXTURE_KINDS = [
  'noop', 'echo', 'throws', 'throws-retryable', 'throws-non-error', 'exits', 'oom', 'hang', 'timer-throws',
  'uncloneable', 'slow-progress', 'reads-missing', 'chaos-work', 'blocks-native', 'kills-process', 'external-hog',
] as const;

export function fixturePath(kind: string): string {
  return fileURLToPath(new URL(`./fixtures/${kind}.js`, import.meta.url));
}

export const MAIN_JS = fileURLToPath(new URL('../src/main.js', import.meta.url));
/** The checkout's root (dist/test/ is two levels below it). */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

const tempDirs: string[] = [];
const servers = new Set<TestServer>();
const children = new Set<ChildProcess>();

/** A fresh temporary directory, removed when the test file ends. */
export function makeTempDir(prefix = 'offload-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

let postgresCluster: Promise<PostgresCluster> | undefined;
let postgresDatabases = 0;

/** A fresh, empty database on this test process's PostgreSQL server (started at the first call, stopped at the end). */
export async function createPostgresDatabase(): Promise<string> {
  postgresCluster ??= startPostgres();
  return (await postgresCluster).createDatabase(`test_${process.pid}_${++postgresDatabases}`);
}

/**
 * OFFLOAD_TEST_STORE=postgres runs every startTestServer of the process on the PostgreSQL store, each on a fresh
 * database (test/acceptance-pg.test.ts runs the API suites that way).
 */
async function testStoreArgs(): Promise<string[]> {
  return process.env.OFFLOAD_TEST_STORE === 'postgres' ? ['--store', await createPostgresDatabase()] : [];
}

// Whatever a test file started is stopped when it ends, even if the test failed before its own cleanup.
after(async () => {
  await Promise.all([...servers].map((s) => s.close()));
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (postgresCluster) (await postgresCluster).stop();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

export interface TestServer {
  url: string;
  dataDir: string;
  /** The `--store` flag of its store (none for SQLite): another process given these and dataDir shares its jobs. */
  storeArgs: string[];
  engine: RunningServer['engine'];
  /** The composed engine, datasets, exports and app the server runs. */
  offload: RunningServer['offload'];
  request(method: string, path: string, options?: RequestOptions): Promise<TestResponse>;
  /** Polls GET /jobs/{id} until `done(job)` holds, failing after `timeoutMs`. */
  waitForJob(id: string, done?: (job: any) => boolean, timeoutMs?: number): Promise<any>;
  close(): Promise<void>;
}

export interface RequestOptions {
  body?: unknown;
  /** Sent as is (a string) instead of JSON. */
  rawBody?: string | Buffer;
  headers?: Record<string, string>;
}

export interface TestResponse {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

const finished = (job: any) => ['succeeded', 'failed', 'cancelled'].includes(job.status);

/** The real server, in this process: temporary data directory, real SQLite file, real worker threads, port 0. */
export async function startTestServer(
  { args = [], engine = {}, dataDir = makeTempDir() }: { args?: string[]; engine?: Partial<EngineOptions>; dataDir?: string } = {},
): Promise<TestServer> {
  const storeArgs = await testStoreArgs();
  const config = parseConfig(
    ['--port', '0', '--data-dir', dataDir, '--threads', '2', '--retry-base-ms', '20', '--shutdown-grace', '2',
      ...FIXTURE_KINDS.flatMap((kind) => ['--job', `${kind}=${fixturePath(kind)}`]), ...storeArgs, ...args],
    {},
  );
  const logger = pino({ level: process.env.OFFLOAD_TEST_LOG ?? 'silent' });
  const running = await startServer(config, logger, { pollIntervalMs: 200, ...engine });
  const server: TestServer = {
    url: running.url,
    dataDir,
    storeArgs,
    engine: running.engine,
    offload: running.offload,
    request: (method, path, options) => request(running.url, method, path, options),
    waitForJob: (id, done = finished, timeoutMs = 20_000) =>
      waitFor(async () => {
        const res = await request(running.url, 'GET', `/jobs/${id}`);
        return done(res.body) ? res.body : undefined;
      }, timeoutMs, `job ${id} to reach the expected state`),
    async close() {
      servers.delete(server);
      await running.close();
    },
  };
  servers.add(server);
  return server;
}

export async function request(baseUrl: string, method: string, path: string, options: RequestOptions = {}): Promise<TestResponse> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | Buffer | undefined;
  if (options.rawBody !== undefined) body = options.rawBody;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(baseUrl + path, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  if (res.headers.get('content-type')?.includes('application/json')) parsed = JSON.parse(text);
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/** Calls `probe` until it returns something other than undefined; never a fixed sleep. */
export async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}


export interface WatchedChild {
  child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (or signal) once the process has ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts a process whose output is collected, and which is killed when the test file ends if still running. */
export function spawnWatched(command: string, args: string[], options: SpawnOptions = {}): WatchedChild {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  child.stdout!.on('data', (chunk) => (out += chunk));
  child.stderr!.on('data', (chunk) => (out += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => out, exited };
}

/** Waits for the `listening` log line of a server process and returns its URL. */
export function listeningUrl(watched: WatchedChild, timeoutMs = 15_000): Promise<string> {
  return waitFor(() => {
    if (watched.child.exitCode !== null) throw new Error(`server exited early (${watched.child.exitCode}):\n${watched.output()}`);
    const line = watched.output().split('\n').find((l) => l.includes('"msg":"listening"'));
    return line ? (JSON.parse(line).url as string) : undefined;
  }, timeoutMs, 'the server to listen');
}

export interface ChildServer extends WatchedChild {
  url: string;
  request(method: string, path: string, options?: RequestOptions): Promise<TestResponse>;
}

/** `offload serve` as a child process (for SIGKILL and SIGTERM tests); resolves once it listens. */
export async function spawnServer(dataDir: string, args: string[] = []): Promise<ChildServer> {
  const watched = spawnWatched(process.execPath, [
    MAIN_JS, 'serve', '--port', '0', '--data-dir', dataDir, '--threads', '2', '--retry-base-ms', '20', '--log-level', 'info',
    ...FIXTURE_KINDS.flatMap((kind) => ['--job', `${kind}=${fixturePath(kind)}`]), ...args,
  ]);
  const url = await listeningUrl(watched);
  return { ...watched, url, request: (m, p, o) => request(url, m, p, o) };
}
