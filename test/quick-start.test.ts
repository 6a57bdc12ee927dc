// The README's quick start, run as a new user would: its shell block as written, against `npm start`'s server
// (`node dist/src/main.js serve` with the defaults but port and data directory), from a copy of the clone's examples.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { listeningUrl, MAIN_JS, makeTempDir, spawnWatched, PROJECT_ROOT as ROOT } from './helpers.js';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

function quickStartBlock(): string {
  const match = /<!-- quick-start -->\n```sh\n([\s\S]*?)```\n<!-- \/quick-start -->/.exec(README);
  assert.ok(match, 'the README has a quick-start block');
  return match[1]!;
}

test('npm start is the build and then `serve` with its defaults', () => {
  const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  assert.equal(scripts.start, 'npm run build && node dist/src/main.js serve');
  assert.match(README, /^npm ci && npm start .*\n^npm test /m, 'the first screen gives both commands');
});

test("the README's quick start runs as written: a demo job, a dataset from the sample CSV, its Parquet export", { timeout: 120_000 }, async () => {
  const server = spawnWatched(process.execPath, [MAIN_JS, 'serve', '--port', '0', '--data-dir', makeTempDir()]);
  try {
    const url = await listeningUrl(server);
    const cwd = makeTempDir('offload-quick-start-');
    cpSync(join(ROOT, 'examples'), join(cwd, 'examples'), { recursive: true });
    const script = quickStartBlock().replaceAll('localhost:8080', url.replace(/^http:\/\//, ''));
    const result = spawnSync('bash', ['-euo', 'pipefail', '-c', script], { cwd, encoding: 'utf8', timeout: 90_000 });
    assert.equal(result.status, 0, `the block failed:\n${result.stdout}\n${result.stderr}`);

    const events = result.stdout.split('\n\n').filter((block) => block.startsWith('event: '));
    assert.ok(events.some((block) => block.startsWith('event: progress')), 'the demo job streamed progress');
    assert.match(events.at(-1)!, /"status":"succeeded"/);
    const dataset = JSON.parse(result.stdout.trim().split('\n').find((line) => line.startsWith('{"id"'))!);
    assert.equal(dataset.status, 'ready');
    assert.equal(dataset.rows, 12);

    const rows = await parquetReadObjects({ file: await asyncBufferFromFile(join(cwd, 'people.parquet')) });
    assert.equal(rows.length, 12);
    assert.equal(rows[6]!.name, 'Hamilton, Margaret');
    assert.equal(rows[9]!.name, 'Tony "C.A.R." Hoare');
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
  }
});
