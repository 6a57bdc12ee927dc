import type { Context, Next } from 'koa';
import bodyParser from 'koa-bodyparser';
import { AppError } from './errors.js';

/** Parses a JSON body of at most `limitBytes`; anything but JSON is refused with 415 before it is read. */
export function requireJsonBody(limitBytes: number) {
  const parse = bodyParser({ enableTypes: ['json'], jsonLimit: `${limitBytes}b`, strict: true });
  return async function jsonBody(ctx: Context, next: Next): Promise<void> {
    const hasBody = Boolean(ctx.request.length) || ctx.request.get('Transfer-Encoding') !== '';
    if (!hasBody) throw new AppError('invalid_request', 'The request needs a JSON body.');
    if (!ctx.request.is('application/json')) {
      throw new AppError('unsupported_media_type', 'Send the request body as application/json.');
    }
    await parse(ctx, next);
  };
}
