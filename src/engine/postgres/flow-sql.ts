// The reads and writes of flow control in PostgreSQL (the plan is flow-claim.ts), run in the claim's transaction.
// SKIP LOCKED keeps nodes from claiming the same row, but not from both counting "one slot left": so claims of a
// limited kind take an advisory lock on it (waited for, in sorted order), and keys with limits are try-locked
// (a key another node is claiming from right now is skipped, as a locked row is). Each lock is taken in a
// statement of its own, before the counts: a statement's snapshot predates the locks it takes.
import { prepareNamedSql, runSql, type Sql } from '../../db/postgres-connection.js';
import type { Candidate, FlowRead, GroupState, KindState, StartScope } from '../flow-claim.js';
import { kindScope } from '../flow-claim.js';

const CANDIDATE = 'id, kind, priority, run_at, seq, group_key';
const LOCK_KEY = (scope: string) => `hashtextextended('offload.flow.' || ${scope}, 0)`;
/** Starts of scope `s.scope` in its window, and the start whose expiry opens the next slot (given `s.max`). */
const RATE_WINDOW = `
  CROSS JOIN LATERAL (
    SELECT count(*)::bigint AS starts,
           (array_agg(started_at ORDER BY started_at))[greatest(count(*) - s.max, 0)::int + 1] AS slot_from
    FROM flow_starts WHERE s.max IS NOT NULL AND scope = s.scope AND started_at > s.since
  ) AS w`;

export const FLOW_SQL = prepareNamedSql({
  lock: `SELECT pg_advisory_xact_lock(${LOCK_KEY('@scope::text')})`,
  tryLocks: `
    SELECT key FROM unnest(@keys::text[]) AS g(key)
    WHERE pg_try_advisory_xact_lock(${LOCK_KEY("'group:' || g.key")})`,
  kindStates: `
    SELECT s.kind, w.starts, w.slot_from,
           EXISTS (SELECT 1 FROM jobs WHERE kind = s.kind AND status = 'pending' AND run_at <= @now) AS due,
           EXISTS (SELECT 1 FROM jobs WHERE kind = s.kind AND status = 'pending' AND group_key IS NOT NULL) AS grouped,
           (SELECT coalesce(sum(n), 0) FROM job_counts WHERE kind = s.kind AND status = 'running')::bigint AS running
    FROM unnest(@kinds::text[], @scopes::text[], @maxes::bigint[], @sinces::bigint[]) AS s(kind, scope, max, since)
    ${RATE_WINDOW}`,
  groupStates: `
    SELECT s.key, w.starts, w.slot_from,
           (SELECT count(*) FROM jobs WHERE group_key = s.key AND status = 'running')::bigint AS running
    FROM (SELECT key, 'group:' || key AS scope, @max::bigint AS max, @since::bigint AS since FROM unnest(@keys::text[]) AS g(key)) AS s
    ${RATE_WINDOW}`,
  // A loose scan of jobs_claim_by_group: one index seek per key.
  groupKeys: `
    WITH RECURSIVE g(key) AS (
      (SELECT group_key FROM jobs WHERE kind = @kind AND status = 'pending' AND group_key > @after ORDER BY group_key LIMIT 1)
      UNION ALL
      SELECT (SELECT group_key FROM jobs WHERE kind = @kind AND status = 'pending' AND group_key > g.key ORDER BY group_key LIMIT 1)
      FROM g WHERE g.key IS NOT NULL
    )
    SELECT key FROM g WHERE key IS NOT NULL LIMIT @max`,
  headsOfGroups: `
    SELECT h.* FROM unnest(@keys::text[]) AS g(key)
    CROSS JOIN LATERAL (
      SELECT ${CANDIDATE} FROM jobs
      WHERE kind = @kind AND group_key = g.key AND status = 'pending' AND run_at <= @now AND id <> ALL(@exclude::text[])
      ORDER BY priority DESC, run_at, seq LIMIT @limit
      FOR UPDATE SKIP LOCKED
    ) AS h`,
  headsOfKind: `
    SELECT ${CANDIDATE} FROM jobs
    WHERE kind = @kind AND status = 'pending' AND run_at <= @now AND id <> ALL(@exclude::text[])
      AND (NOT @without_group::boolean OR group_key IS NULL)
    ORDER BY priority DESC, run_at, seq LIMIT @limit
    FOR UPDATE SKIP LOCKED`,
  logStarts: `
    WITH pruned AS (
      DELETE FROM flow_starts f USING unnest(@scopes::text[], @sinces::bigint[]) AS p(scope, since)
      WHERE f.scope = p.scope AND f.started_at <= p.since
    )
    INSERT INTO flow_starts (scope, started_at) SELECT scope, @now FROM unnest(@scopes::text[]) AS p(scope)`,
  runningByGroup: `
    SELECT group_key AS "groupKey", count(*)::bigint AS count FROM jobs
    WHERE status = 'running' AND group_key IS NOT NULL
    GROUP BY group_key ORDER BY count DESC, group_key LIMIT @limit`,
});

