import type Router from '@koa/router';
import Koa from 'koa';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Engine } from '../engine/engine.js';
import { Datasets } from '../datasets/datasets.js';
import { Exports } from '../exports/exports.js';
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
import { requireJsonBody } from './json-body.js';
import { createMetrics, createMetricsRoutes, metricsRouteDocs } from './metrics.js';
import { buildOpenApiDocument, createOpenApiRoutes, openApiRouteDocs, type RouteDoc } from './openapi.js';
import { logRequests } from './request-log.js';

export interface AppOptions {
  engine: Engine;
  logger: Logger;
  /** Bearer token required on every route but /healthz. */
  token?: string;
  /** Largest JSON request body, bytes. Default 1 MiB. */
  jsonLimitBytes?: number;
  /** Where offload's metrics are registered (to merge them with an embedder's). Default: a registry of this app's own. */
  metricsRegistry?: Registry;
  /** Largest dataset upload, bytes. Default 1 GiB. */
  maxUploadBytes?: number;
  /** How long finished export files are kept, ms (shown in the export document). Default 24 h. */
  resultTtlMs?: number;
  /** The dataset catalog; by default one on the engine's data directory, closed with the engine. */
  datasets?: Datasets;
  /** Largest single imported record (NDJSON line, CSV row), bytes. Default 16 MiB. */
  maxRecordBytes?: number;
  /**
   * When set, only loopback host names and these are answered (DNS-rebinding defence for a server bound to
   * loopback); undefined answers any `Host`.
   */
  allowedHosts?: readonly string[];
  /** Open event streams at most, in all and per client address. Defaults 1000 and 32. */
  maxEventStreams?: number;
  maxEventStreamsPerClient?: number;
}

/** The HTTP face of the engine. Routes stay thin: validate, call the engine, shape the answer. */
export function createApp({
  engine,
  logger,
  token,
  jsonLimitBytes = 1024 * 1024,
  metricsRegistry,
  maxUploadBytes = 1024 * 1024 * 1024,
  resultTtlMs = 24 * 3600 * 1000,
  maxRecordBytes,
  datasets = new Datasets(engine, { maxRecordBytes }),
  allowedHosts,
  maxEventStreams = 1000,
  maxEventStreamsPerClient = 32,
}: AppOptions): Koa {
  const app = new Koa();
  app.proxy = false;
  // handleErrors answers every error; this keeps Koa from printing them a second time.
  app.silent = true;
  const jsonBody = requireJsonBody(jsonLimitBytes);
  const metrics = createMetrics(engine, metricsRegistry);
  const eventStreams = new EventStreamLimiter(maxEventStreams, maxEventStreamsPerClient);

  // A route module adds its router and its OpenAPI descriptions here; test/openapi.test.ts checks they agree.
  const routeDocs: RouteDoc[] = [
    ...dashboardRouteDocs, ...healthRouteDocs, ...jobRouteDocs, ...datasetRouteDocs, ...exportRouteDocs, ...metricsRouteDocs, ...openApiRouteDocs,
  ];
  const routers: Router[] = [
    createDashboardRoutes(),
    createHealthRoutes(engine),
    createJobRoutes(engine, jsonBody, eventStreams),
    createDatasetRoutes(datasets, maxUploadBytes),
    createExportRoutes(engine, new Exports(engine, datasets, resultTtlMs), jsonBody, eventStreams),
    createMetricsRoutes(metrics),
    createOpenApiRoutes(() => buildOpenApiDocument(routeDocs, { version: VERSION, auth: Boolean(token) })),
  ];

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
