import type Router from '@koa/router';
import Koa from 'koa';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Engine } from '../engine/engine.js';
import type { Datasets } from '../datasets/datasets.js';
import type { Exports } from '../exports/exports.js';
import { createDashboardRoutes, dashboardRouteDocs } from './dashboard-routes.js';
import { createDatasetRoutes, datasetRouteDocs } from './dataset-routes.js';
import { createExportRoutes, exportRouteDocs } from './export-routes.js';
import { VERSION } from '../version.js';
import { requireToken } from './auth.js';
import { handleErrors } from './errors.js';
import { allowOnlyHosts, refuseContentEncoding, refuseUnknownMethods, setSecurityHeaders } from './guards.js';
import { EventStreamLimiter } from './sse.js';
import { createHealthRoutes, healthRouteDocs } from './health-routes.js';
import { createJobRoutes, jobRouteDocs } from './job-routes.js';
import { createEventRoutes, eventRouteDocs } from './event-routes.js';
import { JobFeed } from './job-feed.js';
import { toJobSummary } from './job-document.js';
import { createScheduleRoutes, scheduleRouteDocs } from './schedule-routes.js';
import { createStatsRoutes, statsRouteDocs } from './stats-routes.js';
import { requireJsonBody } from './json-body.js';
import { createMetrics, createMetricsRoutes, metricsRouteDocs } from './metrics.js';
import { buildOpenApiDocument, createOpenApiRoutes, openApiRouteDocs, type RouteDoc } from './openapi.js';
import { logRequests } from './request-log.js';

export interface AppOptions {
  engine: Engine;
  datasets: Datasets;
  exports: Exports;
  logger: Logger;
  /** Bearer token required on every route but /healthz and the dashboard's files. */
  token?: string;
  /** Largest JSON request body, bytes. */
  jsonLimitBytes?: number;
  /** Where offload's metrics are registered (to merge them with an embedder's). Default: a registry of this app's own. */
  metricsRegistry?: Registry;
  /** Largest dataset upload, bytes. */
  maxUploadBytes?: number;
  /**
   * When set, only loopback host names and these are answered (DNS-rebinding defence for a server bound to
   * loopback); undefined answers any `Host`.
   */
  allowedHosts?: readonly string[];
  /** Open event streams at most, in all and per client address. */
  maxEventStreams?: number;
  maxEventStreamsPerClient?: number;
}

/** The HTTP layer's defaults; the command line's flags default to these too. */
export const APP_DEFAULTS = Object.freeze({
  jsonLimitBytes: 1024 * 1024,
  maxUploadBytes: 1024 * 1024 * 1024,
  maxEventStreams: 1000,
  maxEventStreamsPerClient: 32,
});

/**
 * The HTTP face of the engine and the domain, which it is handed (src/compose.ts builds them). Routes stay thin:
 * validate, call, shape the answer.
 */
export function createApp({
  engine,
  datasets,
  exports,
  logger,
  token,
  jsonLimitBytes = APP_DEFAULTS.jsonLimitBytes,
  metricsRegistry,
  maxUploadBytes = APP_DEFAULTS.maxUploadBytes,
  allowedHosts,
  maxEventStreams = APP_DEFAULTS.maxEventStreams,
  maxEventStreamsPerClient = APP_DEFAULTS.maxEventStreamsPerClient,
}: AppOptions): Koa {
  const app = new Koa();
  app.proxy = false;
  // handleErrors answers every error; this keeps Koa from printing them a second time.
  app.silent = true;
  const jsonBody = requireJsonBody(jsonLimitBytes);
  const metrics = createMetrics(engine, metricsRegistry);
  const eventStreams = new EventStreamLimiter(maxEventStreams, maxEventStreamsPerClient);
  const feed = new JobFeed(engine, toJobSummary);

  // A route module adds its router and its OpenAPI descriptions here; test/openapi.test.ts checks they agree.
  const routeDocs: RouteDoc[] = [
    ...dashboardRouteDocs, ...healthRouteDocs, ...jobRouteDocs, ...eventRouteDocs, ...datasetRouteDocs, ...exportRouteDocs, ...scheduleRouteDocs, ...statsRouteDocs,
    ...metricsRouteDocs, ...openApiRouteDocs,
  ];
  const routers: Router[] = [
    createDashboardRoutes(),
    createHealthRoutes(engine),
    createJobRoutes(engine, jsonBody, eventStreams),
    createEventRoutes(feed, eventStreams),
    createStatsRoutes(engine),
    createDatasetRoutes(datasets, maxUploadBytes),
    createExportRoutes(engine, exports, jsonBody, eventStreams),
    createScheduleRoutes(engine, jsonBody),
    createMetricsRoutes(metrics.registry),
    createOpenApiRoutes(() => buildOpenApiDocument(routeDocs, { version: VERSION, auth: Boolean(token) })),
  ];

  app.use(metrics.measureRequests);
  app.use(setSecurityHeaders());
  app.use(logRequests(logger));
  app.use(handleErrors(logger));
  if (allowedHosts) app.use(allowOnlyHosts(allowedHosts));
  app.use(refuseUnknownMethods());
  if (token) app.use(requireToken(token));
  app.use(refuseContentEncoding());
  for (const router of routers) {
    app.use(router.routes());
    app.use(router.allowedMethods({ throw: true }));
  }
  return app;
}
