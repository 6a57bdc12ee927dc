import Router from '@koa/router';
import { engineNow } from '../engine/clock.js';
import type { Engine } from '../engine/engine.js';
import { displayStatus } from '../engine/job.js';
import { AppError } from './errors.js';
import { assertPublicKind } from './public-kind.js';
import { toJobDocument } from './job-document.js';
import type { requireJsonBody } from './json-body.js';
import type { RouteDoc } from './openapi.js';
import { CreateJobBody, delayMsOf, JobAccepted, JobDocument, JobIdParams, JobList } from './schemas.js';
import { applyBulkAction, canRunAgain } from './bulk-actions.js';
import { BulkActionBody, BulkActionResult, ListJobsQuery, toListRequest } from './console-schemas.js';
import { readIdempotency } from './idempotency.js';
import { IdempotencyHeaders } from './resource-schemas.js';
import { streamJobEvents, type EventStreamLimiter } from './sse.js';
import { validate } from './validate.js';

export function createJobRoutes(engine: Engine, jsonBody: ReturnType<typeof requireJsonBody>, eventStreams: EventStreamLimiter): Router {
  const router = new Router({ prefix: '/jobs' });

  async function loadJob(id: unknown) {
    const params = validate(JobIdParams, { id }, 'path');
    const job = await engine.get(params.id);
    if (!job) throw new AppError('not_found', `No job with id ${params.id}.`);
    return job;
  }

  router.post('/', jsonBody, async (ctx) => {
    const body = validate(CreateJobBody, ctx.request.body, 'body');
    assertPublicKind(engine, body.kind);
    const { job, created } = await engine.enqueue({
      kind: body.kind,
      payload: body.payload,
      priority: body.priority,
      maxAttempts: body.max_attempts,
      timeoutMs: body.timeout_ms,
      delayMs: delayMsOf(body),
      ...readIdempotency(ctx, 'jobs', body),
    });
    ctx.status = created ? 202 : 200;
    ctx.set({ Location: `/jobs/${job.id}`, 'Retry-After': '1' });
    ctx.body = { job_id: job.id, status: displayStatus(job, engineNow()), status_url: `/jobs/${job.id}` } satisfies JobAccepted;
  });

  router.get('/', async (ctx) => {
    const query = validate(ListJobsQuery, ctx.query, 'query');
    const page = await engine.list({ ...toListRequest(query), limit: query.limit, cursor: query.cursor });
    ctx.body = { jobs: page.jobs.map((job) => toJobDocument(job)), next_cursor: page.nextCursor } satisfies JobList;
  });

  // Before /:id routes: `bulk-cancel` is not an id (which would answer 400 as a malformed one).
  router.post('/bulk-cancel', jsonBody, async (ctx) => {
    ctx.body = await applyBulkAction(engine, 'cancel', validate(BulkActionBody, ctx.request.body, 'body'));
  });
  router.post('/bulk-retry', jsonBody, async (ctx) => {
    ctx.body = await applyBulkAction(engine, 'retry', validate(BulkActionBody, ctx.request.body, 'body'));
  });

  router.post('/:id/retry', async (ctx) => {
    const job = await loadJob(ctx.params.id);
    if (!canRunAgain(job)) {
      throw new AppError('conflict', 'An import cannot run again: its upload is removed once it ends. Upload the file again.');
    }
    const result = await engine.retry(job.id);
    if (!result) throw new AppError('not_found', `No job with id ${job.id}.`);
    if (result.state === 'not_retryable') {
      throw new AppError('conflict', `The job is ${result.job.status}; only a failed or cancelled job can run again.`, { details: { status: result.job.status } });
    }
    ctx.status = 202;
    ctx.set({ Location: `/jobs/${job.id}`, 'Retry-After': '1' });
    ctx.body = toJobDocument(result.job);
  });

  router.get('/:id', async (ctx) => {
    const job = await loadJob(ctx.params.id);
    if (job.status === 'pending' || job.status === 'running') ctx.set('Retry-After', '1');
    ctx.body = toJobDocument(job, await engine.attempts(job.id));
  });

  router.get('/:id/events', async (ctx) => {
    streamJobEvents(ctx, engine, await loadJob(ctx.params.id), (job) => toJobDocument(job), eventStreams);
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

const retryAfter = { 'Retry-After': { description: 'Seconds to wait before polling again.' } };

/** The OpenAPI description of the routes above; test/openapi.test.ts keeps the two in step. */
export const jobRouteDocs: RouteDoc[] = [
  {
    method: 'post',
    path: '/jobs',
    operationId: 'createJob',
    tags: ['jobs'],
    summary: 'Start a job of a registered kind',
    description: 'The job row is committed before the answer: a 202 means the job survives a crash of the process.',
    headers: IdempotencyHeaders,
    body: CreateJobBody,
    responses: {
      202: {
        description: 'Accepted: the job is stored and pending.',
        schema: JobAccepted,
        headers: { Location: { description: 'The job: /jobs/{id}.' }, ...retryAfter },
      },
      200: {
        description: 'The job created earlier for the same Idempotency-Key and body.',
        schema: JobAccepted,
        headers: { Location: { description: 'The job: /jobs/{id}.' }, ...retryAfter },
      },
    },
    errors: ['invalid_request', 'payload_too_large', 'unsupported_media_type', 'unknown_kind', 'conflict', 'queue_full', 'shutting_down', 'unavailable'],
  },
  {
    method: 'get',
    path: '/jobs',
    operationId: 'listJobs',
    tags: ['jobs'],
    summary: 'List jobs, newest first, with cursor pagination; filter by kind, status, dataset, creation time, text',
    description:
      'kind, status and dataset read an index from the cursor on: a page is full unless the list ended. q, created_after and ' +
      'created_before are checked on the jobs of one window of 10,000 in creation order per page (a bounded scan): such a page may ' +
      'hold fewer jobs than `limit`, even none, and still have a `next_cursor`.',
    query: ListJobsQuery,
    responses: { 200: { description: 'One page of jobs.', schema: JobList } },
    errors: ['invalid_request'],
  },
  {
    method: 'get',
    path: '/jobs/{id}',
    operationId: 'getJob',
    tags: ['jobs'],
    summary: 'The job document',
    params: JobIdParams,
    responses: {
      200: { description: 'The job; `Retry-After` is set while it is not finished.', schema: JobDocument, headers: retryAfter },
    },
    errors: ['invalid_request', 'not_found'],
  },
  {
    method: 'get',
    path: '/jobs/{id}/events',
    operationId: 'streamJobEvents',
    tags: ['jobs'],
    summary: 'Server-Sent Events of one job until it finishes',
    params: JobIdParams,
    responses: {
      200: {
        description:
          'An event stream: `status` when the status or attempt changes, `progress` when only the progress does; each ' +
          "event's `data` is the job document (JobDocument). The stream ends after the terminal event.",
        contentType: 'text/event-stream',
      },
    },
    errors: ['invalid_request', 'not_found', 'too_many_streams'],
  },
  {
    method: 'post',
    path: '/jobs/{id}/retry',
    operationId: 'retryJob',
    tags: ['jobs'],
    summary: 'Run a failed or cancelled job again',
    description:
      'The same job goes back to pending, due now: its attempts count on (at least one more is allowed: max_attempts becomes ' +
      'max(max_attempts, attempts + 1)), error and result are cleared, its attempt_history is kept. 409 for a job in any other ' +
      'status, and for an import (its upload is gone).',
    params: JobIdParams,
    responses: {
      202: { description: 'Pending again.', schema: JobDocument, headers: { Location: { description: 'The job: /jobs/{id}.' }, ...retryAfter } },
    },
    errors: ['invalid_request', 'not_found', 'conflict', 'shutting_down', 'unavailable'],
  },
  ...(['cancel', 'retry'] as const).map((action): RouteDoc => ({
    method: 'post',
    path: `/jobs/bulk-${action}`,
    operationId: action === 'cancel' ? 'cancelJobs' : 'retryJobs',
    tags: ['jobs'],
    summary: action === 'cancel' ? 'Cancel every pending or running job matching a filter' : 'Run again every failed or cancelled job matching a filter',
    description:
      'The body is the filter of GET /jobs and a `limit`. Without any filter the body must say `"all": true` to mean every job ' +
      '(400 otherwise: an empty body is more often a lost filter than a wish); with one, `all` is refused. Each job is ' +
      `${action === 'cancel' ? 'cancelled as by DELETE /jobs/{id}' : 'retried as by POST /jobs/{id}/retry'}; \`more\` says to call again.`,
    body: BulkActionBody,
    responses: { 200: { description: 'What was changed.', schema: BulkActionResult } },
    errors: ['invalid_request', 'payload_too_large', 'unsupported_media_type', 'shutting_down', 'unavailable'],
  })),
  {
    method: 'delete',
    path: '/jobs/{id}',
    operationId: 'cancelJob',
    tags: ['jobs'],
    summary: 'Cancel a pending or running job',
    params: JobIdParams,
    responses: { 202: { description: 'Cancelled, or cancellation requested from the process running it.', schema: JobDocument } },
    errors: ['invalid_request', 'not_found', 'conflict', 'unavailable'],
  },
];
