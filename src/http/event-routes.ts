import Router from '@koa/router';
import { z } from 'zod';
import { JOB_STATUSES } from '../engine/job.js';
import type { JobFeed } from './job-feed.js';
import type { RouteDoc } from './openapi.js';
import { openEventStream, type EventStreamLimiter } from './sse.js';
import { validate } from './validate.js';

const commaSeparated = z.string().max(2000).transform((text) => text.split(','));

export const JobEventsQuery = z.strictObject({
  kind: commaSeparated.pipe(z.array(z.string().min(1).max(64)).min(1).max(50)).optional().describe('Only jobs of these kinds, comma-separated.'),
  status: commaSeparated
    .pipe(z.array(z.enum(JOB_STATUSES)).min(1).max(5))
    .optional()
    .describe('Only changes into these statuses, comma-separated.'),
});

/**
 * GET /events: one Server-Sent Events stream of the changes of every job (`job` events, data: the job summary),
 * the page's one connection however many jobs run. `Last-Event-ID` resumes after the event of that id.
 */
export function createEventRoutes(feed: JobFeed, limiter: EventStreamLimiter, { keepAliveMs = 15_000 } = {}): Router {
  const router = new Router();
  router.get('/events', (ctx) => {
    const query = validate(JobEventsQuery, ctx.query, 'query');
    const kinds = query.kind && new Set(query.kind);
    const statuses = query.status && new Set<string>(query.status);
    const { release, write, end } = openEventStream(ctx, limiter);

    const send = (event: { seq: number; kind: string; status: string; data: string }) => {
      if (kinds && !kinds.has(event.kind)) return;
      if (statuses && !statuses.has(event.status)) return;
      write(`event: job\nid: ${feed.eventId(event.seq)}\ndata: ${event.data}\n\n`);
    };
    const lastEventId = ctx.get('Last-Event-ID');
    const missed = lastEventId ? feed.eventsAfter(lastEventId) : [];
    // Subscribed before the replay is written: nothing can fall between the two (both run in this tick).
    const unsubscribe = feed.subscribe(send);
    if (missed === undefined) write(`event: reset\nid: ${feed.lastEventId}\ndata: {"reason":"the events after Last-Event-ID are no longer kept: list the jobs again"}\n\n`);
    else {
      // Replaying, the position is the client's own id (eventsAfter checked it is one of ours); then each event's.
      write(`event: ready\nid: ${missed.length > 0 ? lastEventId : feed.lastEventId}\ndata: {}\n\n`);
      for (const event of missed) send(event);
    }
    const keepAlive = setInterval(() => write(': keep-alive\n\n'), keepAliveMs);
    let stopped = false;
    function stop() {
      if (stopped) return;
      stopped = true;
      unsubscribe();
      clearInterval(keepAlive);
      end();
    }
    ctx.res.once('close', () => {
      release();
      stop();
    });
  });
  return router;
}

export const eventRouteDocs: RouteDoc[] = [
  {
    method: 'get',
    path: '/events',
    operationId: 'streamAllJobEvents',
    tags: ['jobs'],
    summary: 'Server-Sent Events of every job: one stream for all of them',
    description:
      'Events: `ready` first (its id is the current position), then one `job` event per visible change of a job (status, ' +
      'attempt, progress, cancel flag) of this process or of another sharing the database (read by a poll about once a second); ' +
      "its `data` is the job summary: the JobDocument without payload, result and attempt_history (GET /jobs/{id} has them). Send the last " +
      "event's id as `Last-Event-ID` to resume: the events since then come first; when they are no longer kept (the last 2000), " +
      'or the id is of another server or an earlier start, a `reset` event says to list the jobs again. The stream never ends on ' +
      'its own; a client that reads too slowly is cut off and resumes.',
    query: JobEventsQuery,
    headers: z.object({ 'last-event-id': z.string().optional().describe('The id of the last event received, to resume after it.') }),
    responses: { 200: { description: 'An event stream (text/event-stream).', contentType: 'text/event-stream' } },
    errors: ['invalid_request', 'too_many_streams'],
  },
];
