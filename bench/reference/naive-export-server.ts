// The reference of status_p99_ms_during_exports: the same export code (workers/export.ts) run in the server's
// main thread instead of a worker pool — what offload would be without threads. POST /exports starts an export
// at once and answers 202; GET /exports/:id answers its status from memory. Usage: naive-export-server.js DATA_DIR
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import exportDataset from '../../workers/export.js';

const [dataDir] = process.argv.slice(2);
if (!dataDir) throw new Error('usage: naive-export-server.js DATA_DIR');

const exports = new Map<string, { status: 'running' | 'succeeded' | 'failed'; result?: unknown; error?: string }>();

const app = new Koa();
app.use(async (ctx) => {
  const match = /^\/exports\/([0-9a-f-]{36})$/.exec(ctx.path);
  if (ctx.method === 'GET' && match) {
    const state = exports.get(match[1]!);
    if (!state) ctx.status = 404;
    else ctx.body = { job_id: match[1], ...state };
    return;
  }
  if (ctx.method === 'POST' && ctx.path === '/exports') {
    const chunks: Buffer[] = [];
    for await (const chunk of ctx.req) chunks.push(chunk as Buffer);
    const payload = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    const id = randomUUID();
    const state: { status: 'running' | 'succeeded' | 'failed'; result?: unknown; error?: string } = { status: 'running' };
    exports.set(id, state);
    const ctxForJob = { signal: new AbortController().signal, progress: () => {}, jobId: id, attempt: 1, dataDir };
    exportDataset(payload, ctxForJob).then(
      (result) => Object.assign(state, { status: 'succeeded', result }),
      (err: unknown) => Object.assign(state, { status: 'failed', error: String(err) }),
    );
    ctx.status = 202;
    ctx.body = { job_id: id, status: 'running', status_url: `/exports/${id}` };
    return;
  }
  ctx.status = 404;
});

const server = app.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ msg: 'listening', url: `http://127.0.0.1:${port}` })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
