// Constants and small helpers of scripts/node-matrix.mjs (process spawning, locks, paths).
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, lstatSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const TEST_DIR = join(ROOT, 'dist', 'test');
export const NODE_PACKAGE = `node-${process.platform}-${process.arch}`;
export const TEST_ARGS = ['--test', '--test-concurrency=2', '--test-timeout=180000'];
// What the tests read from outside dist/: the version (cli.test) and the README's tables (readme.test).
export const TREE_FILES = ['package.json', 'package-lock.json', 'README.md'];
// Not copied: the single executable and its staging directory (~200 MB, and it embeds a Node of its own).
export const DIST_SKIP = new Set(['offload', 'sea']);
export const NOT_IN_MATRIX = { 'binary.test.js': 'it tests dist/offload, which embeds its own Node whatever the line' };

export class MatrixError extends Error {}

// ── Small helpers ───────────────────────────────────────────────────────────────────────────────────────────────

export const say = (text) => process.stdout.write(`node-matrix: ${text}\n`);
export const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
export const sha256 = (...parts) => parts.reduce((hash, part) => hash.update(part), createHash('sha256')).digest('hex');

/** The environment of everything we start: nothing that changes what Node or npm do behind our back. */
export function cleanEnv(extra = {}) {
  const env = { ...process.env };
  // NODE_OPTIONS could carry --max-old-space-size, which overrides a worker's resourceLimits (nodejs/node#43991).
  delete env.NODE_OPTIONS;
  // Set when this script is run from an npm script (nodedir is the machine Node's headers); the line's own
  // settings are passed explicitly below. Other npm_config_* (a registry mirror, a proxy) are the user's: kept.
  for (const key of Object.keys(env)) {
    if (/^npm_(lifecycle|package)_|^npm_config_(nodedir|build_from_source|ignore_scripts)$/i.test(key)) delete env[key];
  }
  return { ...env, ...extra };
}

/** Runs a short command to completion; throws a MatrixError with its output when it fails. */
export function runSync(file, args, options = {}) {
  const result = spawnSync(file, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 300_000, ...options });
  if (result.error) throw new MatrixError(`${file} ${args.join(' ')}: ${result.error.code === 'ENOENT' ? 'not found' : result.error.message}`);
  if (result.status !== 0) {
    throw new MatrixError(`${file} ${args.join(' ')} failed (${result.signal ?? `exit ${result.status}`}):\n${tail(`${result.stdout}${result.stderr}`, 40)}`);
  }
  return result.stdout;
}

/** Runs a long command; its output is streamed (verbose) or kept and shown only when it fails. */
export function runAsync(file, args, options, { stream }) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(file, args, { ...options, stdio: ['ignore', stream ? 'inherit' : 'pipe', stream ? 'inherit' : 'pipe'] });
    current.child = child;
    let output = '';
    const keep = (chunk) => {
      output = (output + chunk).slice(-256 * 1024);
    };
    child.stdout?.setEncoding('utf8').on('data', keep);
    child.stderr?.setEncoding('utf8').on('data', keep);
    child.on('error', (err) => reject(new MatrixError(`${file}: ${err.code === 'ENOENT' ? 'not found on PATH' : err.message}`)));
    child.on('close', (code, signal) => {
      current.child = undefined;
      if (code === 0) resolvePromise(output);
      else reject(new MatrixError(`${file} ${args.join(' ')} failed (${signal ?? `exit ${code}`})${stream ? '' : `:\n${tail(output, 60)}`}`));
    });
  });
}

export const tail = (text, lines) => text.trimEnd().split('\n').slice(-lines).join('\n');

export function isWritableDir(dir) {
  try {
    if (!existsSync(dir)) return isWritableDir(dirname(dir)) && dirname(dir) !== dir;
    accessSync(dir, constants.W_OK | constants.X_OK);
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

export function chooseCacheDir() {
  if (process.env.OFFLOAD_NODE_MATRIX_DIR) return resolve(process.env.OFFLOAD_NODE_MATRIX_DIR);
  if (isWritableDir('/work/nodes')) return '/work/nodes';
  const xdg = process.env.XDG_CACHE_HOME || (homedir() ? join(homedir(), '.cache') : '');
  if (xdg && isWritableDir(xdg)) return join(xdg, 'offload-node-matrix');
  // A shared temp dir: a name of our own, and only if nobody else made it first.
  const dir = join(tmpdir(), `offload-node-matrix-${process.getuid?.() ?? 'user'}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = lstatSync(dir);
  if (!stat.isDirectory() || (process.getuid && stat.uid !== process.getuid()) || (stat.mode & 0o022) !== 0) {
    throw new MatrixError(`${dir} is not a private directory of this user: set OFFLOAD_NODE_MATRIX_DIR`);
  }
  return dir;
}

/** One run at a time per line directory: a second one would reinstall node_modules under the first. */
export function lock(dir) {
  const path = join(dir, '.lock');
  mkdirSync(dir, { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      mkdirSync(path);
      writeFileSync(join(path, 'pid'), `${process.pid}\n`);
      current.locks.add(path);
      return;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      const pid = Number(readFileSafe(join(path, 'pid')));
      if (pid && pid !== process.pid && isAlive(pid)) throw new MatrixError(`${dir} is in use by another node-matrix run (pid ${pid})`);
      rmSync(path, { recursive: true, force: true });
    }
  }
  throw new MatrixError(`could not lock ${dir}`);
}

export function readFileSafe(file) {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

export function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/** What a signal must clean up: the running child, and our locks. */
export const current = { child: undefined, locks: new Set() };

export function releaseLocks() {
  for (const path of current.locks) rmSync(path, { recursive: true, force: true });
  current.locks.clear();
}
