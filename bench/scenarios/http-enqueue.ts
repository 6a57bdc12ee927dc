// http_enqueue_vs_bare: POST /jobs req/s over loopback with autocannon (50 connections) against `offload serve`
// — normal validation, request logging (JSON lines to a file), group-committed inserts, and the no-op jobs
// actually running meanwhile — vs a bare Koa route inserting one row. `--durability full` is a third variant
// of the same alternation. Each round starts its server afresh on an empty data directory.
import path from 'node:path';
import autocannon from 'autocannon';
import { spawnOffload, spawnServer, type ChildServer } from '../lib/child-server.js';
import type { BenchContext, Figure } from '../lib/figures.js';
import { requestOk } from '../lib/http.js';
import { BARE_KOA_SERVER, NOOP_WORKER } from '../lib/paths.js';
import { alternate, median, medianRatio, round } from '../lib/stats.js';

const CONNECTIONS = 50;
const BODY = JSON.stringify({ kind: 'noop', payload: { n: 1 } });

export async function benchHttpEnqueue(ctx: BenchContext): Promise<Figure[]> {
  const failures: Record<string, number[]> = { offload: [], bare: [], offload_full: [] };

  const measure = async (name: string, start: (dataDir: string, logFile: string) => Promise<ChildServer>): Promise<number> => {
    const dataDir = ctx.newDir(`http-${name}`);
    const server = await start(dataDir, path.join(dataDir, 'server.log'));
    try {
      // Warm-up: JIT and the first SQLite pages, not counted.
      await Promise.all(Array.from({ length: 200 }, () => requestOk(server.url, 'POST', '/jobs', { body: BODY })));
      const result = await autocannon({
        url: `${server.url}/jobs`,
        connections: CONNECTIONS,
        duration: ctx.sizes.httpSeconds,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: BODY,
      });
      const ok = result['2xx'];
      failures[name]!.push(result.non2xx + result.errors + result.timeouts);
      if (ok === 0) throw new Error(`${name}: no 2xx answer (non-2xx ${result.non2xx}, errors ${result.errors})`);
      return ok / result.duration;
    } finally {
      await server.stop();
    }
  };

  const offloadFlags = (dataDir: string, durability: string) => [
    '--data-dir', dataDir, '--job', `noop=${NOOP_WORKER}`, '--max-pending', '100000000', '--durability', durability,
    '--shutdown-grace', '1',
  ];
  const measured = await alternate(
    ctx.sizes.rounds,
    {
      offload: () => measure('offload', (dataDir, logFile) => spawnOffload(offloadFlags(dataDir, 'normal'), { logFile, nodeArgs: ctx.childNodeArgs })),
      bare: () => measure('bare', (dataDir, logFile) => spawnServer([BARE_KOA_SERVER, dataDir, 'normal'], { logFile, nodeArgs: ctx.childNodeArgs })),
      offload_full: () => measure('offload_full', (dataDir, logFile) => spawnOffload(offloadFlags(dataDir, 'full'), { logFile, nodeArgs: ctx.childNodeArgs })),
    },
    (name, i, value) => ctx.log(`  round ${i + 1} ${name}: ${Math.round(value).toLocaleString('en')} req/s (2xx)`),
  );
  const rounds = {
    offload_req_per_s: measured.offload.map(Math.round),
    bare_req_per_s: measured.bare.map(Math.round),
    offload_full_req_per_s: measured.offload_full.map(Math.round),
    failed_requests: failures,
  };
  return [
    {
      name: 'http_enqueue_vs_bare',
      value: round(medianRatio(measured.offload, measured.bare)),
      unit: 'ratio',
      what: `POST /jobs req/s (2xx) with autocannon, ${CONNECTIONS} connections, ${ctx.sizes.httpSeconds} s, --durability normal: ${Math.round(median(measured.offload)).toLocaleString('en')} req/s`,
      reference: { what: 'bare Koa route inserting one row (WAL, synchronous=NORMAL)', value: Math.round(median(measured.bare)), unit: 'req/s' },
      target: { op: '>=', value: 0.8 },
      detail: { connections: CONNECTIONS, seconds: ctx.sizes.httpSeconds, offload_req_per_s: Math.round(median(measured.offload)), rounds },
    },
    {
      name: 'http_enqueue_full_req_per_s',
      value: Math.round(median(measured.offload_full)),
      unit: 'req/s',
      what: `POST /jobs req/s with --durability full (fsync per commit group), same alternation; ${round(medianRatio(measured.offload_full, measured.bare))} × bare`,
      reference: { what: 'bare Koa route (synchronous=NORMAL)', value: Math.round(median(measured.bare)), unit: 'req/s' },
      target: null,
      detail: { full_vs_bare: round(medianRatio(measured.offload_full, measured.bare)), full_vs_normal: round(medianRatio(measured.offload_full, measured.offload)), rounds },
    },
  ];
}
