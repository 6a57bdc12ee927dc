import Router, { type RouterContext } from '@koa/router';
import type { Context, Middleware, Next } from 'koa';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AttemptReport } from '../engine/dispatcher.js';
import type { Engine } from '../engine/engine.js';
import type { Job } from '../engine/job.js';
import { VERSION } from '../version.js';
import type { RouteDoc } from './openapi.js';

const HOUR = 3600;
const DAY = 24 * HOUR;
/**
 * Seconds; from a trivial job to the longest a job may run (--max-timeout-ms, 7 days by default) or wait. Fixed, not
 * derived from the configuration: processes sharing a database must have the same buckets to be aggregated.
 */
const DURATION_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800,
  HOUR, 2 * HOUR, 4 * HOUR, 12 * HOUR, DAY, 3 * DAY, 7 * DAY,
];
/** Seconds; an answer, or a download or event stream to its end. */
const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, HOUR];
/**
 * The `route` of a request no route matched: an unknown path, a method the path does not have (405), or one
 * answered before routing (401, 421).
 */
const UNMATCHED = 'unmatched';
/** The label value of `error_code` when there is none (a success, or an attempt given back at shutdown). */
const NO_ERROR = 'none';

export interface Metrics {
  registry: Registry;
  /** The middleware that times every request into offload_http_request_duration_seconds; the app's first. */
  measureRequests: Middleware;
}

/**
 * Registers offload's metrics in `registry` (by default a new one: several apps may live in one process, so the
 * global registry is never used) and keeps them up to date from the engine's events. The engine knows nothing of
 * Prometheus; the gauges ask it at each scrape.
 */
