import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'koa';
import { AppError } from './errors.js';

// The dashboard page holds no data: it asks the user for the token and sends it with each API call.
export const OPEN_PATHS: ReadonlySet<string> = new Set(['/healthz', '/', '/dashboard.js', '/dashboard.css', '/favicon.svg', '/favicon.ico']);

/** Bearer-token check on every route but /healthz and the dashboard page; compares digests so the time taken says nothing of the token. */
export function requireToken(token: string) {
  const expected = createHash('sha256').update(token).digest();
  return async function auth(ctx: Context, next: Next): Promise<void> {
    if (OPEN_PATHS.has(ctx.path)) return next();
    const match = /^Bearer (.+)$/.exec(ctx.get('Authorization'));
    const offered = createHash('sha256').update(match?.[1] ?? '').digest();
    if (!match || !timingSafeEqual(offered, expected)) {
      throw new AppError('unauthorized', 'Send Authorization: Bearer <token> with the token this server was started with.', {
        headers: { 'WWW-Authenticate': 'Bearer' },
      });
    }
    return next();
  };
}
