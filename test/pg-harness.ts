// A real PostgreSQL server for tests and benchmarks: Debian's postgresql package (`.ci/run` installs it), a cluster
// initdb'd into a temporary directory, listening on a free loopback port and a socket in that directory, stopped
// (`pg_ctl stop -m immediate`) and removed at the end. No mocks: when the binaries are missing this throws, so a
// test that needs PostgreSQL fails loudly instead of being skipped.
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PG_BIN = process.env.OFFLOAD_PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface PostgresCluster {
  /** `postgres://…` of the database created for the caller. */
  url: string;
  port: number;
  /** A `postgres://…` URL of a further, empty database (created now). */
  createDatabase(name: string): string;
  /** Runs one SQL command as the superuser (psql), returning its unaligned output. */
  psql(sql: string, database?: string): string;
  stop(): void;
}

export interface StartPostgresOptions {
  /**
   * false (tests): fsync and synchronous commit off — a crash of the machine is not what the tests check, and
   * they run several times faster. true (benchmarks): the server's defaults, a commit waits for its WAL flush.
   */
  durable?: boolean;
  database?: string;
}

const running = new Set<PostgresCluster>();
let stopsOnExit = false;

/**
 * A process that ends without its after() hooks — an uncaught error, or a signal (a test runner's timeout, ^C) —
 * still stops its servers: pg_ctl daemonises them, so nothing else would. A signal is raised again afterwards.
 */
function stopServersOnExit(): void {
  if (stopsOnExit) return;
  stopsOnExit = true;
  const stopAll = () => {
    for (const cluster of running) cluster.stop();
  };
  process.once('exit', stopAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      stopAll();
      process.kill(process.pid, signal);
    });
  }
}

/**
 * initdb refuses to run as root: then the cluster belongs to an unprivileged user (the package's `postgres`, else
 * `nobody`) and every server command runs as that user through runuser.
 */
function serverUser(): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const users = readFileSync('/etc/passwd', 'utf8').split('\n').map((line) => line.split(':')[0]);
  return users.includes('postgres') ? 'postgres' : 'nobody';
}

function uidsOf(user: string): { uid: number; gid: number } {
  const [uid, gid] = ['-u', '-g'].map((flag) => Number(execFileSync('id', [flag, user], { encoding: 'utf8' }).trim()));
  return { uid: uid!, gid: gid! };
}

function runAs(user: string | undefined, command: string, args: string[]): string {
  const [file, argv] = user ? ['runuser', ['-u', user, '--', command, ...args]] : [command, args];
  const result = spawnSync(file, argv, { encoding: 'utf8', cwd: '/' });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.status ?? result.signal}):\n${result.stdout}\n${result.stderr}`);
  }
  return result.stdout;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function startPostgres({ durable = false, database = 'offload' }: StartPostgresOptions = {}): Promise<PostgresCluster> {
  const initdb = join(PG_BIN, 'initdb');
  if (!existsSync(initdb)) {
    throw new Error(`PostgreSQL is not installed: ${initdb} is missing (apt-get install postgresql; .ci/run does it)`);
  }
  stopServersOnExit();
  const user = serverUser();
  const dir = mkdtempSync(join(tmpdir(), 'offload-pg-'));
  if (user) {
    const { uid, gid } = uidsOf(user);
    chownSync(dir, uid, gid);
  }
  const dataDir = join(dir, 'data');
  runAs(user, initdb, ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-instructions']);
  const port = await freePort();
  const settings = [
    `-c listen_addresses=127.0.0.1`, `-p ${port}`, `-k ${dir}`, `-c max_connections=300`,
    ...(durable ? [] : ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off']),
  ];
  runAs(user, join(PG_BIN, 'pg_ctl'), ['start', '-w', '-t', '60', '-D', dataDir, '-l', join(dir, 'server.log'), '-o', settings.join(' ')]);
  let stopped = false;
  const psql = (sql: string, db = 'postgres') =>
    runAs(user, join(PG_BIN, 'psql'), ['-h', dir, '-p', String(port), '-U', 'postgres', '-d', db, '-v', 'ON_ERROR_STOP=1', '-Atc', sql]);
  const urlOf = (db: string) => `postgres://postgres@127.0.0.1:${port}/${db}`;
  const cluster: PostgresCluster = {
    url: urlOf(database),
    port,
    createDatabase(name) {
      psql(`CREATE DATABASE "${name}"`);
      return urlOf(name);
    },
    psql,
    stop() {
      if (stopped) return;
      stopped = true;
      running.delete(cluster);
      try {
        runAs(user, join(PG_BIN, 'pg_ctl'), ['stop', '-m', 'immediate', '-w', '-D', dataDir]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  running.add(cluster);
  try {
    psql(`CREATE DATABASE "${database}"`);
  } catch (err) {
    cluster.stop();
    throw err;
  }
  return cluster;
}
