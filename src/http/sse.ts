import { PassThrough } from 'node:stream';
import type { Context } from 'koa';
import type { Engine } from '../engine/engine.js';
import { isTerminal, type Job } from '../engine/job.js';
import { AppError } from './errors.js';

/**
 * Open event streams, in all and per client address. Each stream holds a socket, a watcher and a poll timer for
 * as long as its job runs, so without a bound a client could open them until the process runs out of sockets.
 */
export class EventStreamLimiter {
  readonly #perClient = new Map<string, number>();
  #open = 0;

  constructor(readonly maxTotal: number, readonly maxPerClient: number) {}

  get open(): number {
    return this.#open;
  }

  /** Takes a slot for `client`, or throws 429 too_many_streams; the returned function gives it back (once). */
  acquire(client: string): () => void {
    const mine = this.#perClient.get(client) ?? 0;
    if (this.#open >= this.maxTotal || mine >= this.maxPerClient) {
      const limit = this.#open >= this.maxTotal ? `${this.maxTotal} in all` : `${this.maxPerClient} per client`;
      throw new AppError('too_many_streams', `Too many event streams are open (at most ${limit}); close one, or poll the job document instead.`, {
        headers: { 'Retry-After': '5' },
        details: { max_total: this.maxTotal, max_per_client: this.maxPerClient },
      });
    }
    this.#open++;
    this.#perClient.set(client, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#open--;
      const left = (this.#perClient.get(client) ?? 1) - 1;
      if (left === 0) this.#perClient.delete(client);
      else this.#perClient.set(client, left);
    };
  }
}

/**
 * Takes a stream slot for the client (or throws 429) and starts the answer: the event-stream headers, no socket
 * timeout, and the body the caller writes events to. The caller releases the slot when the answer closes.
 */
export function openEventStream(ctx: Context, limiter: EventStreamLimiter): { release: () => void; stream: PassThrough } {
  const release = limiter.acquire(ctx.req.socket.remoteAddress ?? 'unknown');
  ctx.req.socket.setTimeout(0);
  ctx.req.socket.setNoDelay(true);
  ctx.status = 200;
  ctx.set({ 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no' });
  const stream = new PassThrough();
  ctx.body = stream;
  return { release, stream };
}

export interface JobEventsOptions {
  /** Catches changes made by other processes sharing the database. */
  pollIntervalMs?: number;
  keepAliveMs?: number;
}

/**
 * Answers with Server-Sent Events for one job: `status` when its status or attempt changes, `progress` when only
 * its progress does, each carrying the job document; the stream ends after the terminal event.
 */
export function streamJobEvents(
  ctx: Context,
  engine: Engine,
  first: Job,
  toDocument: (job: Job) => unknown,
  limiter: EventStreamLimiter,
  { pollIntervalMs = 1000, keepAliveMs = 15_000 }: JobEventsOptions = {},
): void {
  const { release, stream } = openEventStream(ctx, limiter);

  let lastStatusKey = '';
  let lastKey = '';
  let ended = false;
  const send = (job: Job) => {
    if (ended) return;
    const statusKey = `${job.status}|${job.attempts}`;
    // Not updatedAt: a lease renewal moves it and changes nothing a client sees.
    const key = `${statusKey}|${job.progressDone}|${job.progressTotal}|${job.cancelRequested}`;
    if (key === lastKey) return;
    const event = statusKey === lastStatusKey ? 'progress' : 'status';
    lastKey = key;
    lastStatusKey = statusKey;
    stream.write(`event: ${event}\nid: ${job.updatedAt}\ndata: ${JSON.stringify(toDocument(job))}\n\n`);
    if (isTerminal(job.status)) stop();
  };
  const unwatch = engine.watch(first.id, send);
  const poll = setInterval(() => {
    engine.get(first.id).then((job) => job && send(job), () => {});
  }, pollIntervalMs);
  const keepAlive = setInterval(() => stream.write(': keep-alive\n\n'), keepAliveMs);
  function stop() {
    ended = true;
    unwatch();
    clearInterval(poll);
    clearInterval(keepAlive);
    stream.end();
  }
  // The slot is given back when the socket side is done, whichever ends first: the job, or the client.
  ctx.res.once('close', () => {
    release();
    if (!ended) stop();
  });
  send(first);
}
