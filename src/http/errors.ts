import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { DomainError, type DomainErrorCode } from '../domain-error.js';
import { EngineError, type EngineErrorCode } from '../engine/engine-error.js';
import { ErrorCodes, type ErrorCode } from './error-codes.js';
import type { ErrorResponse } from './schemas.js';

export { ErrorCodes, ErrorDocs, type ErrorCode } from './error-codes.js';

/** An error meant for the client: its message is shown, and it carries its status and extra headers. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;
  readonly headers: Record<string, string>;
  readonly expose = true;

  constructor(code: ErrorCode, message: string, options: { details?: unknown; headers?: Record<string, string>; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = ErrorCodes[code];
    this.details = options.details;
    this.headers = options.headers ?? {};
  }
}

const ENGINE_ERRORS: Record<EngineErrorCode, (err: EngineError) => AppError> = {
  unknown_kind: (err) => new AppError('unknown_kind', err.message),
  queue_full: (err) => new AppError('queue_full', err.message, { headers: { 'Retry-After': '5' } }),
  shutting_down: (err) => new AppError('shutting_down', err.message, { headers: { 'Retry-After': '10' } }),
  invalid_option: (err) => new AppError('invalid_request', err.message),
  idempotency_conflict: (err) => new AppError('conflict', err.message),
  // Only enqueue raises it, and every route that enqueues takes the timeout as the body field `timeout_ms`.
  timeout_too_long: (err) =>
    new AppError('invalid_request', err.message, { details: [{ in: 'body', path: 'timeout_ms', message: err.message, ...err.details }] }),
};

const DOMAIN_ERRORS: Record<DomainErrorCode, (err: DomainError) => AppError> = {
  dataset_not_found: (err) => new AppError('dataset_not_found', err.message),
  dataset_not_ready: (err) => new AppError('conflict', err.message),
  dataset_in_use: (err) => new AppError('conflict', err.message),
  unknown_column: (err) => new AppError('unknown_column', err.message, { details: err.details }),
  // The rest of the upload is not read: the connection cannot be reused.
  upload_too_large: (err) => new AppError('payload_too_large', err.message, { headers: { Connection: 'close' } }),
  upload_empty: (err) => new AppError('invalid_request', err.message),
  export_not_ready: (err) => new AppError('not_ready', err.message, { headers: { 'Retry-After': '1' } }),
  export_failed: (err) => new AppError('conflict', err.message),
  export_gone: (err) => new AppError('gone', err.message),
  export_file_unavailable: (err) => new AppError('file_unavailable', err.message, { details: err.details }),
};

/** Turns a zod failure into the 400 answer, with one entry per problem. */
export function invalidRequest(error: z.ZodError, where: 'body' | 'query' | 'path' | 'header'): AppError {
  const details = error.issues.map((issue) => ({
    in: where,
    path: issue.path.join('.'),
    message: issue.message,
  }));
  const first = details[0];
  const message = first ? `Invalid ${where}${first.path ? ` field "${first.path}"` : ''}: ${first.message}` : `Invalid ${where}.`;
  return new AppError('invalid_request', message, { details });
}

/** Maps anything thrown below it to an AppError; unknown errors become 500 with a generic message. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof EngineError) return ENGINE_ERRORS[err.code](err);
  if (err instanceof DomainError) return DOMAIN_ERRORS[err.code](err);
  const status = (err as { status?: unknown })?.status;
  const type = (err as { type?: unknown })?.type;
  const code = (err as { code?: unknown })?.code;
  // Errors from koa-bodyparser (raw-body / co-body) and @koa/router carry a status and a type.
  if (status === 413 || type === 'entity.too.large') return new AppError('payload_too_large', 'The request body is larger than this server accepts.', { cause: err });
  if (status === 415) {
    const what = type === 'charset.unsupported' ? 'charset' : type === 'encoding.unsupported' ? 'Content-Encoding' : 'content type';
    return new AppError('unsupported_media_type', `This ${what} is not supported here.`, { cause: err });
  }
  // @koa/router answers 501 for a method it does not know at all (TRACE, PROPFIND, …): to a client, still a 405.
  if (status === 405 || status === 501) return new AppError('method_not_allowed', 'This method is not allowed on this path.', { cause: err });
  // The database refused a write (locked by another process past the wait, disk full, read-only): not the client's fault.
  if (typeof code === 'string' && code.startsWith('SQLITE_')) {
    return new AppError('unavailable', 'The database cannot take writes right now (locked, full or read-only); try again shortly.', {
      headers: { 'Retry-After': '2' },
      cause: err,
    });
  }
  if (err instanceof URIError) return new AppError('invalid_request', 'The request path or query is not valid percent-encoded UTF-8.', { cause: err });
  if (status === 400) return new AppError('invalid_request', 'The request body is not valid JSON.', { cause: err });
  if (status === 404) return new AppError('not_found', 'No such resource.', { cause: err });
  return new AppError('internal_error', 'The server failed to handle the request.', { cause: err });
}

const REPRESENTATION_HEADERS = [
  'Content-Type', 'Content-Length', 'Content-Disposition', 'Content-Range', 'Content-Encoding', 'ETag', 'Last-Modified', 'Accept-Ranges',
] as const;

/**
 * Koa would stringify an object body after every middleware has returned, where a failure (a value JSON cannot
 * represent) becomes a plain-text 500 that no middleware sees. Done here, it fails inside the error handling.
 */
function serializeJsonBody(ctx: Context): void {
  const body: unknown = ctx.body;
  if (body === null || typeof body !== 'object' || Buffer.isBuffer(body) || typeof (body as { pipe?: unknown }).pipe === 'function') return;
  const text = JSON.stringify(body);
  ctx.body = text;
  ctx.type = 'application/json; charset=utf-8';
}

/** The one place where errors become responses: `{ "error": { code, message, details } }`, never a stack. */
export function handleErrors(logger: Logger) {
  return async function errorMiddleware(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
      if (ctx.status === 404 && ctx.body == null) throw new AppError('not_found', `No route for ${ctx.method} ${ctx.path}.`);
      serializeJsonBody(ctx);
    } catch (err) {
      const appError = toAppError(err);
      if (appError.status >= 500 && appError.code === 'internal_error') {
        logger.error({ err, method: ctx.method, path: ctx.path }, 'request failed');
      } else if (appError.code === 'unavailable') {
        logger.warn({ err, method: ctx.method, path: ctx.path }, 'request refused: the database is unavailable');
      }
      // Whatever the route had set for the answer it meant to give (a download's type, name, ETag) is not this one's.
      for (const header of REPRESENTATION_HEADERS) ctx.remove(header);
      ctx.status = appError.status;
      ctx.set(appError.headers);
      const body: ErrorResponse = {
        error: { code: appError.code, message: appError.message, ...(appError.details === undefined ? {} : { details: appError.details }) },
      };
      ctx.body = body;
    }
  };
}
