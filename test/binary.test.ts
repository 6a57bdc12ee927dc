// The single executable (npm run build:binary → dist/offload), run the way a user runs a release: only the binary,
// copied into an empty directory, an empty environment (as `env -i`) whose PATH has no node, nothing installed.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ExcelJS from 'exceljs';
import { listeningUrl, makeTempDir, request, spawnWatched, waitFor, type WatchedChild } from './helpers.js';

const BINARY = fileURLToPath(new URL('../offload', import.meta.url));
const PACKAGE_VERSION = (JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version: string }).version;

/**
 * Never a silent pass: without the binary this file fails, unless the platform cannot run it or
 * OFFLOAD_SKIP_BINARY_TEST=1 says it was not built on purpose; then it reports a skip with the reason.
 */
function skipReason(): string | false {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `the single executable is built for linux-x64, this is ${process.platform}-${process.arch}`;
  if (process.env.OFFLOAD_SKIP_BINARY_TEST === '1') return 'OFFLOAD_SKIP_BINARY_TEST=1';
  return false;
}

type Instance = WatchedChild;

/** Runs the binary with exactly `env` (nothing inherited) in `cwd`. */
function run(cwd: string, args: string[], env: Record<string, string>): Instance {
  return spawnWatched(join(cwd, 'offload'), args, { cwd, env });
}

