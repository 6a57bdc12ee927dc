// node-matrix step 3: choosing the test files, running them under a line's Node, reading the TAP.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { MatrixError, NOT_IN_MATRIX, TEST_ARGS, TEST_DIR, current, readFileSafe, say } from './util.mjs';
import { lineEnv } from './tree.mjs';

// ── 3. The tests ────────────────────────────────────────────────────────────────────────────────────────────────

export function listTestFiles(dir, base = dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'fixtures' ? [] : listTestFiles(path, base);
    return entry.name.endsWith('.js') ? [relative(base, path).split('\\').join('/')] : [];
  });
}

export function globToRegExp(glob) {
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

export function resolveTestFiles(patterns) {
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
export function readTap(text) {
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
export function errorLines(yaml) {
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

export async function runTests(runtime, app, files, tapFile, { name }) {
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
