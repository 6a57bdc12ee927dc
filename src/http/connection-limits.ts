// What the HTTP server itself (below Koa) is told: time limits per connection, and answers in our JSON error
// shape to requests Node's parser refuses before any middleware could run.
import { createServer, type RequestListener, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { ErrorCodes, type ErrorCode } from './errors.js';

export interface ConnectionLimits {
  /** Time to receive a request's headers, ms (slowloris). */
  headersTimeoutMs: number;
  /** A connection that neither sends nor receives for this long is closed, ms: a stalled upload among them. */
  idleTimeoutMs: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = { headersTimeoutMs: 15_000, idleTimeoutMs: 30_000 };

/**
 * An HTTP server for `handler` with these limits. There is deliberately no limit on a whole request's duration
 * (Node's `requestTimeout`): a 1 GiB upload over a slow link may take an hour; a stalled one is cut by the idle
 * timeout. Event streams turn the idle timeout off for their own socket and send keep-alive comments instead.
 */
export function createLimitedServer(handler: RequestListener, limits: ConnectionLimits = DEFAULT_CONNECTION_LIMITS): Server {
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: 0,
      // How often Node looks for connections past headersTimeout; its default of 30 s would let a slow client
      // hold a connection up to that long past the limit.
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
    },
    handler,
  );
  server.timeout = limits.idleTimeoutMs;
  server.on('clientError', answerClientError);
  // Node answers an `Expect` other than 100-continue with an empty-bodied 417 on its own; RFC 9110 lets a server
  // ignore expectations it does not know, so such a request is simply handled.
  server.on('checkExpectation', handler);
  return server;
}

const STATUS_TEXT: Partial<Record<number, string>> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

/** Node's own answer to these is an empty-bodied 400; a client of a JSON API gets the JSON error shape. */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [code, message]: [ErrorCode, string] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? ['headers_too_large', 'The request headers are larger than this server accepts (16 KiB).']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? ['request_timeout', 'The request headers did not arrive in time.']
        : ['invalid_request', 'The request is not well-formed HTTP/1.1.'];
  const status = ErrorCodes[code];
  // A HEAD answer has no body: the client would read ours as the start of a next response.
  const isHead = (err as { rawPacket?: Buffer }).rawPacket?.subarray(0, 5).toString('latin1') === 'HEAD ';
  const body = isHead ? '' : JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      (isHead ? '' : `Content-Length: ${Buffer.byteLength(body)}\r\n`) +
      'X-Content-Type-Options: nosniff\r\n' +
      'Connection: close\r\n\r\n' +
      body,
  );
}