async function stop(instance: Instance): Promise<void> {
  instance.child.kill('SIGTERM');
  const { code } = await instance.exited;
  assert.equal(code, 0, instance.output());
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

describe('single executable (dist/offload)', { skip: skipReason() }, () => {
  let root: string;
  let appDir: string;
  let emptyBin: string;

  before(() => {
    assert.ok(existsSync(BINARY), `${BINARY} does not exist: run \`npm run build:binary\` (npm test does), or set OFFLOAD_SKIP_BINARY_TEST=1`);
    root = makeTempDir('offload-binary-');
    appDir = join(root, 'app');
    emptyBin = join(root, 'bin');
    mkdirSync(appDir);
    mkdirSync(emptyBin);
    copyFileSync(BINARY, join(appDir, 'offload'));
    // A PATH that exists but holds no node (the machine's /usr/bin has one).
    assert.deepEqual(readdirSync(emptyBin), []);
  });

  it('prints its version and the embedded Node version, and its help', async () => {
    const version = run(appDir, ['--version'], { PATH: emptyBin });
    assert.equal((await version.exited).code, 0);
    assert.match(version.output().trim(), new RegExp(`^offload ${PACKAGE_VERSION.replaceAll('.', '\\.')} \\(node v26\\.\\d+\\.\\d+, single executable\\)$`));

    const help = run(appDir, ['--help'], { PATH: emptyBin });
    assert.equal((await help.exited).code, 0);
    assert.match(help.output(), /Usage: offload serve/);
    assert.match(help.output(), /OFFLOAD_CACHE_DIR/);
    assert.match(help.output(), /NODE_OPTIONS/);
  });

  it('imports a dataset, exports CSV and XLSX, and survives a job that exits its worker thread', async () => {
    const home = join(root, 'home');
    mkdirSync(home);
    const jobsDir = join(root, 'jobs');
    mkdirSync(jobsDir);
    const exitsModule = join(jobsDir, 'exits.js');
    writeFileSync(exitsModule, 'export default async () => { process.exit(7) }\n');

    // HOME set, nothing else: the default cache directory, ~/.cache/offload, is used.
    const server = run(
      appDir,
      ['serve', '--port', '0', '--threads', '2', '--retry-base-ms', '20', '--job', `exits=${exitsModule}`],
      { PATH: emptyBin, HOME: home },
    );
    const url = await listeningUrl(server, 20_000);
    const call = (method: string, path: string, options?: Parameters<typeof request>[3]) => request(url, method, path, options);

    // The dashboard page is in the bundle too.
    const page = await fetch(`${url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    await page.arrayBuffer();

    const ready = JSON.parse(server.output().split('\n').find((l) => l.includes('embedded files ready'))!);
    assert.equal(join(ready.cache_dir, '..'), join(home, '.cache', 'offload'));
    assert.equal(statSync(ready.cache_dir).mode & 0o777, 0o700);

    const rows = 500;
    const csv = ['id,name,score,active', ...Array.from({ length: rows }, (_, i) => `${i},"name, ${i}",${i / 8},${i % 3 === 0}`)].join('\n') + '\n';
    const upload = await call('POST', '/datasets?name=people', { rawBody: csv, headers: { 'content-type': 'text/csv' } });
    assert.equal(upload.status, 202, upload.text);
    const datasetId = upload.body.id as string;
    const dataset = await waitFor(async () => {
      const res = await call('GET', `/datasets/${datasetId}`);
      return res.body.status === 'importing' ? undefined : res.body;
    }, 20_000, 'the import');
    assert.equal(dataset.status, 'ready', JSON.stringify(dataset));
    assert.equal(dataset.rows, rows);
    assert.deepEqual(dataset.columns, [
      { name: 'id', type: 'integer' },
      { name: 'name', type: 'text' },
      { name: 'score', type: 'real' },
      { name: 'active', type: 'boolean' },
    ]);

    const downloads: Record<string, { id: string; body: Buffer }> = {};
    for (const format of ['csv', 'xlsx']) {
      const created = await call('POST', '/exports', { body: { dataset_id: datasetId, format } });
      assert.equal(created.status, 202, created.text);
      const id = created.body.job_id as string;
      const done = await waitFor(async () => {
        const res = await call('GET', `/exports/${id}`);
        return ['succeeded', 'failed', 'cancelled'].includes(res.body.status) ? res.body : undefined;
      }, 30_000, `the ${format} export`);
      assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
      assert.equal(done.result.rows, rows);

      const res = await fetch(`${url}/exports/${id}/download`);
      assert.equal(res.status, 200);
      const body = Buffer.from(await res.arrayBuffer());
      assert.equal(Number(res.headers.get('content-length')), body.length);
      assert.equal(body.length, done.result.bytes);
      assert.equal(sha256(body), done.result.sha256);
      downloads[format] = { id, body };
    }
    const csvLines = downloads.csv!.body.toString('utf8').trimEnd().split(/\r?\n/);
    assert.equal(csvLines.length, rows + 1);
    assert.equal(csvLines[0], 'id,name,score,active');
    assert.match(csvLines[2]!, /^1,"name, 1",0\.125,false$/);

    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load(downloads.xlsx!.body as never);
    const sheet = workbook.worksheets[0]!;
    assert.equal(sheet.rowCount, rows + 1);
    // Text cells are inline strings, which exceljs reads as rich text: compare their text.
    const plain = (value: unknown) => (value && typeof value === 'object' && 'richText' in value ? (value as ExcelJS.CellRichTextValue).richText.map((run) => run.text).join('') : value);
    assert.deepEqual((sheet.getRow(1).values as unknown[]).slice(1).map(plain), ['id', 'name', 'score', 'active']);
    assert.deepEqual((sheet.getRow(rows + 1).values as unknown[]).slice(1).map(plain), [rows - 1, `name, ${rows - 1}`, (rows - 1) / 8, (rows - 1) % 3 === 0]);

    // A user-registered kind whose module, loaded from the disk by the embedded Node, ends its worker thread.
    const fault = await call('POST', '/jobs', { body: { kind: 'exits', payload: {}, max_attempts: 2 } });
    assert.equal(fault.status, 202, fault.text);
    const failed = await waitFor(async () => {
      const res = await call('GET', `/jobs/${fault.body.job_id}`);
      return res.body.status === 'failed' ? res.body : undefined;
    }, 20_000, 'the fault job to fail');
    assert.equal(failed.error.code, 'worker_exit');
    assert.equal(failed.error.details.exit_code, 7);
    assert.equal(failed.attempts, 2);
    // The pool replaced the thread: the server still runs jobs.
    assert.equal((await call('GET', '/readyz')).status, 200);
    const again = await call('POST', '/exports', { body: { dataset_id: datasetId, format: 'ndjson' } });
    const ndjson = await waitFor(async () => {
      const res = await call('GET', `/exports/${again.body.job_id}`);
      return res.body.status === 'succeeded' || res.body.status === 'failed' ? res.body : undefined;
    }, 20_000, 'an export after the fault');
    assert.equal(ndjson.status, 'succeeded', JSON.stringify(ndjson.error));

    await stop(server);

    // Everything the run wrote is in the data directory beside the binary, and nothing else is.
    assert.deepEqual(readdirSync(appDir).sort(), ['data', 'offload']);
    const dataDir = join(appDir, 'data');
    assert.ok(statSync(join(dataDir, 'jobs.db')).size > 0);
    assert.ok(readdirSync(join(dataDir, 'datasets')).some((name) => name.startsWith(datasetId)));
    const exportFiles = readdirSync(join(dataDir, 'exports'));
    for (const [format, { id, body }] of Object.entries(downloads)) {
      const file = exportFiles.find((name) => name.startsWith(id));
      assert.ok(file, `no file for the ${format} export in ${exportFiles.join(', ')}`);
      assert.equal(sha256(readFileSync(join(dataDir, 'exports', file))), sha256(body));
    }
  });

  it('extracts safely when two instances start at once, and repairs a damaged cache', async () => {
    const cacheDir = join(root, 'shared-cache');
    const start = (name: string) =>
      run(appDir, ['serve', '--port', '0', '--threads', '1', '--data-dir', join(root, name)], { PATH: emptyBin, OFFLOAD_CACHE_DIR: cacheDir });
    const [a, b] = [start('first'), start('second')];
    const urls = await Promise.all([listeningUrl(a, 20_000), listeningUrl(b, 20_000)]);
    for (const url of urls) assert.equal((await request(url, 'GET', '/readyz')).status, 200);
    await Promise.all([stop(a), stop(b)]);

    const [keyDir] = readdirSync(cacheDir);
    const extracted = join(cacheDir, keyDir!);
    // Only whole files under their final names: no temporary file left behind by the race.
    assert.deepEqual(readdirSync(extracted).filter((name) => name.endsWith('.tmp')), []);
    const runner = join(extracted, 'runner.cjs');
    const good = readFileSync(runner);
    writeFileSync(runner, 'throw new Error("tampered")\n');

    const c = start('third');
    const url = await listeningUrl(c, 20_000);
    assert.deepEqual(readFileSync(runner), good);
    // An import runs in a worker thread, through the repaired runner.
    const upload = await request(url, 'POST', '/datasets?name=small', { rawBody: 'a,b\n1,2\n', headers: { 'content-type': 'text/csv' } });
    assert.equal(upload.status, 202, upload.text);
    const dataset = await waitFor(async () => {
      const res = await request(url, 'GET', `/datasets/${upload.body.id}`);
      return res.body.status === 'importing' ? undefined : res.body;
    }, 20_000, 'the import');
    assert.equal(dataset.status, 'ready', JSON.stringify(dataset));
    await stop(c);
  });

  it('says clearly when the cache directory cannot be used', async () => {
    const notADirectory = join(root, 'a-file');
    writeFileSync(notADirectory, '');
    const server = run(appDir, ['serve', '--port', '0'], { PATH: emptyBin, OFFLOAD_CACHE_DIR: join(notADirectory, 'cache') });
    const { code } = await server.exited;
    assert.equal(code, 1);
    assert.match(server.output(), /^offload: cannot use the cache directory .*a-file\/cache \(OFFLOAD_CACHE_DIR\): a path component is not a directory\n$/);
  });
});
