import Router from '@koa/router';
import type { Context } from 'koa';
import { DASHBOARD_HTML } from './dashboard-page.js';
import { DASHBOARD_JS } from './dashboard-script.js';
import { DASHBOARD_CSS } from './dashboard-style.js';
import type { RouteDoc } from './openapi.js';

/** The page's icon: an arrow down into a tray (work handed off). SVG, so one small file serves every size. */
export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="14" fill="#0b63c4"/>` +
  `<path d="M32 14v24m-10-10 10 10 10-10M16 46h32" stroke="#fff" stroke-width="6" fill="none" stroke-linecap="round" stroke-linejoin="round"/></svg>`;

// Nothing inline and nothing from elsewhere: the page's own script and stylesheet, its calls to the API, and no
// framing (frame-ancestors for browsers, X-Frame-Options for those that predate it).
const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

// no-cache: the files change with the server, and each answer is revalidated rather than kept across an upgrade.
function serveCompiledIn(type: string, body: string, headers: Record<string, string> = {}) {
  return (ctx: Context) => {
    ctx.type = type;
    ctx.set({ 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-cache', ...headers });
    ctx.body = body;
  };
}

/**
 * GET /, /dashboard.js, /dashboard.css, the icon: the dashboard page and its files. Served without a token: they carry no
 * data, and the page asks for the token itself.
 */
export function createDashboardRoutes(): Router {
  const router = new Router();
  router.get('/', serveCompiledIn('text/html; charset=utf-8', DASHBOARD_HTML, {
    'Content-Security-Policy': DASHBOARD_CSP,
    'X-Frame-Options': 'DENY',
  }));
  router.get('/dashboard.js', serveCompiledIn('text/javascript; charset=utf-8', DASHBOARD_JS));
  router.get('/dashboard.css', serveCompiledIn('text/css; charset=utf-8', DASHBOARD_CSS));
  // Browsers ask for /favicon.ico on their own; Chromium and Firefox take an SVG answered there.
  router.get('/favicon.svg', serveCompiledIn('image/svg+xml', FAVICON_SVG));
  router.get('/favicon.ico', serveCompiledIn('image/svg+xml', FAVICON_SVG));
  return router;
}

export const dashboardRouteDocs: RouteDoc[] = [
  {
    method: 'get',
    path: '/',
    operationId: 'dashboard',
    tags: ['dashboard'],
    summary: 'The dashboard: datasets and jobs with live progress, upload and export forms, cancel and download',
    description: 'Served with a Content-Security-Policy that allows no inline script or style and no framing.',
    auth: false,
    responses: { 200: { description: 'An HTML page; it loads /dashboard.js and /dashboard.css and calls the JSON API.', contentType: 'text/html' } },
  },
  {
    method: 'get',
    path: '/dashboard.js',
    operationId: 'dashboardScript',
    tags: ['dashboard'],
    summary: "The dashboard page's script",
    auth: false,
    responses: { 200: { description: 'JavaScript, compiled into the server.', contentType: 'text/javascript' } },
  },
  {
    method: 'get',
    path: '/dashboard.css',
    operationId: 'dashboardStyle',
    tags: ['dashboard'],
    summary: "The dashboard page's stylesheet",
    auth: false,
    responses: { 200: { description: 'CSS, compiled into the server.', contentType: 'text/css' } },
  },
  ...(['/favicon.svg', '/favicon.ico'] as const).map((path): RouteDoc => ({
    method: 'get',
    path,
    operationId: path === '/favicon.svg' ? 'faviconSvg' : 'favicon',
    tags: ['dashboard'],
    summary: "The dashboard's icon",
    auth: false,
    responses: { 200: { description: 'An SVG image (also at /favicon.ico, where browsers look for it).', contentType: 'image/svg+xml' } },
  })),
];
