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

/** A client this far behind is cut off; it resumes with Last-Event-ID (GET /events), or reads the job again. */
export const MAX_BUFFERED_BYTES = 1024 * 1024;
/** How long an ended answer may wait for its client to read the rest before its connection is destroyed. */
const LINGER_MS = 2000;

export interface EventStream {
  /** Gives the slot back (once); the caller calls it when the answer closes. */
  release: () => void;
  /** Sends an event, or ends the answer at this event boundary when more than MAX_BUFFERED_BYTES wait for the client. */
  write: (text: string) => void;
  end: () => void;
}

/**
 * Takes a stream slot for the client (or throws 429) and starts the answer: the event-stream headers, no socket
 * timeout, and the body the caller writes events to. An ended answer whose client does not read it to the end
 * within LINGER_MS has its connection destroyed: with no socket timeout, it would otherwise keep its slot and up to
 * MAX_BUFFERED_BYTES of memory for as long as the client chose not to read.
 */
export function openEventStream(ctx: Context, limiter: EventStreamLimiter): EventStream {
  const release = limiter.acquire(ctx.req.socket.remoteAddress ?? 'unknown');
  ctx.req.socket.setTimeout(0);
  ctx.req.socket.setNoDelay(true);
  ctx.status = 200;
  ctx.set({ 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no' });
  const stream = new PassThrough();
  ctx.body = stream;
  const end = () => {
    if (stream.writableEnded) return;
    stream.end();
    // Once the answer was read to its end, destroying it does nothing (a kept-alive socket is no longer its own).
    setTimeout(() => ctx.res.destroy(), LINGER_MS).unref();
  };
  const write = (text: string) => {
    if (stream.writableEnded) return;
    if (stream.writableLength > MAX_BUFFERED_BYTES) end();
    else stream.write(text);
  };
  return { release, write, end };
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
  const { release, write, end } = openEventStream(ctx, limiter);

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
    write(`event: ${event}\nid: ${job.updatedAt}\ndata: ${JSON.stringify(toDocument(job))}\n\n`);
    if (isTerminal(job.status)) stop();
  };
  const unwatch = engine.watch(first.id, send);
  const poll = setInterval(() => {
    engine.get(first.id).then((job) => job && send(job), () => {});
  }, pollIntervalMs);
  const keepAlive = setInterval(() => write(': keep-alive\n\n'), keepAliveMs);
  function stop() {
    ended = true;
    unwatch();
    clearInterval(poll);
    clearInterval(keepAlive);
    end();
  }
  // The slot is given back when the socket side is done, whichever ends first: the job, or the client.
  ctx.res.once('close', () => {
    release();
    if (!ended) stop();
  });
  send(first);
}
