import { engineNow } from './clock.js';
import type { Logger } from 'pino';
import { computeBackoffMs, type BackoffOptions } from './backoff.js';
import type { Fence, Job, JobError } from './job.js';
import type { JobStore, OwnerRecord } from './job-store.js';

/** Owners alive in this very process: several engines may be embedded in one process and share its pid. */
const ownersInThisProcess = new Set<string>();

export interface LeaseKeeperOptions {
  store: JobStore;
  self: OwnerRecord;
  leaseMs: number;
  backoff: BackoffOptions;
  logger: Logger;
  /** Attempts this process runs right now: only their leases are renewed, and they are never recovered. */
  runningFences(): Fence[];
  /** A claim of this process may be committed but not yet tracked: its own rows are not orphans meanwhile. */
  hasClaimInFlight(): boolean;
  /** How many claims this process has started so far: one started during a read makes that read's own rows unsure. */
  claimsStarted(): number;
  /** The lease of an attempt this process runs was taken by another process: stop running it, write nothing. */
  onLeaseLost(fence: Fence): void;
  /** Another process asked to cancel a job this process runs. */
  onCancelRequested(jobId: string): void;
  onChange(job: Job): void;
  /** See EngineOptions.crashLimit. */
  crashLimit: number;
  /** An orphan's attempt was ended as `lost` (or `crashed`) by this process (after onChange). */
  onRecovered?(job: Job): void;
}

/**
 * Keeps this process's leases alive and puts other processes' orphaned jobs back in the queue.
 *
 * - Heartbeat every lease/3: one UPDATE extends the lease of all running jobs of this owner, so a lease expires
 *   only if the process is dead or its event loop stalled for more than two heartbeats.
 * - Recovery at start-up and every lease/2: a running job is an orphan when its lease has expired, or at once when
 *   its owner is provably gone (same host, and its pid is not alive, or is our own pid but no engine of this
 *   process owns it, as after a container restart). An orphan goes back to pending with a `lost` error if attempts remain, else fails with `lost`.
 * - Fencing: outcome writes match (owner, attempt), so the old owner, if it was only slow, cannot overwrite the
 *   attempt that followed; the heartbeat then notices the lease is gone and stops the local task.
 */
export class LeaseKeeper {
  readonly #options: LeaseKeeperOptions;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  /** Each running row of other owners, by id:attempt: its lease value as last seen, and since when (monotonic). */
  #leasesSeen = new Map<string, { lease: number; since: number }>();
  /** Each other owner's heartbeat value as last seen, and since when (monotonic). */
  #heartbeatsSeen = new Map<string, { heartbeat: number; since: number }>();
  #recoveryTimer: NodeJS.Timeout | undefined;

  constructor(options: LeaseKeeperOptions) {
    this.#options = options;
  }

