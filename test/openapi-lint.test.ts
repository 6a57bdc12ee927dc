// Redocly's `recommended` ruleset (redocly.yaml) on the document a live server serves, with and without a token.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { makeTempDir, startTestServer, PROJECT_ROOT as ROOT } from './helpers.js';

const REDOCLY = join(ROOT, 'node_modules', '@redocly', 'cli', 'bin', 'cli.js');

/**
 * Warnings we accept, as `ruleId pointer`; each has its reason in the README's Design notes. Empty: the document
 * lints clean. Errors are never accepted.
 */
const ACCEPTED_WARNINGS: readonly string[] = [];

interface LintProblem {
  ruleId: string;
  severity: 'error' | 'warn';
  message: string;
  location: Array<{ pointer: string }>;
}

/** Runs `redocly lint` on the server's /openapi.json; the CLI sends no usage data and checks for no update. */
async function lint(url: string, headers: Record<string, string> = {}): Promise<{ totals: { errors: number; warnings: number }; problems: LintProblem[] }> {
  const res = await fetch(`${url}/openapi.json`, { headers });
  assert.equal(res.status, 200);
  const file = join(makeTempDir('offload-lint-'), 'openapi.json');
  writeFileSync(file, await res.text());
  const env = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' };
  const args = [REDOCLY, 'lint', file, '--config', join(ROOT, 'redocly.yaml'), '--format', 'json'];
  // The CLI exits 1 when it finds errors; the report on stdout says which.
  const { stdout } = await promisify(execFile)(process.execPath, args, { env, cwd: ROOT, timeout: 60_000 }).catch((err) => err);
  return JSON.parse(stdout);
}

function listed(problems: readonly LintProblem[], severity: LintProblem['severity']): string[] {
  return problems.filter((p) => p.severity === severity).map((p) => `${p.ruleId} ${p.location[0]?.pointer ?? ''}`.trim()).sort();
}

test('the OpenAPI document passes Redocly lint (recommended), with and without a token', async () => {
  const open = await startTestServer();
  const guarded = await startTestServer({ args: ['--token', 's3cret'] });
  try {
    for (const [which, report] of [
      ['without a token', await lint(open.url)],
      ['with a token', await lint(guarded.url, { authorization: 'Bearer s3cret' })],
    ] as const) {
      const messages = report.problems.map((p) => `${p.severity} ${p.ruleId} ${p.location[0]?.pointer}: ${p.message}`).join('\n');
      assert.equal(report.totals.errors, 0, `${which}:\n${messages}`);
      assert.deepEqual(listed(report.problems, 'error'), []);
      assert.deepEqual(listed(report.problems, 'warn'), [...ACCEPTED_WARNINGS].sort(), `${which}:\n${messages}`);
      assert.equal(report.totals.warnings, ACCEPTED_WARNINGS.length);
    }
  } finally {
    await Promise.all([open.close(), guarded.close()]);
  }
});
