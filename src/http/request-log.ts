import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Logger } from 'pino';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** One log line per request, with a request id that is echoed in `X-Request-Id` (the client's, if it sent a sane one). */
export function logRequests(logger: Logger) {
  return async function requestLog(ctx: Context, next: Next): Promise<void> {
    const started = performance.now();
    const offered = ctx.get('X-Request-Id');
    const requestId = REQUEST_ID.test(offered) ? offered : randomUUID();
    ctx.state.requestId = requestId;
    ctx.set('X-Request-Id', requestId);
    // Logged once the answer is really over, with the status that went out (a stream may still fail after the
    // middleware returned) and whether the client left before the end.
    ctx.res.once('close', () => {
      logger.info(
        {
          request_id: requestId,
          method: ctx.method,
          path: ctx.path,
          status: ctx.res.statusCode,
          duration_ms: Math.round((performance.now() - started) * 10) / 10,
          ...(ctx.res.writableFinished ? {} : { aborted: true }),
        },
        'request',
      );
    });
    await next();
  };
}
