import Router from '@koa/router';
import type { Engine } from '../engine/engine.js';
import type { ScheduleRequest } from '../engine/schedules.js';
import { AppError } from './errors.js';
import type { requireJsonBody } from './json-body.js';
import type { RouteDoc } from './openapi.js';
import { assertPublicKind } from './public-kind.js';
import { toScheduleDocument } from './schedule-document.js';
import {
  CreateScheduleBody, ListSchedulesQuery, ScheduleDocument, ScheduleIdParams, ScheduleList, UpdateScheduleBody,
} from './schedule-schemas.js';
import { validate } from './validate.js';

const RECENT_RUNS = 20;

export function createScheduleRoutes(engine: Engine, jsonBody: ReturnType<typeof requireJsonBody>): Router {
  const router = new Router({ prefix: '/schedules' });

  async function loadSchedule(id: unknown) {
    const params = validate(ScheduleIdParams, { id }, 'path');
    const schedule = await engine.schedules.get(params.id);
    if (!schedule) throw new AppError('not_found', `No schedule with id ${params.id}.`);
    return schedule;
  }

  router.post('/', jsonBody, async (ctx) => {
    const body = validate(CreateScheduleBody, ctx.request.body, 'body');
    assertPublicKind(engine, body.job.kind);
    assertTimeout(engine, body.job.timeout_ms);
    const schedule = await engine.schedules.create({ ...toTiming(body), ...toSettings(body), job: toTemplate(body.job) });
    ctx.status = 201;
    ctx.set('Location', `/schedules/${schedule.id}`);
    ctx.body = toScheduleDocument(schedule);
  });

  router.get('/', async (ctx) => {
    const query = validate(ListSchedulesQuery, ctx.query, 'query');
    const [createdAt, id] = query.cursor?.split(/\.(.*)/s) ?? [];
    const schedules = await engine.schedules.list(query.limit + 1, id === undefined ? undefined : { createdAt: Number(createdAt), id });
    const page = schedules.slice(0, query.limit);
    const last = page.at(-1);
    ctx.body = {
      schedules: page.map((schedule) => toScheduleDocument(schedule)),
      next_cursor: schedules.length > query.limit && last ? `${last.createdAt}.${last.id}` : null,
    } satisfies ScheduleList;
  });

  router.get('/:id', async (ctx) => {
    const schedule = await loadSchedule(ctx.params.id);
    ctx.body = toScheduleDocument(schedule, await engine.schedules.recentRuns(schedule.id, RECENT_RUNS));
  });

  router.patch('/:id', jsonBody, async (ctx) => {
    const current = await loadSchedule(ctx.params.id);
    const body = validate(UpdateScheduleBody, ctx.request.body, 'body');
    if (body.job) {
      assertPublicKind(engine, body.job.kind);
      assertTimeout(engine, body.job.timeout_ms);
    }
    const change: Partial<ScheduleRequest> = { ...toTiming(body), ...toSettings(body), ...(body.job ? { job: toTemplate(body.job) } : {}) };
    const schedule = await engine.schedules.update(current.id, change);
    if (!schedule) throw new AppError('not_found', `No schedule with id ${current.id}.`);
    ctx.body = toScheduleDocument(schedule);
  });

  router.delete('/:id', async (ctx) => {
    const params = validate(ScheduleIdParams, { id: ctx.params.id }, 'path');
    if (!(await engine.schedules.delete(params.id))) throw new AppError('not_found', `No schedule with id ${params.id}.`);
    ctx.status = 204;
  });

  return router;
}

type Body = Partial<CreateScheduleBody>;

function toTiming(body: Body): Partial<ScheduleRequest> {
  return { ...(body.cron === undefined ? {} : { cron: body.cron }), ...(body.interval_ms === undefined ? {} : { intervalMs: body.interval_ms }) };
}

/** The fields given, and only those: a PATCH leaves the others as they are. */
function toSettings(body: Body): Partial<ScheduleRequest> {
  const fields: Partial<ScheduleRequest> = { name: body.name, timeZone: body.time_zone, catchUp: body.catch_up, overlap: body.overlap, paused: body.paused };
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}

function toTemplate(job: CreateScheduleBody['job']): ScheduleRequest['job'] {
  return { kind: job.kind, payload: job.payload, priority: job.priority, maxAttempts: job.max_attempts, timeoutMs: job.timeout_ms };
}

/** As POST /jobs refuses it, with the field's path in the template. */
function assertTimeout(engine: Engine, timeoutMs: number | undefined): void {
  const max = engine.config.maxTimeoutMs;
  if (timeoutMs === undefined || timeoutMs <= max) return;
  const message = `The timeout of ${timeoutMs} ms is over this server's ceiling of ${max} ms.`;
  throw new AppError('invalid_request', message, { details: [{ in: 'body', path: 'job.timeout_ms', message, max_timeout_ms: max }] });
}

const location = { Location: { description: 'The schedule: /schedules/{id}.' } };

/** The OpenAPI description of the routes above; test/openapi.test.ts keeps the two in step. */
export const scheduleRouteDocs: RouteDoc[] = [
  {
    method: 'post',
    path: '/schedules',
    operationId: 'createSchedule',
    tags: ['schedules'],
    summary: 'Create a schedule: a job template enqueued on a cron expression or an interval',
    description:
      'Exactly one job per due time, however many processes share the database (a unique key on schedule and due time). ' +
      'Cron times are wall-clock times of time_zone: one that does not exist (spring forward) runs once at the next valid minute, ' +
      'one that occurs twice (fall back) runs once, at its first occurrence. Runs carry `ref` schedule:{id}.',
    body: CreateScheduleBody,
    responses: { 201: { description: 'Created.', schema: ScheduleDocument, headers: location } },
    errors: ['invalid_request', 'payload_too_large', 'unsupported_media_type', 'unknown_kind', 'unavailable'],
  },
  {
    method: 'get',
    path: '/schedules',
    operationId: 'listSchedules',
    tags: ['schedules'],
    summary: 'List schedules, oldest first, with cursor pagination',
    query: ListSchedulesQuery,
    responses: { 200: { description: 'One page of schedules.', schema: ScheduleList } },
    errors: ['invalid_request'],
  },
  {
    method: 'get',
    path: '/schedules/{id}',
    operationId: 'getSchedule',
    tags: ['schedules'],
    summary: 'The schedule document, with its latest runs',
    params: ScheduleIdParams,
    responses: { 200: { description: 'The schedule.', schema: ScheduleDocument } },
    errors: ['invalid_request', 'not_found'],
  },
  {
    method: 'patch',
    path: '/schedules/{id}',
    operationId: 'updateSchedule',
    tags: ['schedules'],
    summary: 'Change a schedule, pause or resume it',
    description:
      'The fields given replace the current ones (`job` whole). A new cron, interval or zone, and a resume, start the due times ' +
      'again from now: what was due while paused is not caught up.',
    params: ScheduleIdParams,
    body: UpdateScheduleBody,
    responses: { 200: { description: 'The changed schedule.', schema: ScheduleDocument } },
    errors: ['invalid_request', 'not_found', 'payload_too_large', 'unsupported_media_type', 'unknown_kind', 'unavailable'],
  },
  {
    method: 'delete',
    path: '/schedules/{id}',
    operationId: 'deleteSchedule',
    tags: ['schedules'],
    summary: 'Delete a schedule (the jobs it enqueued stay)',
    params: ScheduleIdParams,
    responses: { 204: { description: 'Deleted.' } },
    errors: ['invalid_request', 'not_found', 'unavailable'],
  },
];
