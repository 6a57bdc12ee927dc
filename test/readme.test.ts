// The README's Configuration table and Metrics section stay in step with the code.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { FLAGS } from '../src/config.js';
import { createEngine } from '../src/engine/engine.js';
import { openSqliteJobStore } from '../src/engine/sqlite/sqlite-job-store.js';
import { createMetrics } from '../src/http/metrics.js';
import { makeTempDir } from './helpers.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

function section(title: string): string {
  const start = readme.indexOf(`\n## ${title}\n`);
  assert.ok(start >= 0, `the README has a "${title}" section`);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

test('the Configuration table has a row for every flag, with its environment variable', () => {
  const rows = section('Configuration').split('\n').filter((line) => line.startsWith('| `--'));
  for (const [name, spec] of Object.entries(FLAGS)) {
    const row = rows.find((line) => line.startsWith(`| \`--${name}\``) || line.startsWith(`| \`--${name} `));
    assert.ok(row, `a row for --${name}`);
    assert.ok(row.includes(`\`${spec.env}\``), `the row of --${name} names ${spec.env}`);
  }
  assert.equal(rows.length, Object.keys(FLAGS).length, 'no row for a flag that does not exist');
});

test('the Metrics section names every offload_* metric, with its type', async () => {
  const dataDir = makeTempDir();
  const engine = createEngine({ dataDir, store: openSqliteJobStore(dataDir), logger: pino({ level: 'silent' }) });
  try {
    const { registry } = createMetrics(engine, new Registry());
    const metrics = section('Metrics');
    const ours = (await registry.getMetricsAsJSON()).filter((metric) => metric.name.startsWith('offload_'));
    assert.ok(ours.length >= 7);
    for (const { name, type } of ours) {
      assert.match(metrics, new RegExp(`^\\| \`${name}\` \\| ${type} \\|`, 'm'), `${name} (${type}) is documented`);
    }
  } finally {
    await engine.close();
  }
});

test('the README has a Security defaults section covering the token, the bind address and the limits', () => {
  const security = section('Security defaults');
  for (const words of ['127.0.0.1', '--token', '--allow-insecure-bind', 'timingSafeEqual', '--max-body-kb', '--max-upload-mb', 'stack trace']) {
    assert.ok(security.includes(words), `it mentions ${words}`);
  }
});
