// The package as a user gets it: `npm pack`, installed into an empty project, a strict TypeScript consumer compiled
// against its published types (skipLibCheck off), and a job run through the installed engine; then its `npx` bin.
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { cpSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTempDir, PROJECT_ROOT as ROOT } from './helpers.js';

const ourPackage = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
const lockedVersion = (name: string) => lock.packages[`node_modules/${name}`].version as string;

function run(command: string, args: string[], options: SpawnSyncOptions & { cwd: string }): string {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 600_000, maxBuffer: 64 * 1024 * 1024, ...options });
  assert.equal(result.status, 0, `${command} ${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
  return String(result.stdout);
}

const CONSUMER = `
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, createOffload, type Offload } from 'offload';
import { EngineError, type Job } from 'offload/engine';
import type { JobContext, JobHandler } from 'offload/types';

const dir = mkdtempSync(join(tmpdir(), 'offload-consumer-'));
const worker = join(dir, 'double.mjs');
writeFileSync(worker, 'export default async (payload, ctx) => { ctx.progress(1, 1); return { doubled: payload.n * 2 }; };\\n');
// The type a worker module's author writes against (checked here, run above as plain JavaScript).
const typed: JobHandler = async (payload: { n: number }, ctx: JobContext) => ({ doubled: payload.n * 2, attempt: ctx.attempt });
void typed;

const offload: Offload = await createOffload({ dataDir: join(dir, 'data'), logger: createLogger({ level: 'silent' }), kinds: [{ kind: 'double', module: worker }] });
await offload.start();
const { job } = await offload.engine.enqueue({ kind: 'double', payload: { n: 21 } });
const done = await new Promise<Job>((resolve) => {
  const stop = offload.engine.watch(job.id, (changed) => {
    if (changed.status === 'succeeded' || changed.status === 'failed') (stop(), resolve(changed));
  });
});
let refused = '';
try {
  await offload.engine.enqueue({ kind: 'no-such-kind', payload: {} });
} catch (err) {
  if (err instanceof EngineError) refused = err.code;
}
await offload.close();
console.log(JSON.stringify({ status: done.status, result: done.result, refused }));
`;

test('the packed tarball installs into an empty project, type-checks strictly, runs a job, and its bin answers', { timeout: 900_000 }, () => {
  const packDir = makeTempDir('offload-pack-');
  // dist/ is built by the test command already; --ignore-scripts keeps npm from rebuilding it under running tests.
  const [packed] = JSON.parse(run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', packDir], { cwd: ROOT }));
  const tarball = join(packDir, packed.filename);
  const files: string[] = packed.files.map((file: { path: string }) => file.path);
  assert.ok(statSync(tarball).size < 2 * 1024 * 1024, `the tarball is small: ${statSync(tarball).size} bytes`);
  for (const unwanted of [/^dist\/test\//, /^dist\/bench\//, /^dist\/sea\//, /^dist\/offload$/, /\.map$/, /\.png$/, /^\.ci\//, /^(src|test|bench)\//]) {
    assert.ok(!files.some((file) => unwanted.test(file)), `no file matching ${unwanted} in the package`);
  }
  for (const needed of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/main.js', 'dist/workers/sleep.js', 'examples/people.csv',
    'dist/src/engine/sqlite/migrations/0001-jobs.sql']) {
    assert.ok(files.includes(needed), `${needed} is in the package`);
  }
  const runtimeOnly = Object.keys(ourPackage.dependencies);
  for (const testOnly of ['hyparquet', 'playwright-core', 'typescript', 'esbuild']) assert.ok(!runtimeOnly.includes(testOnly), `${testOnly} is not a runtime dependency`);

  const project = makeTempDir('offload-consumer-project-');
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  // Without install scripts, and with this checkout's better-sqlite3 addon (same version, same Node): compiling it
  // again costs a minute or more and proves nothing `npm ci` of this repository does not already prove.
  run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', tarball, `typescript@${lockedVersion('typescript')}`,
    `@types/node@${lockedVersion('@types/node')}`], { cwd: project });
  const installedSqlite = JSON.parse(readFileSync(join(project, 'node_modules/better-sqlite3/package.json'), 'utf8')).version;
  assert.equal(installedSqlite, lockedVersion('better-sqlite3'), 'the same better-sqlite3 as this checkout');
  cpSync(join(ROOT, 'node_modules/better-sqlite3/build'), join(project, 'node_modules/better-sqlite3/build'), { recursive: true });
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, skipLibCheck: false,
      noUncheckedIndexedAccess: true, exactOptionalPropertyTypes: true, outDir: 'out', types: ['node'],
    },
    files: ['consumer.ts'],
  }));
  writeFileSync(join(project, 'consumer.ts'), CONSUMER);
  run(process.execPath, [join(project, 'node_modules/typescript/bin/tsc'), '-p', project], { cwd: project });
  const output = JSON.parse(run(process.execPath, [join(project, 'out/consumer.js')], { cwd: project }).trim().split('\n').at(-1)!);
  assert.deepEqual(output, { status: 'succeeded', result: { doubled: 42 }, refused: 'unknown_kind' });

  const version = run('npx', ['--no-install', 'offload', '--version'], { cwd: project });
  assert.match(version, new RegExp(`^offload ${ourPackage.version.replace(/\./g, '\\.')} \\(node v`));
});