export function createMetrics(engine: Engine, registry: Registry = new Registry()): Metrics {
  // Process metrics, heap, GC, and the event-loop delay (nodejs_eventloop_lag_*) that says whether jobs leak
  // CPU work into the main thread.
  collectDefaultMetrics({ register: registry });

  new Gauge({
    name: 'offload_build_info',
    help: 'Always 1; the labels say which offload and Node.js versions run.',
    labelNames: ['version', 'node_version'],
    registers: [registry],
  }).set({ version: VERSION, node_version: process.version }, 1);

  const attempts = new Counter({
    name: 'offload_job_attempts_total',
    help:
      'Attempts that ended, by kind, what became of the job (succeeded, failed, cancelled, retried, or released at ' +
      'shutdown) and error code (none on success). Lost attempts are counted by the process that recovered them.',
    labelNames: ['kind', 'status', 'error_code'],
    registers: [registry],
  });
  const finished = new Counter({
    name: 'offload_jobs_finished_total',
    help: 'Jobs that reached a final status through this process, by kind, status and error code (none on success).',
    labelNames: ['kind', 'status', 'error_code'],
    registers: [registry],
  });
  const runSeconds = new Histogram({
    name: 'offload_job_run_seconds',
    help: 'How long attempts run in this process ran, by kind and what became of the job (as in offload_job_attempts_total).',
    labelNames: ['kind', 'status'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const waitSeconds = new Histogram({
    name: 'offload_job_wait_seconds',
    help: 'Queue wait of attempts run in this process: from when the job could run (its run_at) to its start.',
    labelNames: ['kind'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });

  const httpSeconds = new Histogram({
    name: 'offload_http_request_duration_seconds',
    help: 'HTTP requests by route template ("unmatched" if none ran), method and status, to the end of the answer.',
    labelNames: ['route', 'method', 'status'],
    buckets: HTTP_BUCKETS,
    registers: [registry],
  });

  new Gauge({
    name: 'offload_jobs',
    help: 'Jobs pending or running now in the database (every process sharing it), by kind and status.',
    labelNames: ['kind', 'status'],
    registers: [registry],
    async collect() {
      await collectFromDatabase(this, () => engine.countByKindAndStatus(), (counts) => {
        for (const kind of engine.kinds) for (const status of ['pending', 'running']) this.set({ kind, status }, 0);
        for (const row of counts) this.set({ kind: row.kind, status: row.status }, row.count);
      });
    },
  });
  new Gauge({
    name: 'offload_oldest_pending_age_seconds',
    help:
      'Per kind, how long the pending job that has been due longest has waited since its run_at, in the database ' +
      '(every process sharing it); 0 when no pending job of the kind is due.',
    labelNames: ['kind'],
    registers: [registry],
    async collect() {
      await collectFromDatabase(this, () => engine.oldestDueAges(), (ages) => {
        for (const kind of engine.kinds) this.set({ kind }, 0);
        for (const { kind, ageMs } of ages) this.set({ kind }, ageMs / 1000);
      });
    },
  });
  new Gauge({
    name: 'offload_worker_threads',
    help: 'Worker threads of this process by state: busy (running a job) or idle.',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const { threads, busyThreads } = engine.stats();
      this.set({ state: 'busy' }, busyThreads);
      this.set({ state: 'idle' }, Math.max(0, threads - busyThreads));
    },
  });
  new Gauge({
    name: 'offload_zombie_threads',
    help:
      'Worker threads told to terminate (a job timed out or was cancelled) that had not exited 2 s later, stuck in a ' +
      'native call; each holds a core or memory until it returns. Not counted in offload_worker_threads.',
    registers: [registry],
    collect() {
      this.set(engine.stats().zombieThreads);
    },
  });

  engine.on('attemptEnd', (report) => {
    const status = attemptStatus(report);
    const errorCode = report.outcome.ok || status === 'released' ? NO_ERROR : report.outcome.error.code;
    attempts.inc({ kind: report.job.kind, status, error_code: errorCode });
    runSeconds.observe({ kind: report.job.kind, status }, report.durationMs / 1000);
    waitSeconds.observe({ kind: report.job.kind }, report.waitMs / 1000);
  });
  engine.on('recovered', (job) => {
    attempts.inc({ kind: job.kind, status: job.status === 'pending' ? 'retried' : job.status, error_code: 'lost' });
  });
  engine.on('finished', (job) => {
    finished.inc({ kind: job.kind, status: job.status, error_code: errorCodeOf(job) });
  });
  countScheduleRuns(engine, registry);
  return { registry, measureRequests: measureRequests(httpSeconds) };
}

function countScheduleRuns(engine: Engine, registry: Registry): void {
  const runs = new Counter({
    name: 'offload_schedule_runs_total',
    help: 'Jobs enqueued by schedules through this process, by kind (one per due time, whichever process took it).',
    labelNames: ['kind'],
    registers: [registry],
  });
  const skipped = new Counter({
    name: 'offload_schedule_runs_skipped_total',
    help: 'Due times of schedules dropped by policy, by kind and reason: catch_up (missed, the catch-up policy) or overlap.',
    labelNames: ['kind', 'reason'],
    registers: [registry],
  });
  const racesLost = new Counter({
    name: 'offload_schedule_races_lost_total',
    help: 'Looks at a due schedule that found another process (or a change) had written it first, and did nothing.',
    registers: [registry],
  });
  engine.on('scheduleRun', (report) => {
    const kind = report.schedule.job.kind;
    if (report.jobs.length > 0) runs.inc({ kind }, report.jobs.length);
    if (report.skippedCatchUp > 0) skipped.inc({ kind, reason: 'catch_up' }, report.skippedCatchUp);
    if (report.skippedOverlap > 0) skipped.inc({ kind, reason: 'overlap' }, report.skippedOverlap);
  });
  engine.on('scheduleRaceLost', () => racesLost.inc());
}

/** A gauge of database state: reset, then filled from `read`, or left empty if the database is closed (shutdown). */
async function collectFromDatabase<T>(gauge: Gauge, read: () => Promise<T>, fill: (value: T) => void): Promise<void> {
  gauge.reset();
  let value: T;
  try {
    value = await read();
  } catch {
    return; // no series rather than wrong ones
  }
  fill(value);
}

/**
 * Observed once the answer is over (like the request log line). `route` is the router's path template — never the
 * raw path, so ids do not become series; `method` is one of the few Node's parser accepts; `status` is "aborted"
 * when the client left before the answer's headers went out.
 */
function measureRequests(histogram: Histogram): Middleware {
  return async function requestMetrics(ctx: Context, next: Next): Promise<void> {
    const started = performance.now();
    ctx.res.once('close', () => {
      const route = (ctx as Context & Partial<RouterContext>)._matchedRoute;
      histogram.observe(
        {
          route: typeof route === 'string' ? route : UNMATCHED,
          method: ctx.method,
          status: ctx.res.headersSent ? String(ctx.res.statusCode) : 'aborted',
        },
        (performance.now() - started) / 1000,
      );
    });
    await next();
  };
}

function attemptStatus({ job, outcome }: AttemptReport): string {
  if (job.status !== 'pending') return job.status;
  return !outcome.ok && outcome.aborted === 'shutdown' ? 'released' : 'retried';
}

function errorCodeOf(job: Job): string {
  return job.status === 'succeeded' ? NO_ERROR : (job.error?.code ?? NO_ERROR);
}

export function createMetricsRoutes(registry: Registry): Router {
  const router = new Router();
  router.get('/metrics', async (ctx) => {
    const text = await registry.metrics();
    ctx.type = registry.contentType;
    ctx.body = text;
  });
  return router;
}

export const metricsRouteDocs: RouteDoc[] = [
  {
    method: 'get',
    path: '/metrics',
    operationId: 'getMetrics',
    tags: ['operations'],
    summary: 'Prometheus metrics (text exposition format 0.0.4)',
    description: 'The README\'s "Metrics" section lists every name, type and label.',
    responses: { 200: { description: 'The metrics.', contentType: 'text/plain' } },
  },
];
