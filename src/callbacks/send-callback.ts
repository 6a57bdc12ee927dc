// One POST of a completion callback: never follows a redirect, never reads the answer's body, gives up after
// `timeoutMs`, and (unless the host is allowed) connects only to an address that is not internal — checked on the
// address the name resolved to, by the lookup the socket itself uses, so DNS rebinding cannot slip past the check.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { hostOf, isInternalAddress } from './callback-address.js';

export interface CallbackAnswer {
  statusCode: number | null;
  /** Why it did not count as delivered; null for a 2xx answer. */
  error: string | null;
  /** The address may not be reached: trying again will not help. */
  refused: boolean;
}

const REFUSED = 'ERR_CALLBACK_ADDRESS_REFUSED';

const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
    if (err) return callback(err, '', 0);
    const internal = addresses.find((entry) => isInternalAddress(entry.address));
    if (internal) {
      const refusal = Object.assign(new Error(`${hostname} resolves to ${internal.address}, an internal address (allow it with --callback-allow)`), { code: REFUSED });
      return callback(refusal, '', 0);
    }
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
    callback(null, addresses[0]!.address, addresses[0]!.family);
  });
};

export function sendCallback(
  { url, body, headers, timeoutMs, allowed, signal }: {
    url: string; body: string; headers: Record<string, string>; timeoutMs: number; allowed: boolean; signal?: AbortSignal;
  },
): Promise<CallbackAnswer> {
  const target = new URL(url);
  if (!allowed && isInternalAddress(hostOf(target))) {
    return Promise.resolve({ statusCode: null, error: `${hostOf(target)} is an internal address (allow it with --callback-allow)`, refused: true });
  }
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const timer = setTimeout(() => request.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
    const done = (answer: CallbackAnswer) => {
      clearTimeout(timer);
      resolve(answer);
    };
    const request = send(target, {
      method: 'POST',
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      agent: false,
      signal,
      ...(allowed ? {} : { lookup: guardedLookup }),
    });
    request.once('response', (response) => {
      const statusCode = response.statusCode ?? 0;
      // The status is all that counts: the body is never read (a receiver cannot make the server buffer it).
      response.destroy();
      done({ statusCode, error: statusCode >= 200 && statusCode < 300 ? null : `answered HTTP ${statusCode}`, refused: false });
    });
    request.once('error', (err: NodeJS.ErrnoException) => {
      done({ statusCode: null, error: err.message || String(err.code), refused: err.code === REFUSED });
    });
    request.end(body);
  });
}
