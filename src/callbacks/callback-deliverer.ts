// The delivery loop of completion callbacks. The rows it works from are written by the store in the transaction of
// each job's final status (JobStore.claimDeliveries), so a crash loses none: they are claimed with a lease, sent,
// and recorded; one whose process died mid-delivery is claimed again when its lease lapses. At least once: a
// receiver may see a delivery twice, with the same Offload-Delivery id.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { computeBackoffMs } from '../engine/backoff.js';
import { engineNow } from '../engine/clock.js';
import type { Engine } from '../engine/engine.js';
import type { Job } from '../engine/job.js';
import type { DeliveryEnd, DeliveryRecord } from '../engine/job-store.js';
import { toJobDocument } from '../http/job-document.js';
import { VERSION } from '../version.js';
import { isAllowedHost, type AllowedHost } from './callback-address.js';
import { signatureHeader } from './callback-signature.js';
import { sendCallback, type CallbackAnswer } from './send-callback.js';

export interface CallbackOptions {
  /** The HMAC-SHA256 key of Offload-Signature; without one, deliveries are not signed. */
  secret?: string;
  /** Hosts callbacks may reach even when they are (or resolve to) internal addresses. */
  allow?: readonly AllowedHost[];
  /** One attempt's limit, ms: connecting, sending and the answer's status line. */
  timeoutMs?: number;
  /** Attempts of one delivery before it is given up (state failed). */
  maxAttempts?: number;
  /** Backoff between attempts, ms: doubles each time, with jitter, up to retryMaxMs. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Deliveries in flight at once, per process. */
  concurrency?: number;
  /** How often to look for deliveries this process was not told about (other processes, a restart), ms. */
  pollIntervalMs?: number;
}

export const CALLBACK_DEFAULTS = Object.freeze({
  timeoutMs: 10_000,
  maxAttempts: 10,
  retryBaseMs: 1_000,
  retryMaxMs: 3_600_000,
  concurrency: 8,
  pollIntervalMs: 1_000,
});

/** One attempt as it ended, for metrics and logs. */
export interface CallbackAttemptReport {
  delivery: DeliveryRecord;
  answer: CallbackAnswer;
  durationMs: number;
  /** What became of the delivery: delivered, to be tried again, or given up. */
  outcome: 'delivered' | 'retry' | 'given_up';
}

export class CallbackDeliverer extends EventEmitter<{ attempt: [report: CallbackAttemptReport] }> {
  readonly #engine: Engine;
  readonly #logger: Logger;
  readonly #options: Required<Omit<CallbackOptions, 'secret'>> & { secret: string | undefined };
  readonly #inFlight = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #claiming = false;
  #again = false;
  #stopped = true;
  #abort = new AbortController();
  readonly #wake = () => this.wake();
  /** Only the end of a job with a callback URL can have made a delivery due (the poll finds the rest). */
  readonly #onFinished = (job: Job) => {
    if (job.callbackUrl !== null) this.wake();
  };

  constructor(engine: Engine, logger: Logger, options: CallbackOptions = {}) {
    super();
    this.#engine = engine;
    this.#logger = logger;
    this.#options = { ...CALLBACK_DEFAULTS, allow: [], ...definedOnly(options), secret: options.secret };
  }

  start(): void {
    this.#stopped = false;
    this.#abort = new AbortController();
    this.#engine.on('finished', this.#onFinished);
    this.#timer = setInterval(this.#wake, this.#options.pollIntervalMs);
    this.#timer.unref();
    this.wake();
  }

  /**
   * Stops claiming and aborts the attempts in flight without recording them: their claims lapse, and they are sent
   * again after the lease (by another process, or this one restarted).
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort.abort();
    this.#engine.off('finished', this.#onFinished);
    clearInterval(this.#timer);
    await Promise.allSettled([...this.#inFlight]);
  }

  /** Claims what is due, up to the free slots; a call during a claim makes it run once more. */
  wake(): void {
    if (this.#stopped) return;
    if (this.#claiming) {
      this.#again = true;
      return;
    }
    this.#claiming = true;
    void this.#claim().finally(() => {
      this.#claiming = false;
      if (this.#again) {
        this.#again = false;
        this.wake();
      }
    });
  }

  async #claim(): Promise<void> {
    const free = this.#options.concurrency - this.#inFlight.size;
    if (free <= 0 || this.#engine.isClosing) return;
    let claimed: DeliveryRecord[];
    try {
      // The lease outlasts an attempt (its timeout) and the write of its outcome, so no other process takes it meanwhile.
      claimed = await this.#engine.claimDeliveries(free, 2 * this.#options.timeoutMs + 1_000);
    } catch (err) {
      this.#logger.warn({ err }, 'could not claim completion callbacks; trying again at the next poll');
      return;
    }
    for (const delivery of claimed) {
      const attempt = this.#deliver(delivery).catch((err) => this.#logger.error({ err, delivery_id: delivery.id }, 'completion callback attempt failed to record'));
      this.#inFlight.add(attempt);
      void attempt.finally(() => {
        this.#inFlight.delete(attempt);
        this.wake();
      });
    }
  }

  async #deliver(delivery: DeliveryRecord): Promise<void> {
    const options = this.#options;
    const at = engineNow();
    const started = performance.now();
    const answer = await this.#send(delivery);
    if (this.#stopped) return;
    const durationMs = Math.round(performance.now() - started);
    const delivered = answer.error === null;
    const last = answer.refused || delivery.attempts >= options.maxAttempts;
    const end: DeliveryEnd = delivered ? { state: 'delivered' } : last ? { state: 'failed' } : {
      state: 'pending', nextAttemptAt: engineNow() + computeBackoffMs(delivery.attempts, { baseMs: options.retryBaseMs, maxMs: options.retryMaxMs }),
    };
    const recorded = await this.#engine.endDeliveryAttempt(delivery.id, { attempt: delivery.attempts, at, durationMs, statusCode: answer.statusCode, error: answer.error }, end);
    const outcome = delivered ? 'delivered' : last ? 'given_up' : 'retry';
    this.emit('attempt', { delivery: recorded ?? delivery, answer, durationMs, outcome });
    const log = { delivery_id: delivery.id, job_id: delivery.jobId, attempt: delivery.attempts, status_code: answer.statusCode, error: answer.error };
    if (outcome === 'given_up') this.#logger.warn(log, 'completion callback given up');
    else if (outcome === 'retry') this.#logger.info(log, 'completion callback failed; will try again');
    // This process sends the retry itself when it is due; the poll is the safety net.
    if (end.state === 'pending') setTimeout(this.#wake, Math.max(0, end.nextAttemptAt - engineNow())).unref();
  }

  async #send(delivery: DeliveryRecord): Promise<CallbackAnswer> {
    const job = await this.#engine.get(delivery.jobId);
    if (!job) return { statusCode: null, error: 'the job no longer exists', refused: true };
    const body = JSON.stringify(toJobDocument(job, await this.#engine.attempts(job.id)));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': `offload/${VERSION}`,
      'offload-delivery': delivery.id,
      'offload-attempt': String(delivery.attempts),
      'offload-event': `job.${delivery.event}`,
    };
    if (this.#options.secret) headers['offload-signature'] = signatureHeader(this.#options.secret, Math.floor(Date.now() / 1000), body);
    const allowed = isAllowedHost(new URL(delivery.url), this.#options.allow);
    return sendCallback({ url: delivery.url, body, headers, timeoutMs: this.#options.timeoutMs, allowed, signal: this.#abort.signal });
  }
}

function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}
