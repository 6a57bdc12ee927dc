// The parts of the OpenAPI document that belong to no single route: tags, the security scheme, and the answers
// Node's HTTP parser gives to any request before a route sees it (src/http/connection-limits.ts).
import type { ErrorCode } from './error-codes.js';

/** Every tag an operation may carry, with its description; RouteDoc.tags is typed by these names. */
export const API_TAGS = Object.freeze({
  dashboard: 'The built-in web dashboard: one page, its script and its stylesheet (served without the token).',
  datasets: 'Uploaded CSV or NDJSON tables, imported by a job of kind `import`.',
  exports: 'Files written from a dataset by a job of kind `export`, and their download.',
  jobs: 'Jobs of the kinds registered with --job: start, poll, follow, cancel, list.',
  operations: 'Liveness, readiness, metrics and this document.',
  schedules: 'Jobs enqueued on a cron expression or an interval, with DST, catch-up and overlap policies.',
} as const);
export type ApiTag = keyof typeof API_TAGS;

export const BEARER_SCHEME = 'bearerAuth';

/**
 * `security` at the root of the document. With a token, every operation needs it (the open ones say `security:
 * []`). Without one the server checks no `Authorization` header: `{}` (anonymous) comes first, and the bearer
 * scheme stays listed so that a client generated from a local server without --token also works with one that
 * has it.
 */
export function rootSecurity(auth: boolean): Array<Record<string, string[]>> {
  return auth ? [{ [BEARER_SCHEME]: [] }] : [{}, { [BEARER_SCHEME]: [] }];
}

export const SECURITY_SCHEMES = Object.freeze({
  [BEARER_SCHEME]: {
    type: 'http',
    scheme: 'bearer',
    description: "The server's --token, as `Authorization: Bearer <token>`. Checked only when the server was started with one.",
  },
});

/**
 * Answers to any request, whatever its path, written by the HTTP server below Koa before routing: in the error
 * shape, but without `X-Request-Id` (no middleware ran). Each operation refers to them.
 */
export const TRANSPORT_ERRORS: Readonly<Record<string, { status: number; code: ErrorCode }>> = Object.freeze({
  RequestTimeout: { status: 408, code: 'request_timeout' },
  HeadersTooLarge: { status: 431, code: 'headers_too_large' },
});

export const RESPONSE_REF = '#/components/responses/';
