// The reads and writes of flow control in SQLite (the plan is flow-claim.ts): run synchronously inside the claim's
// BEGIN IMMEDIATE, so what they count cannot change before the claim commits, in any process.
import type { Database, Statement } from 'better-sqlite3';
import type { Candidate, FlowRead, GroupState, KindState, StartScope } from '../flow-claim.js';
import { groupScope, kindScope } from '../flow-claim.js';
import type { RateLimit } from '../flow-control.js';

const CANDIDATE = 'id, kind, priority, run_at, seq, group_key';

const FLOW_SQL = {
  // A seek in jobs_claim_by_group: whether the kind has pending jobs with a key at all.
  hasGroupedPending: `
    SELECT 1 FROM jobs INDEXED BY jobs_claim_by_group
    WHERE kind = ? AND status = 'pending' AND group_key IS NOT NULL LIMIT 1`,
  runningOfKind: `SELECT coalesce(sum(n), 0) FROM job_counts WHERE kind = ? AND status = 'running'`,
  // One seek per key: the loose scan of flow-claim.ts's keysInRotation.
  nextGroupKey: `
    SELECT group_key FROM jobs INDEXED BY jobs_claim_by_group
    WHERE kind = @kind AND status = 'pending' AND group_key > @after
    ORDER BY group_key LIMIT 1`,
  headsOfGroup: `
    SELECT ${CANDIDATE} FROM jobs INDEXED BY jobs_claim_by_group
    WHERE kind = @kind AND group_key = @group AND status = 'pending' AND run_at <= @now
    ORDER BY priority DESC, run_at, seq LIMIT @limit`,
  // The jobs of a grouped kind without a key: read from jobs_claim_by_kind, past the keyed rows ahead of them.
  headsWithoutGroup: `
    SELECT ${CANDIDATE} FROM jobs INDEXED BY jobs_claim_by_kind
    WHERE kind = @kind AND status = 'pending' AND run_at <= @now AND group_key IS NULL
    ORDER BY priority DESC, run_at, seq LIMIT @limit`,
  headsOfKind: `
    SELECT ${CANDIDATE} FROM jobs INDEXED BY jobs_claim_by_kind
    WHERE kind = @kind AND status = 'pending' AND run_at <= @now
    ORDER BY priority DESC, run_at, seq LIMIT @limit`,
  runningOfGroup: `SELECT count(*) FROM jobs INDEXED BY jobs_running_by_group WHERE group_key = ? AND status = 'running'`,
  startsSince: `SELECT count(*) FROM flow_starts WHERE scope = @scope AND started_at > @since`,
  // With `count` starts in the window and a limit of `max`, a slot opens when the (count - max)th oldest leaves it.
  slotOpensAt: `
    SELECT started_at FROM flow_starts WHERE scope = @scope AND started_at > @since
    ORDER BY started_at LIMIT 1 OFFSET @offset`,
  pruneStarts: `DELETE FROM flow_starts WHERE scope = @scope AND started_at <= @since`,
  logStart: `INSERT INTO flow_starts (scope, started_at) VALUES (@scope, @now)`,
  runningByGroup: `
    SELECT group_key AS groupKey, count(*) AS count FROM jobs INDEXED BY jobs_running_by_group
    WHERE status = 'running' AND group_key IS NOT NULL
    GROUP BY group_key ORDER BY count DESC, group_key LIMIT ?`,
} as const;

export class SqliteFlowSql {
  readonly #sql: Record<keyof typeof FLOW_SQL, Statement>;
  readonly #nextRunAtOfKind: Statement;

  constructor(db: Database, nextRunAtOfKind: Statement) {
    this.#sql = Object.fromEntries(Object.entries(FLOW_SQL).map(([name, sql]) => [name, db.prepare(sql)])) as Record<keyof typeof FLOW_SQL, Statement>;
    for (const name of ['hasGroupedPending', 'runningOfKind', 'nextGroupKey', 'runningOfGroup', 'startsSince', 'slotOpensAt'] as const) this.#sql[name].pluck();
    this.#nextRunAtOfKind = nextRunAtOfKind;
  }

  isGrouped(kind: string): boolean {
    return this.#sql.hasGroupedPending.get(kind) !== undefined;
  }

  read(read: FlowRead): unknown {
    switch (read.op) {
      case 'lockKinds':
        return undefined; // the claim holds the database's write lock already
      case 'kindStates':
        return read.kinds.map(({ kind, rate }): KindState => {
          const firstDue = this.#nextRunAtOfKind.get(kind) as number | undefined;
          return {
            kind,
            due: firstDue !== undefined && firstDue <= read.now,
            grouped: this.isGrouped(kind),
            running: this.#sql.runningOfKind.get(kind) as number,
            ...this.#rateState(kindScope(kind), rate, read.now),
          };
        });
      case 'groupKeys': {
        const keys: string[] = [];
        for (let after = read.after ?? ''; keys.length < read.max; ) {
          const key = this.#sql.nextGroupKey.get({ kind: read.kind, after }) as string | undefined;
          if (key === undefined) break;
          keys.push((after = key));
        }
        return keys;
      }
      case 'heads': {
        const { kind, limit, now } = read;
        if (read.groups === undefined) return this.#sql.headsOfKind.all({ kind, limit, now }) as Candidate[];
        return read.groups.flatMap((group) =>
          (group === null ? this.#sql.headsWithoutGroup.all({ kind, limit, now }) : this.#sql.headsOfGroup.all({ kind, group, limit, now })) as Candidate[]);
      }
      case 'groupStates':
        return read.keys.map((key): GroupState => ({
          key,
          running: this.#sql.runningOfGroup.get(key) as number,
          available: true,
          ...this.#rateState(groupScope(key), read.rate, read.now),
        }));
    }
  }

  /** Logs the starts of this claim and forgets those no window needs any more. */
  logStarts(starts: readonly StartScope[], now: number): void {
    for (const { scope, intervalMs } of starts) {
      this.#sql.pruneStarts.run({ scope, since: now - intervalMs });
      this.#sql.logStart.run({ scope, now });
    }
  }

  runningByGroup(limit: number): Array<{ groupKey: string; count: number }> {
    return this.#sql.runningByGroup.all(limit) as Array<{ groupKey: string; count: number }>;
  }

  #rateState(scope: string, rate: RateLimit | undefined, now: number): { starts: number; rateRetryAt: number | null } {
    if (!rate) return { starts: 0, rateRetryAt: null };
    const since = now - rate.intervalMs;
    const starts = this.#sql.startsSince.get({ scope, since }) as number;
    if (starts < rate.count) return { starts, rateRetryAt: null };
    const oldest = this.#sql.slotOpensAt.get({ scope, since, offset: starts - rate.count }) as number;
    return { starts, rateRetryAt: oldest + rate.intervalMs };
  }
}
