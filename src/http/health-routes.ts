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
    if (!(await engine.isReady())) throw new AppError('unavailable', 'The database is not writable or the worker pool is not up.');
    const stats = engine.stats();
    ctx.body = { status: 'ready', threads: stats.threads, busy_threads: stats.busyThreads } satisfies Readiness;
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
    summary: 'The database is writable and the worker pool is up',
    responses: { 200: { description: 'Ready to take jobs.', schema: Readiness } },
    errors: ['shutting_down', 'unavailable'],
  },
];
