import Router from '@koa/router';
import { engineNow } from '../engine/clock.js';
import type { Engine } from '../engine/engine.js';
import type { FlowLimits, RateLimit } from '../engine/flow-control.js';
import { Stats, StatsQuery } from './console-schemas.js';
import type { RouteDoc } from './openapi.js';
import { validate } from './validate.js';

const MINUTE_MS = 60_000;
const RUNNING_GROUPS_SHOWN = 20;

const rateOf = (rate: RateLimit | undefined) => (rate ? { count: rate.count, interval_ms: rate.intervalMs } : null);

function flowStats(flow: FlowLimits, queue: Map<string, { running: number }>, byGroup: Array<{ groupKey: string; count: number }>): Stats['limits'] {
  return {
    kinds: Object.entries(flow.kinds ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([kind, limits]) => ({
      kind, concurrency: limits.concurrency ?? null, rate: rateOf(limits.rate), running: queue.get(kind)?.running ?? 0,
    })),
    groups: { concurrency: flow.groups?.concurrency ?? null, rate: rateOf(flow.groups?.rate) },
    running_by_group: byGroup.map((row) => ({ group_key: row.groupKey, running: row.count })),
  };
}
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * GET /stats: what the console draws. Every number comes from the whole database (every process sharing it)
 * except the threads, which are this process's: the trigger-kept counts, each kind's first due run_at, and the
 * finishes of the last minutes (one range of jobs_by_finished).
 */
export function createStatsRoutes(engine: Engine): Router {
  const router = new Router();
  router.get('/stats', async (ctx) => {
    const { minutes } = validate(StatsQuery, ctx.query, 'query');
    const now = engineNow();
    const since = Math.floor(now / MINUTE_MS) * MINUTE_MS - (minutes - 1) * MINUTE_MS;
    const [counts, ages, finished, byGroup] = await Promise.all([
      engine.countAll(), engine.oldestDueAges(), engine.finishedPerMinute(since, now + 1), engine.countRunningByGroup(RUNNING_GROUPS_SHOWN),
    ]);
    const queue = new Map<string, Stats['queue'][number]>();
    for (const { kind, status, count } of counts) {
      if (status !== 'pending' && status !== 'running') continue;
      const row = queue.get(kind) ?? { kind, pending: 0, running: 0, oldest_due_age_ms: 0 };
      row[status] = count;
      queue.set(kind, row);
    }
    for (const { kind, ageMs } of ages) {
      const row = queue.get(kind);
      if (row) row.oldest_due_age_ms = Math.round(ageMs);
    }
    const perMinute = new Map<string, Stats['finished_per_minute'][number]>();
    for (const { kind, status, minute, count } of finished) {
      const key = `${minute}|${kind}`;
      const row = perMinute.get(key) ?? { minute: iso(minute), kind, succeeded: 0, failed: 0, cancelled: 0 };
      row[status] += count;
      perMinute.set(key, row);
    }
    const { threads, busyThreads } = engine.stats();
    ctx.body = {
      generated_at: iso(now),
      since: iso(since),
      threads: { total: threads, busy: busyThreads },
      queue: [...queue.values()].sort((a, b) => a.kind.localeCompare(b.kind)),
      counts: counts.sort((a, b) => a.kind.localeCompare(b.kind) || a.status.localeCompare(b.status)),
      finished_per_minute: [...perMinute.values()].sort((a, b) => a.minute.localeCompare(b.minute) || a.kind.localeCompare(b.kind)),
      limits: flowStats(engine.config.flow, queue, byGroup),
    } satisfies Stats;
  });
  return router;
}

export const statsRouteDocs: RouteDoc[] = [
  {
    method: 'get',
    path: '/stats',
    operationId: 'getStats',
    tags: ['operations'],
    summary: 'Throughput, failures, queue depth and threads, for the console',
    description:
      'Counts per kind and status, queue depth and the age of the oldest due job per kind, and the jobs that reached a final status ' +
      "per minute and kind over the last `minutes` — all of the whole database; `threads` are this server's.",
    query: StatsQuery,
    responses: { 200: { description: 'The numbers.', schema: Stats } },
    errors: ['invalid_request'],
  },
];
