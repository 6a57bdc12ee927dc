// import_csv_vs_sqlite3, import_rows_per_s.csv and import_rows_per_s.ndjson, in one alternation:
//   A: POST /datasets of an N-row × 8-column CSV file to the real server, streamed from disk, until GET
//      /datasets/{id} says ready (upload, import job, dataset file fsynced and renamed);
//   B: `sqlite3 :memory: '.import --csv FILE t'` of the same file (process start included);
//   C: the same rows as NDJSON through POST /datasets, until ready.
// Each dataset is deleted after its round, so the rounds do not fill the disk.
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import http from 'node:http';
import path from 'node:path';
import { spawnOffload, type ChildServer } from '../lib/child-server.js';
import { BENCH_COLUMNS, benchRow } from '../lib/dataset.js';
import type { BenchContext, Figure } from '../lib/figures.js';
import { requestOk } from '../lib/http.js';
import { alternate, median, medianRatio, round, sleep } from '../lib/stats.js';
import { findSqlite3 } from './export-csv.js';

const SQLITE3_MISSING = 'the sqlite3 command-line tool is not installed (Debian/Ubuntu: apt-get install -y sqlite3); its reference was skipped';

type UploadFormat = 'csv' | 'ndjson';
const POLL_MS = 20;
const CONTENT_TYPES: Record<UploadFormat, string> = { csv: 'text/csv', ndjson: 'application/x-ndjson' };

function csvField(value: unknown): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The bench rows (lib/dataset.ts) as a CSV file with a header, or as NDJSON lines; written in 1 MB pieces. */
async function writeUploadFile(file: string, format: UploadFormat, rows: number): Promise<void> {
  const out = createWriteStream(file);
  const names = BENCH_COLUMNS.map((column) => column.name);
  let text = format === 'csv' ? `${names.map(csvField).join(',')}\n` : '';
  for (let i = 0; i < rows; i++) {
    const row = benchRow(i);
    text += format === 'csv' ? `${row.map(csvField).join(',')}\n` : `${JSON.stringify(Object.fromEntries(names.map((name, c) => [name, row[c]])))}\n`;
    if (text.length >= 1 << 20) {
      if (!out.write(text)) await once(out, 'drain');
      text = '';
    }
  }
  out.end(text);
  await once(out, 'finish');
}

/** Streams the file as the request body (never whole in memory) and returns the created dataset's id. */
function upload(url: string, file: string, format: UploadFormat): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      new URL(`/datasets?name=bench-${format}`, url),
      { method: 'POST', headers: { 'content-type': CONTENT_TYPES[format], 'content-length': String(statSync(file).size) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => (res.statusCode === 202 || res.statusCode === 201 ? resolve(JSON.parse(text).id as string) : reject(new Error(`POST /datasets answered ${res.statusCode}: ${text.slice(0, 500)}`))));
      },
    );
    req.once('error', reject);
    createReadStream(file).once('error', reject).pipe(req);
  });
}

/** Seconds from the POST until its answer (the upload on disk, the job enqueued), per format, round by round. */
const uploadSeconds: Record<UploadFormat, number[]> = { csv: [], ndjson: [] };

async function importThroughServer(server: ChildServer, file: string, format: UploadFormat, rows: number): Promise<number> {
  const started = performance.now();
  const id = await upload(server.url, file, format);
  uploadSeconds[format].push((performance.now() - started) / 1000);
  for (;;) {
    const { body } = await requestOk(server.url, 'GET', `/datasets/${id}`);
    if (body.status === 'failed') throw new Error(`the ${format} import failed: ${JSON.stringify(body.error)}`);
    if (body.status === 'ready') {
      const ms = performance.now() - started;
      if (body.rows !== rows) throw new Error(`the ${format} import holds ${body.rows} rows, expected ${rows}`);
      await requestOk(server.url, 'DELETE', `/datasets/${id}`);
      return rows / (ms / 1000);
    }
    // Every request is logged by the server, on the same two cores: polling faster would slow the import.
    await sleep(POLL_MS);
  }
}

