// `offload serve --store postgres://…` passes the same acceptance-level tests as SQLite: the API suites run again,
// each in its own process, with OFFLOAD_TEST_STORE=postgres — every server they start then runs on the PostgreSQL
// store (a fresh database each, on a real server that test/pg-harness.ts starts per process). Left out: the suites
// about SQLite itself (its write lock and full disk in readiness, jobs.db read directly in crash-recovery and
// metrics' SIGKILL test, the store's own faults and scale), and dataset-export and formats, whose 50 s are about
// the file formats, not the store (exports-api exports through it); the multi-node tests cover the rest.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SUITES = [
  'jobs-api', 'exports-api', 'dataset-import', 'failures', 'logs', 'security', 'limits', 'openapi', 'upload-limits',
  'clock-and-poison', 'console-api', 'schedules', 'dedupe', 'callbacks', 'flow-control',
];

test('the API suites pass on the PostgreSQL store', { timeout: 600_000 }, async () => {
  const files = SUITES.map((name) => fileURLToPath(new URL(`./${name}.test.js`, import.meta.url)));
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = execFile(
      process.execPath,
      ['--test', '--test-concurrency=2', '--test-reporter=tap', '--test-timeout=180000', ...files],
      // Without NODE_TEST_CONTEXT: set by the outer runner, it would make this one report to it instead of printing.
      { env: { ...process.env, NODE_TEST_CONTEXT: undefined, OFFLOAD_TEST_STORE: 'postgres' }, maxBuffer: 64 << 20, timeout: 590_000 },
      (_err, stdout, stderr) => resolve({ code: child.exitCode, output: stdout + stderr }),
    );
  });
  // Each failure with the lines that follow it (its error and stack), not just the run's tail.
  const lines = output.split('\n');
  const failures = lines.flatMap((line, index) => (/^\s*not ok /.test(line) ? lines.slice(index, index + 25) : []));
  assert.equal(code, 0, `failed on PostgreSQL:\n${failures.join('\n')}\n${output.slice(-3000)}`);
  const passed = Number(/^# pass (\d+)/m.exec(output)?.[1]);
  assert.ok(passed >= 120, `the suites ran (${passed} tests passed)`);
  assert.match(output, /^# fail 0$/m);
  assert.match(output, /^# skipped 0$/m);
});
