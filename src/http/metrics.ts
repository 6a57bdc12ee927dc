import Router from '@koa/router';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AttemptReport } from '../engine/dispatcher.js';
import type { Engine } from '../engine/engine.js';
import type { Job } from '../engine/job.js';
import { VERSION } from '../version.js';
import type { RouteDoc } from './openapi.js';

/** Seconds; from a trivial job to hours-long exports. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200];
/** The label value of `error_code` when there is none (a success, or an attempt given back at shutdown). */
const NO_ERROR = 'none';

/**
 * Registers offload's metrics in `registry` (by default a new one: several apps may live in one process, so the
 * global registry is never used) and keeps them up to date from the engine's events. The engine knows nothing of
 * Prometheus; the gauges ask it at each scrape.
 */
export function createMetrics(engine: Engine, registry: Registry = new Registry()): Registry {
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

  new Gauge({
    name: 'offload_jobs',
    help: 'Jobs pending or running now in the database (every process sharing it), by kind and status.',
    labelNames: ['kind', 'status'],
    registers: [registry],
    async collect() {
      this.reset();
      let counts;
      try {
        counts = await engine.countByKindAndStatus();
      } catch {
        return; // the database is closed (shutdown): no series rather than wrong ones
      }
      for (const kind of engine.kinds) for (const status of ['pending', 'running']) this.set({ kind, status }, 0);
      for (const row of counts) this.set({ kind: row.kind, status: row.status }, row.count);
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
  return registry;
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