interface RateRow {
  starts: number;
  slot_from: number | null;
}

const rateState = (row: RateRow, max: number | undefined, intervalMs: number | undefined) => ({
  starts: row.starts,
  rateRetryAt: max !== undefined && row.starts >= max && row.slot_from !== null ? row.slot_from + intervalMs! : null,
});

/** Answers one read of planFlowClaim on `sql` (the claim's transaction). */
export async function readFlow(sql: Sql, read: FlowRead): Promise<unknown> {
  switch (read.op) {
    case 'lockKinds':
      for (const kind of read.kinds) await runSql(sql, FLOW_SQL.lock, { scope: kindScope(kind) });
      return undefined;
    case 'kindStates': {
      const rows = await runSql<RateRow & { kind: string; due: boolean; grouped: boolean; running: number }>(sql, FLOW_SQL.kindStates, {
        now: read.now,
        kinds: read.kinds.map((k) => k.kind),
        scopes: read.kinds.map((k) => kindScope(k.kind)),
        maxes: read.kinds.map((k) => k.rate?.count ?? null),
        sinces: read.kinds.map((k) => (k.rate ? read.now - k.rate.intervalMs : null)),
      });
      return rows.map((row, i): KindState => {
        const rate = read.kinds[i]!.rate;
        return { kind: row.kind, due: row.due, grouped: row.grouped, running: row.running, ...rateState(row, rate?.count, rate?.intervalMs) };
      });
    }
    case 'groupKeys':
      return (await runSql<{ key: string }>(sql, FLOW_SQL.groupKeys, { kind: read.kind, after: read.after ?? '', max: read.max })).map((row) => row.key);
    case 'heads': {
      const base = { kind: read.kind, now: read.now, limit: read.limit, exclude: read.exclude };
      if (read.groups === undefined) return runSql<Candidate>(sql, FLOW_SQL.headsOfKind, { ...base, without_group: false });
      const keys = read.groups.filter((key): key is string => key !== null);
      const keyed = keys.length === 0 ? [] : await runSql<Candidate>(sql, FLOW_SQL.headsOfGroups, { ...base, keys });
      const unkeyed = read.groups.includes(null) ? await runSql<Candidate>(sql, FLOW_SQL.headsOfKind, { ...base, without_group: true }) : [];
      return [...keyed, ...unkeyed];
    }
    case 'groupStates': {
      const locked = (await runSql<{ key: string }>(sql, FLOW_SQL.tryLocks, { keys: read.keys })).map((row) => row.key);
      const rows = locked.length === 0 ? [] : await runSql<RateRow & { key: string; running: number }>(sql, FLOW_SQL.groupStates, {
        keys: locked, max: read.rate?.count ?? null, since: read.rate ? read.now - read.rate.intervalMs : null,
      });
      const found = new Map(rows.map((row) => [row.key, row]));
      return read.keys.map((key): GroupState => {
        const row = found.get(key);
        if (!row) return { key, running: 0, starts: 0, rateRetryAt: null, available: false };
        return { key, running: row.running, available: true, ...rateState(row, read.rate?.count, read.rate?.intervalMs) };
      });
    }
  }
}

export async function logFlowStarts(sql: Sql, starts: readonly StartScope[], now: number): Promise<void> {
  if (starts.length === 0) return;
  await runSql(sql, FLOW_SQL.logStarts, { scopes: starts.map((s) => s.scope), sinces: starts.map((s) => now - s.intervalMs), now });
}

