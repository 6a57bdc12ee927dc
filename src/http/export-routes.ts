import Router from '@koa/router';
import type { Engine } from '../engine/engine.js';
import { engineNow } from '../engine/clock.js';
import { displayStatus, type Job } from '../engine/job.js';
import { EXPORT_KIND } from '../contracts/export-contract.js';
import type { Exports } from '../exports/exports.js';
import { AppError } from './errors.js';
import { sendFile } from './file-download.js';
import { readIdempotency } from './idempotency.js';
import { toJobDocument } from './job-document.js';
import type { RouteDoc } from './openapi.js';
import {
  AcceptedExport,
  CreateExportBody,
  ExportDocument,
  ExportList,
  IdempotencyHeaders,
  ListExportsQuery,
  ResourceIdParams,
} from './resource-schemas.js';
import { delayMsOf } from './schemas.js';
import { streamJobEvents, type EventStreamLimiter } from './sse.js';
import { validate } from './validate.js';
import type { requireJsonBody } from './json-body.js';

export function createExportRoutes(
  engine: Engine,
  exports: Exports,
  jsonBody: ReturnType<typeof requireJsonBody>,
  eventStreams: EventStreamLimiter,
): Router {
  const router = new Router({ prefix: '/exports' });

  async function toExportDocument(job: Job, withAttempts = false) {
    const attempts = withAttempts ? await engine.attempts(job.id) : undefined;
    return { ...toJobDocument(job, attempts), result: await exports.describeResult(job) };
  }

  async function loadExport(id: unknown) {
    const params = validate(ResourceIdParams, { id }, 'path');
    const job = await exports.get(params.id);
    if (!job) throw new AppError('not_found', `No export with id ${params.id}.`);
    return job;
  }

  router.post('/', jsonBody, async (ctx) => {
    const body = validate(CreateExportBody, ctx.request.body, 'body');
    const { job, created } = await exports.create({ ...body, delayMs: delayMsOf(body) }, readIdempotency(ctx, 'exports', body));
    ctx.status = created ? 202 : 200;
    ctx.set({ Location: `/exports/${job.id}`, 'Retry-After': '1' });
    ctx.body = { job_id: job.id, status: displayStatus(job, engineNow()), status_url: `/exports/${job.id}` };
  });

  router.get('/', async (ctx) => {
    const query = validate(ListExportsQuery, ctx.query, 'query');
    const page = await engine.list({ kind: EXPORT_KIND, status: query.status, limit: query.limit, cursor: query.cursor });
    ctx.body = { exports: await Promise.all(page.jobs.map((job) => toExportDocument(job))), next_cursor: page.nextCursor };
  });

  router.get('/:id', async (ctx) => {
    const job = await loadExport(ctx.params.id);
    if (job.status === 'pending' || job.status === 'running') ctx.set('Retry-After', '1');
    ctx.body = await toExportDocument(job, true);
  });

  router.get('/:id/events', async (ctx) => {
    // The SSE document is the plain job document: the file checks of describeResult are not worth a stat per event.
    streamJobEvents(ctx, engine, await loadExport(ctx.params.id), (job) => toJobDocument(job), eventStreams);
  });

  router.get('/:id/download', async (ctx) => {
    const { result, path, stats } = await exports.file(await loadExport(ctx.params.id));
    sendFile(ctx, { path, size: stats.size, mtime: stats.mtime, contentType: result.content_type, filename: result.filename, contentHash: result.sha256 });
  });

  router.delete('/:id', async (ctx) => {
    const outcome = await exports.remove(await loadExport(ctx.params.id));
    if (outcome.state === 'deleted') {
      ctx.status = 204;
      return;
    }
    ctx.status = 202;
    ctx.body = await toExportDocument(outcome.job);
  });

  return router;
}
const retryAfter = { 'Retry-After': { description: 'Seconds to wait before polling again.' } };

/** The OpenAPI description of the routes above; test/openapi.test.ts keeps the two in step. */
export const exportRouteDocs: RouteDoc[] = [
  {
    method: 'post',
    path: '/exports',
    operationId: 'createExport',
    tags: ['exports'],
    summary: 'Export a dataset to CSV, NDJSON, JSON, XLSX or Parquet (optionally gzip)',
    description: 'The job row is committed before the answer. The dataset and columns are checked now.',
    headers: IdempotencyHeaders,
    body: CreateExportBody,
    responses: {
      202: {
        description: 'Accepted: the export job is stored and pending.',
        schema: AcceptedExport,
        headers: { Location: { description: 'The export: /exports/{id}.' }, ...retryAfter },
      },
      200: {
        description: 'The export made earlier for the same Idempotency-Key and body.',
        schema: AcceptedExport,
        headers: { Location: { description: 'The export: /exports/{id}.' }, ...retryAfter },
      },
    },
    errors: ['invalid_request', 'payload_too_large', 'unsupported_media_type', 'dataset_not_found', 'unknown_column', 'conflict', 'queue_full', 'shutting_down', 'unavailable'],
  },
  {
    method: 'get',
    path: '/exports',
    operationId: 'listExports',
    tags: ['exports'],
    summary: 'List exports, newest first, with cursor pagination',
    query: ListExportsQuery,
    responses: { 200: { description: 'One page of exports.', schema: ExportList } },
    errors: ['invalid_request'],
  },
  {
    method: 'get',
    path: '/exports/{id}',
    operationId: 'getExport',
    tags: ['exports'],
    summary: 'The export job document; `result` says where to download the file and until when',
    params: ResourceIdParams,
    responses: { 200: { description: 'The export.', schema: ExportDocument, headers: retryAfter } },
    errors: ['invalid_request', 'not_found'],
  },
  {
    method: 'get',
    path: '/exports/{id}/events',
    operationId: 'streamExportEvents',
    tags: ['exports'],
    summary: 'Server-Sent Events of one export until it finishes',
    params: ResourceIdParams,
    responses: {
      200: { description: 'An event stream like GET /jobs/{id}/events; `data` is the job document.', contentType: 'text/event-stream' },
    },
    errors: ['invalid_request', 'not_found', 'too_many_streams'],
  },
  {
    method: 'get',
    path: '/exports/{id}/download',
    operationId: 'downloadExport',
    tags: ['exports'],
    summary: 'The exported file, with Content-Length, ETag (sha256) and Range support',
    params: ResourceIdParams,
    responses: {
      200: { description: 'The whole file.', contentType: ['text/csv', 'application/x-ndjson', 'application/json', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 'application/vnd.apache.parquet', 'application/gzip'] },
      206: { description: 'The requested byte range.', contentType: 'application/octet-stream' },
      304: { description: 'Not modified (If-None-Match matched the ETag).' },
    },
    errors: ['invalid_request', 'not_found', 'not_ready', 'conflict', 'gone', 'file_unavailable', 'range_not_satisfiable'],
  },
  {
    method: 'delete',
    path: '/exports/{id}',
    operationId: 'deleteExport',
    tags: ['exports'],
    summary: 'Cancel a pending or running export (202), or delete the file of a finished one (204)',
    params: ResourceIdParams,
    responses: {
      202: { description: 'Cancelled, or cancellation requested from the process running it.', schema: ExportDocument },
      204: { description: 'The file was deleted; the job stays as history.' },
    },
    errors: ['invalid_request', 'not_found', 'unavailable'],
  },
];
