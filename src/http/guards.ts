// Checks every request passes before any route sees it, and headers every answer carries.
import type { Context, Next } from 'koa';
import { AppError } from './errors.js';

/** Set on every answer, errors included: no MIME sniffing of JSON or downloads, no Referer leaking ids. */
export function setSecurityHeaders() {
  return async function securityHeaders(ctx: Context, next: Next): Promise<void> {
    ctx.set({ 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer' });
    await next();
  };
}

const LOOPBACK_NAMES: readonly string[] = ['localhost', '127.0.0.1', '[::1]'];

/**
 * DNS-rebinding defence: a web page on any origin can make a browser send requests to 127.0.0.1 by resolving
 * its own name there; the browser then sends that name in `Host`. Bound to loopback, only loopback names (any
 * port) and the operator's `extraHosts` are answered. A request without `Host` (HTTP/1.0) comes from no browser.
 */
export function allowOnlyHosts(extraHosts: readonly string[]) {
  const allowed = new Set([...LOOPBACK_NAMES, ...extraHosts].map((name) => name.toLowerCase()));
  return async function hostCheck(ctx: Context, next: Next): Promise<void> {
    const host = ctx.get('Host');
    if (host !== '' && !allowed.has(hostnameOf(host))) {
      throw new AppError('host_not_allowed', 'This server answers only requests addressed to a loopback host name or one of its --allowed-host names.', {
        headers: { Connection: 'close' },
      });
    }
    await next();
  };
}

/** `example.com:8080` → `example.com`, `[::1]:80` → `[::1]`, lower-cased, without a trailing dot. */
function hostnameOf(host: string): string {
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d*$/, '');
  return name.toLowerCase().replace(/\.$/, '');
}

const KNOWN_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** TRACE, PROPFIND, LINK and the like: no route has them, so they are refused before any route logic. */
export function refuseUnknownMethods() {
  return async function knownMethods(ctx: Context, next: Next): Promise<void> {
    if (!KNOWN_METHODS.has(ctx.method)) throw new AppError('method_not_allowed', `This server does not implement ${ctx.method.slice(0, 32)}.`);
    await next();
  };
}

/**
 * Request bodies are accepted uncompressed only: a compressed upload would make a small request expand into an
 * arbitrarily large file, and a body labelled with an encoding it does not have would fail deep in a decoder.
 */
export function refuseContentEncoding() {
  return async function identityOnly(ctx: Context, next: Next): Promise<void> {
    const encoding = ctx.get('Content-Encoding').trim().toLowerCase();
    if (encoding !== '' && encoding !== 'identity') {
      throw new AppError('unsupported_media_type', 'Send request bodies without Content-Encoding (uncompressed).', {
        details: { content_encoding: encoding.slice(0, 64) },
      });
    }
    await next();
  };
}
