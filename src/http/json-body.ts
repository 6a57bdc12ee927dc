import type { Context, Next } from 'koa';
import bodyParser from 'koa-bodyparser';
import { AppError } from './errors.js';

/**
 * The deepest nesting a JSON body may have. JSON.parse takes any depth, but JSON.stringify overflows the stack
 * at a few thousand levels (4,200 was seen to break every later page of GET /jobs), and SQLite's JSON functions
 * stop at 1,000. No job payload needs more than a few levels.
 */
export const MAX_JSON_DEPTH = 64;

/** Parses a JSON body of at most `limitBytes` and `MAX_JSON_DEPTH` levels; anything but JSON is refused with 415 before it is read. */
export function requireJsonBody(limitBytes: number) {
  const parse = bodyParser({ enableTypes: ['json'], jsonLimit: `${limitBytes}b`, strict: true });
  return async function jsonBody(ctx: Context, next: Next): Promise<void> {
    const hasBody = Boolean(ctx.request.length) || ctx.request.get('Transfer-Encoding') !== '';
    if (!hasBody) throw new AppError('invalid_request', 'The request needs a JSON body.');
    if (!ctx.request.is('application/json')) {
      throw new AppError('unsupported_media_type', 'Send the request body as application/json.');
    }
    // JSON is UTF-8 (RFC 8259 §8.1); a label naming another charset is a client mistake worth saying.
    const charset = ctx.request.charset.toLowerCase();
    if (charset !== '' && charset !== 'utf-8' && charset !== 'utf8') {
      throw new AppError('unsupported_media_type', 'Send JSON as UTF-8 (charset=utf-8, or no charset).');
    }
    await parse(ctx, async () => {
      if (depthExceeds(ctx.request.body, MAX_JSON_DEPTH)) {
        throw new AppError('invalid_request', `The JSON body is nested deeper than ${MAX_JSON_DEPTH} levels.`, {
          details: [{ in: 'body', path: '', message: `nested deeper than ${MAX_JSON_DEPTH} levels`, max_depth: MAX_JSON_DEPTH }],
        });
      }
      await next();
    });
  };
}

/** Iterative, so that the check itself cannot overflow the stack on the bodies it exists to refuse. */
export function depthExceeds(value: unknown, maxDepth: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth > maxDepth) return true;
    for (const child of Array.isArray(current) ? current : Object.values(current)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}
