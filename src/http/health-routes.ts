import Router from '@koa/router';
import type { Engine } from '../engine/engine.js';
import { AppError } from './errors.js';
import type { RouteDoc } from './openapi.js';
import { Health, Readiness } from './schemas.js';

export function createHealthRoutes(engine: Engine): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' } satisfies Health;
  });
  router.get('/readyz', async (ctx) => {
    if (engine.isClosing) throw new AppError('shutting_down', 'The server is shutting down.', { headers: { 'Retry-After': '10' } });
    const { ready, checks } = await engine.readiness();
    if (!ready) {
      const failed = checks.filter((check) => !check.ok);
      // Zombie threads alone leave the server working with fewer cores: degraded, not down.
      const status = failed.every((check) => check.name === 'threads') ? 'degraded' : 'unavailable';
      const reasons = failed.map((check) => `${check.name}: ${check.message}`).join(' ');
      throw new AppError('unavailable', `Not ready (${status}). ${reasons}`, { details: { status, checks } });
    }
    const stats = engine.stats();
    ctx.body = { status: 'ready', threads: stats.threads, busy_threads: stats.busyThreads, checks } satisfies Readiness;
  });
  return router;
}

export const healthRouteDocs: RouteDoc[] = [
  {
    method: 'get',
    path: '/healthz',
    operationId: 'getHealth',
    tags: ['operations'],
    summary: 'The process is alive',
    description: 'Never needs a token.',
    auth: false,
    responses: { 200: { description: 'Alive.', schema: Health } },
  },
  {
    method: 'get',
    path: '/readyz',
    operationId: 'getReadiness',
    tags: ['operations'],
    summary: 'The database takes a write, the worker pool is up and no thread is stuck',
    description:
      'Runs three checks, each `{name, ok, message?}` in `checks`: `database` (a real write of this process\'s heartbeat ' +
      'commits within 1 s; fails on a full disk or while another process holds the write lock), `pool` (started, not ' +
      'shutting down) and `threads` (no worker thread told to terminate is still alive after 2 s, stuck in a native ' +
      'call; see `offload_zombie_threads`). If one fails: 503 `unavailable` whose `error.details` is `{status, checks}`, ' +
      '`status` being `degraded` when only `threads` failed, else `unavailable`.',
    responses: { 200: { description: 'Ready to take jobs.', schema: Readiness } },
    errors: ['shutting_down', 'unavailable'],
  },
];
