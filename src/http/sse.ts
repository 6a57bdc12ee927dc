import { PassThrough } from 'node:stream';
import type { Context } from 'koa';
import type { Engine } from '../engine/engine.js';
import { isTerminal, type Job } from '../engine/job.js';

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
  { pollIntervalMs = 1000, keepAliveMs = 15_000 }: JobEventsOptions = {},
): void {
  ctx.req.socket.setTimeout(0);
  ctx.req.socket.setNoDelay(true);
  ctx.status = 200;
  ctx.set({ 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no' });
  const stream = new PassThrough();
  ctx.body = stream;

  let lastStatusKey = '';
  let lastKey = '';
  let ended = false;
  const send = (job: Job) => {
    if (ended) return;
    const statusKey = `${job.status}|${job.attempts}`;
    const key = `${statusKey}|${job.progressDone}|${job.progressTotal}|${job.updatedAt}`;
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
  ctx.req.once('close', () => {
    if (!ended) stop();
  });
  send(first);
}
