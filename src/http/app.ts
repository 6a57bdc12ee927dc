import Koa from 'koa';
import type { Logger } from 'pino';
import type { Engine } from '../engine/engine.js';
import { requireToken } from './auth.js';
import { handleErrors } from './errors.js';
import { createHealthRoutes } from './health-routes.js';
import { createJobRoutes } from './job-routes.js';
import { requireJsonBody } from './json-body.js';
import { logRequests } from './request-log.js';

export interface AppOptions {
  engine: Engine;
  logger: Logger;
  /** Bearer token required on every route but /healthz. */
  token?: string;
  /** Largest JSON request body, bytes. Default 1 MiB. */
  jsonLimitBytes?: number;
}

/** The HTTP face of the engine. Routes stay thin: validate, call the engine, shape the answer. */
export function createApp({ engine, logger, token, jsonLimitBytes = 1024 * 1024 }: AppOptions): Koa {
  const app = new Koa();
  app.proxy = false;
  // handleErrors answers every error; this keeps Koa from printing them a second time.
  app.silent = true;
  const jsonBody = requireJsonBody(jsonLimitBytes);
  app.use(logRequests(logger));
  app.use(handleErrors(logger));
  if (token) app.use(requireToken(token));
  for (const router of [createHealthRoutes(engine), createJobRoutes(engine, jsonBody)]) {
    app.use(router.routes());
    app.use(router.allowedMethods({ throw: true }));
  }
  return app;
}
