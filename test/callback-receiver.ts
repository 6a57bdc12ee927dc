// A local HTTP server that receives completion callbacks for the tests: it records every request (headers and the
// raw body) and answers as the path says — /ok 200, /fail 500, /hang never, /close drops the socket, /redirect 302
// to /ok, /big 200 with an endless body, /switch as `switchTo` currently says.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from './helpers.js';

export interface ReceivedCallback {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface CallbackReceiver {
  /** http://127.0.0.1:PORT */
  url: string;
  port: number;
  received: ReceivedCallback[];
  /** What /switch does now. */
  switchTo: 'hang' | 'ok';
  /** Requests answered (or dropped) at most at once so far, and now. */
  maxOpen: number;
  open: number;
  /** Resolves once `count` requests reached `path`. */
  waitFor(path: string, count?: number, timeoutMs?: number): Promise<ReceivedCallback[]>;
  close(): Promise<void>;
}

export async function startCallbackReceiver(): Promise<CallbackReceiver> {
  const hanging = new Set<ServerResponse>();
  const receiver: CallbackReceiver = {
    url: '', port: 0, received: [], switchTo: 'hang', maxOpen: 0, open: 0,
    waitFor: (path, count = 1, timeoutMs = 15_000) => waitFor(() => {
      const hits = receiver.received.filter((r) => r.path === path);
      return hits.length >= count ? hits : undefined;
    }, timeoutMs, `${count} callback(s) to ${path}`),
    close: () => new Promise((resolve) => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  const server = createServer((req, res) => {
    receiver.maxOpen = Math.max(receiver.maxOpen, ++receiver.open);
    res.once('close', () => receiver.open--);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = req.url ?? '/';
      receiver.received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      const name = path.split('?')[0]!.slice(1);
      const behaviour = name === 'switch' ? receiver.switchTo : name;
      if (behaviour === 'ok') res.writeHead(200, { 'content-type': 'text/plain' }).end('thanks');
      else if (behaviour === 'fail') res.writeHead(500).end('no');
      else if (behaviour === 'close') req.socket.destroy();
      else if (behaviour === 'redirect') res.writeHead(302, { location: '/ok' }).end();
      else if (behaviour === 'big') streamForever(res);
      else hanging.add(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.port = (server.address() as AddressInfo).port;
  receiver.url = `http://127.0.0.1:${receiver.port}`;
  return receiver;
}

/** 64 KiB at a time while the client reads, for as long as it does: an answer no client may buffer whole. */
function streamForever(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream' });
  const chunk = Buffer.alloc(64 * 1024, 120);
  const pump = () => {
    while (!res.destroyed && res.write(chunk));
    if (!res.destroyed) res.once('drain', pump);
  };
  pump();
}

/** What the README tells receivers to do: recompute HMAC-SHA256(secret, t + "." + body) and compare in constant time. */
export function verifySignature(header: string | undefined, body: string, secret: string): boolean {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!match) return false;
  const expected = createHmac('sha256', secret).update(`${match[1]}.${body}`).digest();
  return timingSafeEqual(Buffer.from(match[2]!, 'hex'), expected);
}