async function importWithSqlite3(file: string, rows: number): Promise<number> {
  const started = performance.now();
  const child = spawn('sqlite3', [':memory:', `.import --csv ${file} t`, 'SELECT count(*) FROM t'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const code = await new Promise<number | null>((resolve, reject) => child.once('error', reject).once('exit', resolve));
  const ms = performance.now() - started;
  if (code !== 0) throw new Error(`sqlite3 exited with code ${code}`);
  if (Number(out.trim()) !== rows) throw new Error(`sqlite3 imported ${out.trim()} rows, expected ${rows}`);
  return rows / (ms / 1000);
}

export async function benchImport(ctx: BenchContext): Promise<Figure[]> {
  const rows = ctx.sizes.importRows;
  const dir = ctx.newDir('import');
  const files = { csv: path.join(dir, 'upload.csv'), ndjson: path.join(dir, 'upload.ndjson') };
  for (const format of ['csv', 'ndjson'] as const) await writeUploadFile(files[format], format, rows);
  const megabytes = (format: UploadFormat) => round(statSync(files[format]).size / 1e6, 1);
  ctx.log(`  ${rows.toLocaleString('en')} rows: CSV ${megabytes('csv')} MB, NDJSON ${megabytes('ndjson')} MB`);
  const sqlite3 = findSqlite3();
  if (!sqlite3) ctx.log(`  note: ${SQLITE3_MISSING}`);

  const dataDir = path.join(dir, 'data');
  const server = await spawnOffload(['--data-dir', dataDir, '--max-upload-mb', '100000', '--shutdown-grace', '1'], {
    logFile: path.join(dir, 'server.log'),
    nodeArgs: ctx.childNodeArgs,
  });
  try {
    // Worker modules loaded and JIT warm, as they are on a server that has imported before.
    const warmup = path.join(dir, 'warmup.csv');
    await writeUploadFile(warmup, 'csv', 2000);
    await importThroughServer(server, warmup, 'csv', 2000);
    const measured = await alternate(
      ctx.sizes.rounds,
      {
        csv: () => importThroughServer(server, files.csv, 'csv', rows),
        ...(sqlite3 ? { sqlite3: () => importWithSqlite3(files.csv, rows) } : {}),
        ndjson: () => importThroughServer(server, files.ndjson, 'ndjson', rows),
      } as Record<'csv' | 'sqlite3' | 'ndjson', () => Promise<number>>,
      (name, i, value) => {
        const uploaded = name === 'sqlite3' ? '' : ` (upload ${uploadSeconds[name].at(-1)!.toFixed(2)} s of ${(rows / value).toFixed(2)} s)`;
        ctx.log(`  round ${i + 1} ${name}: ${Math.round(value).toLocaleString('en')} rows/s${uploaded}`);
      },
    );
    const reference = measured.sqlite3;
    const rounds = Object.fromEntries(Object.entries(measured).map(([name, values]) => [`${name}_rows_per_s`, values.map(Math.round)]));
    const what = (format: UploadFormat) =>
      `rows/s of POST /datasets of a ${rows.toLocaleString('en')}-row × 8-column ${format.toUpperCase()} file (${megabytes(format)} MB) → ready, on the server`;
    return [
      {
        name: 'import_csv_vs_sqlite3',
        value: reference ? round(medianRatio(measured.csv, reference)) : null,
        ...(reference ? {} : { reason: SQLITE3_MISSING }),
        unit: 'ratio',
        what: what('csv'),
        reference: { what: `sqlite3 :memory: '.import --csv' of the same file${sqlite3 ? ` (${sqlite3.split(' ')[0]})` : ''}`, value: reference ? Math.round(median(reference)) : null, unit: 'rows/s' },
        target: { op: '>=', value: 1.0 },
        detail: { rounds, rows, csv_mb: megabytes('csv'), upload_s: uploadSeconds.csv.slice(1).map((value) => round(value, 2)) },
      },
      ...(['csv', 'ndjson'] as const).map((format) => ({
        name: `import_rows_per_s.${format}`,
        value: Math.round(median(measured[format])),
        unit: 'rows/s',
        what: what(format),
        reference: null,
        target: null,
        detail: { rounds: measured[format].map(Math.round), rows, mb: megabytes(format), upload_s: uploadSeconds[format].slice(format === 'csv' ? 1 : 0).map((value) => round(value, 2)) },
      })),
    ];
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
