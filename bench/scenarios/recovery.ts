// recovery_ms: `offload serve --threads 2` with N jobs of a kind that runs for minutes (2 running, the rest
// pending) is killed with SIGKILL and started again on the same data directory. Measured from the new spawn()
// until no job is left `running` under the dead owner, read from jobs.db every 2 ms by a read-only connection
// (the orphans went back to pending with error `lost`, and may already be claimed again by the new owner).
import path from 'node:path';
import Database from 'better-sqlite3';
import { spawnOffload, type ChildServer } from '../lib/child-server.js';
import type { BenchContext, Figure } from '../lib/figures.js';
import { requestOk } from '../lib/http.js';
import { SLEEP_WORKER } from '../lib/paths.js';
import { alternate, median, round, sleep, waitFor } from '../lib/stats.js';

const THREADS = 2;

interface Recovery {
  ms: number;
  listeningMs: number;
  orphans: number;
}

async function recoverOnce(ctx: BenchContext, jobs: number): Promise<Recovery> {
  const dataDir = ctx.newDir('recovery');
  const flags = ['--data-dir', dataDir, '--threads', String(THREADS), '--job', `bench-sleep=${SLEEP_WORKER}`, '--shutdown-grace', '1'];
  const logFile = path.join(dataDir, 'server.log');
  const first = await spawnOffload(flags, { logFile, nodeArgs: ctx.childNodeArgs });
  let second: ChildServer | undefined;
  let db: Database.Database | undefined;
  try {
    await Promise.all(Array.from({ length: jobs }, () => requestOk(first.url, 'POST', '/jobs', { json: { kind: 'bench-sleep', payload: {} } })));
    db = new Database(path.join(dataDir, 'jobs.db'), { readonly: true, fileMustExist: true });
    const running = db.prepare(`SELECT id, owner FROM jobs WHERE status = 'running'`);
    const orphans = await waitFor('the jobs to start', () => {
      const rows = running.all() as { id: string; owner: string }[];
      return rows.length === THREADS ? rows : undefined;
    });
    const owner = orphans[0]!.owner;
    await first.kill();

    const stillOrphaned = db.prepare(`SELECT count(*) FROM jobs WHERE status = 'running' AND owner = ?`).pluck();
    const started = performance.now();
    let listeningMs = Number.NaN;
    const starting = spawnOffload(flags, { logFile: path.join(dataDir, 'server-restarted.log'), nodeArgs: ctx.childNodeArgs }).then((server) => {
      listeningMs = performance.now() - started;
      return server;
    });
    starting.catch(() => {});
    let ms = Number.NaN;
    for (const deadline = started + 60_000; performance.now() < deadline; ) {
      if ((stillOrphaned.get(owner) as number) === 0) {
        ms = performance.now() - started;
        break;
      }
      await sleep(2);
    }
    second = await starting;
    if (Number.isNaN(ms)) throw new Error('the orphans were not recovered within 60 s');
    const lost = db
      .prepare(`SELECT count(*) FROM jobs WHERE id IN (SELECT value FROM json_each(?)) AND attempts >= 1 AND (status = 'pending' OR owner IS NOT ?)`)
      .pluck()
      .get(JSON.stringify(orphans.map((o) => o.id)), owner) as number;
    if (lost !== orphans.length) throw new Error(`only ${lost} of ${orphans.length} orphans were re-queued`);
    return { ms, listeningMs, orphans: orphans.length };
  } finally {
    db?.close();
    await first.kill();
    // Gracefully (SIGTERM): a profiled server (--child-cpu-prof) writes its profile only when it exits.
    await second?.stop();
  }
}

export async function benchRecovery(ctx: BenchContext): Promise<Figure[]> {
  const jobs = ctx.sizes.recoveryJobs;
  const runs: Recovery[] = [];
  const measured = await alternate(ctx.sizes.rounds, { recovery: async () => (runs.push(await recoverOnce(ctx, jobs)), runs.at(-1)!.ms) }, (_n, i, value) =>
    ctx.log(`  round ${i + 1}: orphans re-queued ${value.toFixed(0)} ms after the restart (listening after ${runs.at(-1)!.listeningMs.toFixed(0)} ms)`),
  );
  return [
    {
      name: 'recovery_ms',
      value: round(median(measured.recovery), 1),
      unit: 'ms',
      what: `SIGKILL of offload serve with ${jobs} jobs (${THREADS} running, the rest pending), restart: time from spawn() to every orphan re-queued (read from jobs.db)`,
      reference: null,
      target: { op: '<=', value: 1000 },
      detail: { jobs, rounds: runs.map((r) => ({ recovery_ms: round(r.ms, 1), listening_ms: round(r.listeningMs, 1), orphans: r.orphans })) },
    },
  ];
}