  async start(): Promise<Job[]> {
    const { store, self, leaseMs } = this.#options;
    await store.registerOwner(self);
    ownersInThisProcess.add(self.id);
    const recovered = await this.recoverOrphans();
    this.#heartbeatTimer = setInterval(() => void this.#guard(this.renew(), 'renewing leases'), Math.max(10, leaseMs / 3));
    this.#heartbeatTimer.unref();
    const scheduleRecovery = () => {
      // Jitter, so that processes sharing a database do not all scan at the same instant.
      this.#recoveryTimer = setTimeout(async () => {
        await this.#guard(this.recoverOrphans(), 'recovering orphaned jobs');
        scheduleRecovery();
      }, Math.max(10, (leaseMs / 2) * (0.75 + Math.random() / 2)));
      this.#recoveryTimer.unref();
    };
    scheduleRecovery();
    return recovered;
  }

  async stop(): Promise<void> {
    clearInterval(this.#heartbeatTimer);
    clearTimeout(this.#recoveryTimer);
    ownersInThisProcess.delete(this.#options.self.id);
    await this.#options.store.removeOwner(this.#options.self.id);
  }

  async renew(): Promise<void> {
    const { store, self, leaseMs } = this.#options;
    const now = engineNow();
    const running = this.#options.runningFences();
    const renewed = await store.renewLeases(self.id, running, now + leaseMs, now);
    const stillOurs = new Set(renewed.map((job) => `${job.id}:${job.attempt}`));
    for (const fence of running) {
      if (!stillOurs.has(`${fence.id}:${fence.attempt}`)) this.#options.onLeaseLost(fence);
    }
    for (const job of renewed) if (job.cancelRequested) this.#options.onCancelRequested(job.id);
  }

  async recoverOrphans(): Promise<Job[]> {
    const { store, self, backoff, logger } = this.#options;
    const now = engineNow();
    const owners = await store.listOwners();
    const goneOwners = new Set(owners.filter((owner) => owner.id !== self.id && isOwnerGone(owner, self)).map((o) => o.id));
    // Rows this owner holds but runs no attempt of (an outcome it could not write and gave up on, a claim it
    // lost track of) are orphans at once: no heartbeat of ours renews them. Not while a claim may be untracked:
    // neither in flight when the read below starts or ends, nor started and finished while it ran (a store whose
    // read is asynchronous, PostgreSQL, can return a row claimed during the read, not yet tracked).
    const claimsBefore = this.#options.claimsStarted();
    const noClaimBefore = !this.#options.hasClaimInFlight();
    const recovered: Job[] = [];
    // Every running row: whether a lease expired is judged below by this process's monotonic clock.
    const running = await store.findOrphans(Number.MAX_SAFE_INTEGER);
    const includeOwn = noClaimBefore && !this.#options.hasClaimInFlight() && this.#options.claimsStarted() === claimsBefore;
    // Read after the rows: every attempt claimed before the read is tracked by now, unless it already ended.
    const runningHere = new Set(this.#options.runningFences().map((fence) => `${fence.id}:${fence.attempt}`));
    for (const orphan of this.#orphansAmong(running, goneOwners, includeOwn ? runningHere : undefined)) {
      const deaths = 1 + (await this.#deathsInARow(orphan.id));
      const details = { owner: orphan.owner, attempt: orphan.attempts, lease_expired_at: orphan.leaseExpiresAt, deaths_in_a_row: deaths };
      const poisoned = deaths >= this.#options.crashLimit;
      const error: JobError = poisoned
        ? {
            code: 'crashed',
            message: `The process running the job died on each of its last ${deaths} attempts; it is not retried, as it is likely what kills the process.`,
            details,
          }
        : { code: 'lost', message: 'The process running the job stopped before the job finished (its lease expired or its owner is gone).', details };
      const retry = !poisoned && orphan.attempts < orphan.maxAttempts;
      // Refused if the lease moved since it was seen: its owner renewed it meanwhile, and is alive after all.
      const job = await store.endOrphan(
        { id: orphan.id, owner: orphan.owner!, attempt: orphan.attempts },
        retry ? { status: 'pending', error, runAt: now + computeBackoffMs(orphan.attempts, backoff) } : { status: 'failed', error },
        now,
        goneOwners.has(orphan.owner!) || orphan.owner === self.id,
        orphan.leaseExpiresAt!,
      );
      if (job) {
        recovered.push(job);
        logger.warn({ job_id: job.id, kind: job.kind, attempt: orphan.attempts, status: job.status, previous_owner: orphan.owner }, 'recovered orphaned job');
        this.#options.onChange(job);
        this.#options.onRecovered?.(job);
      }
    }
    // Forget owners that are gone, or silent for long enough that no lease of theirs can still be valid: their
    // heartbeat unchanged for 10 leases of this process's monotonic time (other machines' clocks are not compared).
    const observedAt = performance.now();
    const heartbeatsSeen = new Map<string, { heartbeat: number; since: number }>();
    for (const owner of owners) {
      const before = this.#heartbeatsSeen.get(owner.id);
      heartbeatsSeen.set(owner.id, before?.heartbeat === owner.heartbeatAt ? before : { heartbeat: owner.heartbeatAt, since: observedAt });
    }
    this.#heartbeatsSeen = heartbeatsSeen;
    for (const owner of owners) {
      const silent = observedAt - heartbeatsSeen.get(owner.id)!.since >= 10 * this.#options.leaseMs;
      if (owner.id !== self.id && (goneOwners.has(owner.id) || silent)) {
        const stillHolds = (await store.findOrphans(now, [owner.id])).length > 0;
        if (!stillHolds) await store.removeOwner(owner.id);
      }
    }
    return recovered;
  }

  /**
   * The running rows that are orphans: their owner is provably gone; or they are this process's own rows that it
   * runs no attempt of (`runningHere` given: no claim of ours is in flight); or their lease has not moved for a
   * whole lease length as measured here. Wall clocks are never compared across processes, nor across a step of
   * this one's: a lease is a heartbeat whose value changes at each renewal, and what counts is whether it changed.
   */
  #orphansAmong(running: readonly Job[], goneOwners: ReadonlySet<string>, runningHere: ReadonlySet<string> | undefined): Job[] {
    const { self, leaseMs } = this.#options;
    const observedAt = performance.now();
    const seen = new Map<string, { lease: number; since: number }>();
    const orphans: Job[] = [];
    for (const job of running) {
      const key = `${job.id}:${job.attempts}`;
      if (job.owner === self.id) {
        if (runningHere && !runningHere.has(key)) orphans.push(job);
        continue;
      }
      if (goneOwners.has(job.owner!)) {
        orphans.push(job);
        continue;
      }
      const before = this.#leasesSeen.get(key);
      const unchanged = before !== undefined && before.lease === job.leaseExpiresAt;
      const since = unchanged ? before.since : observedAt;
      seen.set(key, { lease: job.leaseExpiresAt!, since });
      if (observedAt - since >= leaseMs) orphans.push(job);
    }
    this.#leasesSeen = seen;
    return orphans;
  }

  /** How many of the job's latest attempts in a row ended with their process dying (recovered as `lost`). */
  async #deathsInARow(jobId: string): Promise<number> {
    const history = await this.#options.store.attempts(jobId);
    let deaths = 0;
    for (let i = history.length - 1; i >= 0 && history[i]!.error?.code === 'lost'; i--) deaths++;
    return deaths;
  }

  async #guard(work: Promise<unknown>, what: string): Promise<void> {
    try {
      await work;
    } catch (err) {
      this.#options.logger.error({ err }, `${what} failed`);
    }
  }
}

export function isOwnerGone(owner: OwnerRecord, self: OwnerRecord): boolean {
  if (owner.hostname !== self.hostname) return false;
  // Our own pid under another owner id: a previous life of this process (a container restarts as pid 1).
  if (owner.pid === self.pid) return !ownersInThisProcess.has(owner.id);
  try {
    process.kill(owner.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
