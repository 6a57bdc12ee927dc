// Servers in child processes: offload itself (dist/src/main.js serve) and the reference servers in
// bench/reference/. Each writes JSON log lines to a file (as `offload serve` would to a redirected stdout); the
// line with "msg":"listening" gives the URL.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { MAIN_JS } from './paths.js';
import { sleep, waitFor } from './stats.js';

// A bench that fails or is interrupted half-way must not leave servers behind.
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export interface ChildServer {
  url: string;
  pid: number;
  child: ChildProcess;
  logFile: string;
  /** Settles when the process is gone. */
  exited: Promise<void>;
  /** SIGTERM, then SIGKILL if it is still there after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
}

export interface SpawnOptions {
  logFile: string;
  nodeArgs?: string[];
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** `offload serve` with the given flags (add --data-dir etc.); listens on a free port. */
export function spawnOffload(flags: string[], options: SpawnOptions): Promise<ChildServer> {
  return spawnServer([MAIN_JS, 'serve', '--port', '0', ...flags], options);
}

export async function spawnServer(args: string[], { logFile, nodeArgs = [], env, timeoutMs = 60_000 }: SpawnOptions): Promise<ChildServer> {
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [...nodeArgs, ...args], {
      stdio: ['ignore', fd, fd],
      env: { ...process.env, ...env },
    });
  } finally {
    closeSync(fd);
  }
  live.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => live.delete(child));
  let gone = false;
  void exited.then(() => (gone = true));
  const url = await waitFor(
    `the server to listen (log: ${logFile})`,
    () => {
      if (gone) throw new Error(`the server exited before listening:\n${tail(logFile)}`);
      return findListening(logFile);
    },
    { timeoutMs, intervalMs: 10 },
  ).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
  const kill = async () => {
    if (!gone) child.kill('SIGKILL');
    await exited;
  };
  return {
    url,
    pid: child.pid!,
    child,
    logFile,
    exited,
    kill,
    async stop(graceMs = 5000) {
      if (gone) return;
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(graceMs)]);
      await kill();
    },
  };
}

function findListening(logFile: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    if (!line.includes('"listening"')) continue;
    try {
      const entry = JSON.parse(line) as { msg?: string; url?: string };
      if (entry.msg === 'listening' && entry.url) return entry.url;
    } catch {
      // a line still being written
    }
  }
  return undefined;
}

export function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Peak and current resident set size of a process, MB, from /proc (Linux); undefined elsewhere. */
export function readRss(pid: number): { peakMb: number; currentMb: number } | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { peakMb: kb('VmHWM') / 1024, currentMb: kb('VmRSS') / 1024 };
}
