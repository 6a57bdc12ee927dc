import { randomBytes } from 'node:crypto';
import type { Engine } from '../engine/engine.js';
import type { Job } from '../engine/job.js';
import type { ChangePoint } from '../engine/job-store.js';
import { engineNow } from '../engine/clock.js';

/** One change of one job, as every subscriber of the feed sees it. */
export interface FeedEvent {
  /** The feed's position: increases by one per event, in the order the feed saw the changes. */
  seq: number;
  kind: string;
  status: Job['status'];
  /** The event's data, serialized once for every subscriber, when the first one reads it. */
  readonly data: string;
}

/**
 * Serializes on first read: the feed records every change of this engine, also while nobody listens (a client may
 * resume from an id later), and turning each into a document and JSON text cost the dispatch path per job.
 */
class LazyFeedEvent implements FeedEvent {
  readonly kind: string;
  readonly status: Job['status'];
  #job: Job | undefined;
  #data: string | undefined;
  readonly #toData: (job: Job) => unknown;

  constructor(readonly seq: number, job: Job, toData: (job: Job) => unknown) {
    this.kind = job.kind;
    this.status = job.status;
    this.#job = job;
    this.#toData = toData;
  }

  get data(): string {
    if (this.#data === undefined) {
      this.#data = JSON.stringify(this.#toData(this.#job!));
      this.#job = undefined;
    }
    return this.#data;
  }
}

export interface JobFeedOptions {
  /** How often the jobs table is read for changes written by other processes sharing it. */
  pollIntervalMs?: number;
  /** Each poll reads again the changes of this long before the newest one seen (writes commit out of order). */
  lookbackMs?: number;
  /** Events kept for resumption (Last-Event-ID). */
  bufferSize?: number;
}

const POLL_PAGE = 500;
const POLL_PAGES_AT_MOST = 20;
/** Jobs whose last shown state is remembered, to drop repeats; the oldest is forgotten first. */
const KEYS_KEPT = 50_000;

/**
 * The changes of every job, one stream for all of them: this engine's own writes as they happen (its `change`
 * events), and those of other processes sharing the database by a poll of the rows updated since the last one
 * (JobStore.listUpdatedAfter, index-backed) while anyone listens. A change is passed on once per visible state
 * (status, attempt, progress, cancel flag): lease renewals, which move updated_at and nothing a client sees, and a
 * poll seeing a change already announced, are dropped. The last `bufferSize` events are kept so that a client that
 * reconnects with the id of the last event it saw gets what it missed; older ids, or ids of another process or an
 * earlier start of this one, get `undefined`: that client must list again.
 */
export class JobFeed {
  /** Names this feed in event ids, so that an id of another process or an earlier start is never taken for ours. */
  readonly id = randomBytes(4).toString('hex');
  readonly #engine: Engine;
  readonly #toData: (job: Job) => unknown;
  readonly #options: Required<JobFeedOptions>;
  readonly #buffer: FeedEvent[] = [];
  readonly #shownKeys = new Map<string, string>();
  readonly #listeners = new Set<(event: FeedEvent) => void>();
  #seq = 0;
  #newestSeen: ChangePoint = { updatedAt: engineNow(), seq: 0 };
  #poll: NodeJS.Timeout | undefined;
  #polling = false;
  /** Where the next poll goes on when the last one stopped at its page cap: past its rows, not back to the look-back. */
  #resumeAfter: ChangePoint | undefined;

  constructor(engine: Engine, toData: (job: Job) => unknown, { pollIntervalMs = 1000, lookbackMs = 2000, bufferSize = 2000 }: JobFeedOptions = {}) {
    this.#engine = engine;
    this.#toData = toData;
    this.#options = { pollIntervalMs, lookbackMs, bufferSize };
    engine.on('change', this.#offer);
    engine.once('closed', () => this.close());
  }

  /** The id of the newest event so far: a client that resumes from it misses nothing. */
  get lastEventId(): string {
    return this.eventId(this.#seq);
  }

  eventId(seq: number): string {
    return `${this.id}-${seq}`;
  }

  /** Calls `listener` with every event from now on; returns the unsubscribe function. */
  subscribe(listener: (event: FeedEvent) => void): () => void {
    this.#listeners.add(listener);
    if (!this.#poll) {
      this.#newestSeen = { updatedAt: Math.max(this.#newestSeen.updatedAt, engineNow() - this.#options.lookbackMs), seq: 0 };
      this.#poll = setInterval(() => void this.#pollChanges(), this.#options.pollIntervalMs);
      this.#poll.unref();
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#stopPolling();
    };
  }

  /** The events after `lastEventId`, oldest first; undefined when they are not all kept (or the id is not ours). */
  eventsAfter(lastEventId: string): FeedEvent[] | undefined {
    const match = /^([0-9a-f]{8})-(\d{1,15})$/.exec(lastEventId);
    if (!match || match[1] !== this.id) return undefined;
    const seq = Number(match[2]);
    if (seq > this.#seq) return undefined;
    const oldest = this.#buffer[0]?.seq ?? this.#seq + 1;
    if (seq < oldest - 1) return undefined;
    return this.#buffer.filter((event) => event.seq > seq);
  }

  close(): void {
    this.#engine.off('change', this.#offer);
    this.#stopPolling();
    this.#listeners.clear();
  }

  #stopPolling(): void {
    clearInterval(this.#poll);
    this.#poll = undefined;
  }

  readonly #offer = (job: Job): void => {
    const key = `${job.status}|${job.attempts}|${job.progressDone}|${job.progressTotal}|${job.cancelRequested}`;
    if (this.#shownKeys.get(job.id) === key) return;
    this.#shownKeys.delete(job.id);
    this.#shownKeys.set(job.id, key);
    if (this.#shownKeys.size > KEYS_KEPT) this.#shownKeys.delete(this.#shownKeys.keys().next().value!);
    const event: FeedEvent = new LazyFeedEvent(++this.#seq, job, this.#toData);
    this.#buffer.push(event);
    if (this.#buffer.length > this.#options.bufferSize) this.#buffer.shift();
    for (const listener of this.#listeners) listener(event);
  };

  /**
   * Reads the rows changed since a little before the newest change seen: a write stamped earlier may commit
   * later (another process's group commit, a slower clock), and the look-back catches it if it is within
   * lookbackMs. Repeats are dropped by #offer. A poll reads at most POLL_PAGES_AT_MOST pages; one that stopped there
   * is followed by one that goes on after its last row, and the look-back is read again once a poll reached the end.
   */
  async #pollChanges(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      // Without the resume point, more than a poll's rows within the look-back (a burst of 10,000 changes in 2 s)
      // were read again from their start by every poll, and nothing after them was ever seen.
      let after: ChangePoint = this.#resumeAfter ?? { updatedAt: this.#newestSeen.updatedAt - this.#options.lookbackMs, seq: 0 };
      this.#resumeAfter = undefined;
      for (let page = 0; page < POLL_PAGES_AT_MOST; page++) {
        const rows = await this.#engine.changesAfter(after, POLL_PAGE);
        for (const job of rows) this.#offer(job);
        const last = rows[rows.length - 1];
        if (last) {
          after = { updatedAt: last.updatedAt, seq: last.seq };
          if (last.updatedAt > this.#newestSeen.updatedAt) this.#newestSeen = after;
        }
        if (rows.length < POLL_PAGE) break;
        if (page === POLL_PAGES_AT_MOST - 1) this.#resumeAfter = after;
      }
    } catch (err) {
      this.#engine.logger.warn({ err }, 'the event feed could not read recent changes');
    } finally {
      this.#polling = false;
    }
  }
}
