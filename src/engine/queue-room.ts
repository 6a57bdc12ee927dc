import { EngineError } from './engine-error.js';

/**
 * The --max-pending bound: the pending rows of every process (the store's count) plus this process's inserts not
 * yet committed. An enqueue reserves a place before its insert and gives it back once the insert has settled.
 */
export class QueueRoom {
  readonly #countPending: () => Promise<number>;
  readonly #maxPending: number;
  /** Inserts queued in the store but not committed yet: counted against maxPending too. */
  #uncommitted = 0;
  /**
   * The pending count of the store, shared by the enqueues of one turn of the event loop (the requests of one poll
   * phase) — and never past the commit of one of this engine's inserts, which the read would miss while #uncommitted
   * no longer counts it: one read per burst, not one per request.
   */
  #pendingRead: Promise<number> | undefined;

  constructor(countPending: () => Promise<number>, maxPending: number) {
    this.#countPending = countPending;
    this.#maxPending = maxPending;
  }

  /** Counts one more uncommitted insert, or throws queue_full; checked and counted in one step, so a burst sees itself. */
  async reserve(): Promise<void> {
    let read = this.#pendingRead;
    if (!read) {
      const fresh = (read = this.#pendingRead = this.#countPending());
      setImmediate(() => this.#pendingRead === fresh && (this.#pendingRead = undefined));
      fresh.catch(() => this.#pendingRead === fresh && (this.#pendingRead = undefined));
    }
    const pending = await read;
    if (pending + this.#uncommitted >= this.#maxPending) {
      throw new EngineError('queue_full', `The queue already holds ${this.#maxPending} pending jobs; try again later.`);
    }
    this.#uncommitted++;
  }

  /** The reserved insert settled (committed or failed): its row, if any, is in the store's count from now on. */
  release(): void {
    this.#uncommitted--;
    this.#pendingRead = undefined;
  }

  /** Whether one more job fits now (a fresh read: for callers outside a burst, such as the scheduler). */
  async hasRoom(): Promise<boolean> {
    return (await this.#countPending()) + this.#uncommitted < this.#maxPending;
  }
}
