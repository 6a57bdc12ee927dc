import Router from '@koa/router';
import { DASHBOARD_HTML } from './dashboard-page.js';
import type { RouteDoc } from './openapi.js';

/** GET /: the dashboard page. Served without a token: it carries no data, and asks for the token itself. */
export function createDashboardRoutes(): Router {
  const router = new Router();
  router.get('/', (ctx) => {
    ctx.type = 'text/html; charset=utf-8';
    ctx.set({
      'Content-Security-Policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' blob:",
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': 'no-cache',
    });
    ctx.body = DASHBOARD_HTML;
  });
  return router;
}

export const dashboardRouteDocs: RouteDoc[] = [
  {
    method: 'get',
    path: '/',
    operationId: 'dashboard',
    tags: ['dashboard'],
    summary: 'The dashboard: datasets and jobs with live progress, upload and export forms, cancel and download',
    auth: false,
    responses: { 200: { description: 'An HTML page; it calls the JSON API.', contentType: 'text/html' } },
  },
];
