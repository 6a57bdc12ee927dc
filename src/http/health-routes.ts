import Router from '@koa/router';
import type { Engine } from '../engine/engine.js';
import { AppError } from './errors.js';

export function createHealthRoutes(engine: Engine): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    if (engine.isClosing) throw new AppError('shutting_down', 'The server is shutting down.', { headers: { 'Retry-After': '10' } });
    if (!(await engine.isReady())) throw new AppError('unavailable', 'The database is not writable or the worker pool is not up.');
    const stats = engine.stats();
    ctx.body = { status: 'ready', threads: stats.threads, busy_threads: stats.busyThreads };
  });
  return router;
}
