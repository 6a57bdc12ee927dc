import type { Logger } from 'pino';
import { computeBackoffMs, type BackoffOptions } from './backoff.js';
import type { Job, JobError } from './job.js';
import type { JobStore, OwnerRecord } from './job-store.js';

/** Owners alive in this very process: several engines may be embedded in one process and share its pid. */
const ownersInThisProcess = new Set<string>();

export interface LeaseKeeperOptions {
  store: JobStore;
  self: OwnerRecord;
  leaseMs: number;
  backoff: BackoffOptions;
  logger: Logger;
  /** Jobs this process runs right now: their leases are renewed, never recovered. */
  runningJobIds(): string[];
  /** The lease of a job this process runs was taken by another process: stop running it, write nothing. */
  onLeaseLost(jobId: string): void;
  /** Another process asked to cancel a job this process runs. */
  onCancelRequested(jobId: string): void;
  onChange(job: Job): void;
  /** An orphan's attempt was ended as `lost` by this process (after onChange). */
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
    const now = Date.now();
    const renewed = await store.renewLeases(self.id, now + leaseMs, now);
    const stillOurs = new Set(renewed.map((job) => job.id));
    for (const jobId of this.#options.runningJobIds()) {
      if (!stillOurs.has(jobId)) this.#options.onLeaseLost(jobId);
    }
    for (const job of renewed) if (job.cancelRequested) this.#options.onCancelRequested(job.id);
  }

  async recoverOrphans(): Promise<Job[]> {
    const { store, self, backoff, logger } = this.#options;
    const now = Date.now();
    const owners = await store.listOwners();
    const goneOwners = new Set(owners.filter((owner) => owner.id !== self.id && isOwnerGone(owner, self)).map((o) => o.id));
    const runningHere = new Set(this.#options.runningJobIds());
    const recovered: Job[] = [];
    for (const orphan of await store.findOrphans(now, [...goneOwners])) {
      if (orphan.owner === self.id && runningHere.has(orphan.id)) continue; // a stalled heartbeat, not a dead owner
      const error: JobError = {
        code: 'lost',
        message: 'The process running the job stopped before the job finished (its lease expired or its owner is gone).',
        details: { owner: orphan.owner, attempt: orphan.attempts, lease_expired_at: orphan.leaseExpiresAt },
      };
      const retry = orphan.attempts < orphan.maxAttempts;
      const job = await store.endOrphan(
        { id: orphan.id, owner: orphan.owner!, attempt: orphan.attempts },
        retry ? { status: 'pending', error, runAt: now + computeBackoffMs(orphan.attempts, backoff) } : { status: 'failed', error },
        now,
        goneOwners.has(orphan.owner!),
      );
      if (job) {
        recovered.push(job);
        logger.warn({ job_id: job.id, kind: job.kind, attempt: orphan.attempts, status: job.status, previous_owner: orphan.owner }, 'recovered orphaned job');
        this.#options.onChange(job);
        this.#options.onRecovered?.(job);
      }
    }
    // Forget owners that are gone, or silent for long enough that no lease of theirs can still be valid.
    for (const owner of owners) {
      if (owner.id !== self.id && (goneOwners.has(owner.id) || owner.heartbeatAt < now - 10 * this.#options.leaseMs)) {
        const stillHolds = (await store.findOrphans(now, [owner.id])).length > 0;
        if (!stillHolds) await store.removeOwner(owner.id);
      }
    }
    return recovered;
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
