// The reference of http_enqueue_vs_bare: a bare Koa app whose POST /jobs parses the JSON body and inserts one row
// into SQLite (WAL, synchronous=NORMAL: offload's default durability), then answers 202. No validation, no
// logging, no queue. Usage: node bare-koa-server.js DATA_DIR [full]
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import Koa from 'koa';

const [dataDir, durability = 'normal'] = process.argv.slice(2);
if (!dataDir) throw new Error('usage: bare-koa-server.js DATA_DIR [normal|full]');

const db = new Database(path.join(dataDir, 'bare.db'));
db.pragma('journal_mode = WAL');
db.pragma(`synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`);
db.exec('CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, payload TEXT NOT NULL, created_at INTEGER NOT NULL)');
const insert = db.prepare('INSERT INTO jobs (id, kind, payload, created_at) VALUES (?, ?, ?, ?)');

const app = new Koa();
app.use(async (ctx) => {
  if (ctx.method !== 'POST' || ctx.path !== '/jobs') {
    ctx.status = 404;
    return;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of ctx.req) chunks.push(chunk as Buffer);
  const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { kind: string; payload: unknown };
  const id = randomUUID();
  insert.run(id, body.kind, JSON.stringify(body.payload ?? {}), Date.now());
  ctx.status = 202;
  ctx.body = { job_id: id, status: 'pending' };
});

const server = app.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ msg: 'listening', url: `http://127.0.0.1:${port}` })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
