import { callbackUrlProblem, type AllowedHost } from '../callbacks/callback-address.js';
import { AppError } from './errors.js';

/** A body's `callback_url`, checked against the server's allow-list: 400 invalid_request for one it may not use. */
export function checkCallbackUrl(url: string | undefined, allow: readonly AllowedHost[]): string | undefined {
  if (url === undefined) return undefined;
  const problem = callbackUrlProblem(url, allow);
  if (problem) {
    throw new AppError('invalid_request', `Invalid body field "callback_url": ${problem}.`, {
      details: [{ in: 'body', path: 'callback_url', message: problem }],
    });
  }
  return url;
}
