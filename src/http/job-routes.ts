import Router from '@koa/router';
import type { Engine } from '../engine/engine.js';
import { AppError } from './errors.js';
import { toJobDocument } from './job-document.js';
import { CreateJobBody, JobIdParams, ListJobsQuery } from './schemas.js';
import { streamJobEvents } from './sse.js';
import { validate } from './validate.js';
import { requireJsonBody } from './json-body.js';

export function createJobRoutes(engine: Engine, jsonBody: ReturnType<typeof requireJsonBody>): Router {
  const router = new Router({ prefix: '/jobs' });

  async function loadJob(id: unknown) {
    const params = validate(JobIdParams, { id }, 'path');
    const job = await engine.get(params.id);
    if (!job) throw new AppError('not_found', `No job with id ${params.id}.`);
    return job;
  }

  router.post('/', jsonBody, async (ctx) => {
    const body = validate(CreateJobBody, ctx.request.body, 'body');
    const job = await engine.enqueue({
      kind: body.kind,
      payload: body.payload,
      priority: body.priority,
      maxAttempts: body.max_attempts,
      timeoutMs: body.timeout_ms,
    });
    ctx.status = 202;
    ctx.set({ Location: `/jobs/${job.id}`, 'Retry-After': '1' });
    ctx.body = { job_id: job.id, status: job.status, status_url: `/jobs/${job.id}` };
  });

  router.get('/', async (ctx) => {
    const query = validate(ListJobsQuery, ctx.query, 'query');
    const page = await engine.list({ kind: query.kind, status: query.status as never, limit: query.limit, cursor: query.cursor });
    ctx.body = { jobs: page.jobs.map(toJobDocument), next_cursor: page.nextCursor };
  });

  router.get('/:id', async (ctx) => {
    const job = await loadJob(ctx.params.id);
    if (job.status === 'pending' || job.status === 'running') ctx.set('Retry-After', '1');
    ctx.body = toJobDocument(job);
  });

  router.get('/:id/events', async (ctx) => {
    streamJobEvents(ctx, engine, await loadJob(ctx.params.id), toJobDocument);
  });

  router.delete('/:id', async (ctx) => {
    const job = await loadJob(ctx.params.id);
    const result = await engine.cancel(job.id);
    if (!result) throw new AppError('not_found', `No job with id ${job.id}.`);
    if (result.state === 'already_finished') {
      throw new AppError('conflict', `The job already finished with status ${result.job.status}; there is nothing to cancel.`);
    }
    ctx.status = 202;
    ctx.body = toJobDocument(result.job);
  });

  return router;
}
