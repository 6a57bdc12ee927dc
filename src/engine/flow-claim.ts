// The claim under flow control, written once for both stores: a generator that yields the reads it needs
// (FlowRead) and gets their answers back, so SQLite runs it synchronously inside its write transaction and
// PostgreSQL asynchronously inside its own. It returns which jobs to claim and which starts to log.
import { inClaimOrder, type JobRow } from './job-row.js';
import type { ClaimRequest } from './job-store.js';
import type { FlowClaim, FlowLimits, RateLimit } from './flow-control.js';

export type Candidate = Pick<JobRow, 'id' | 'kind' | 'priority' | 'run_at' | 'seq'> & { group_key: string | null };

/** Per kind: what its limits are checked against. */
export interface KindState {
  kind: string;
  /** A pending job of the kind is due at `now`. */
  due: boolean;
  /** A pending job of the kind has a group key: its jobs are claimed round-robin across keys. */
  grouped: boolean;
  running: number;
  /** Starts logged within the kind's rate interval, and when the oldest that matters leaves it (null: no rate). */
  starts: number;
  rateRetryAt: number | null;
}

export interface GroupState {
  key: string;
  running: number;
  starts: number;
  rateRetryAt: number | null;
  /** False on PostgreSQL when another node is claiming from this key right now (its lock is taken): skipped. */
  available: boolean;
}

/** A start to log: the rate limits count these rows. */
export interface StartScope {
  scope: string;
  intervalMs: number;
}

export type FlowRead =
  /** Serialize claims of these kinds across processes (sorted; PostgreSQL advisory locks, nothing on SQLite). */
  | { op: 'lockKinds'; kinds: string[] }
  | { op: 'kindStates'; kinds: Array<{ kind: string; rate: RateLimit | undefined }>; now: number }
  /** Keys of pending jobs of `kind` after `after` (null: from the first), ascending, at most `max`. */
  | { op: 'groupKeys'; kind: string; after: string | null; max: number }
  /** Due pending jobs in claim order: of the kind without a key (group null), or of that key; at most `limit` each. */
  | { op: 'heads'; kind: string; groups: ReadonlyArray<string | null> | undefined; limit: number; now: number; exclude: string[] }
  | { op: 'groupStates'; keys: string[]; rate: RateLimit | undefined; now: number };

export interface FlowPlan {
  ids: string[];
  starts: StartScope[];
}

export const kindScope = (kind: string) => `kind:${kind}`;
export const groupScope = (key: string) => `group:${key}`;

/** How many keys a claim looks at per kind beyond its budget: keys at their limit or with nothing due are skipped. */
const EXTRA_KEYS = 32;

/** Does `flow` put this claim through planFlowClaim, or can the store use its plain claim? */
export function needsFlowClaim(request: ClaimRequest, hasKeyedJobs: () => boolean): boolean {
  const limits = request.flow?.limits;
  if (limits?.groups?.concurrency || limits?.groups?.rate) return true;
  return request.kinds.some((kind) => limits?.kinds?.[kind]) || hasKeyedJobs();
}

/**
 * `cursors` holds, per kind, the key served last (null: the jobs without a key), so that the next claim starts
 * after it: round-robin across keys, each claim taking one job per key per pass.
 */
export function* planFlowClaim(
  request: ClaimRequest & { flow: FlowClaim },
  cursors: Map<string, string | null>,
): Generator<FlowRead, FlowPlan, unknown> {
  const { limits } = request.flow;
  // Once per kind and limit in a claim, however many keys that limit held back.
  const reported = new Set<string>();
  const held: NonNullable<FlowClaim['held']> = (kind, limit, retryAt) => {
    if (reported.has(`${kind}\0${limit}`)) return;
    reported.add(`${kind}\0${limit}`);
    request.flow.held?.(kind, limit, retryAt);
  };
  const kinds = [...new Set(request.kinds)];
  const limited = kinds.filter((kind) => limits.kinds?.[kind]).sort();
  if (limited.length > 0) yield { op: 'lockKinds', kinds: limited };
  const states = (yield { op: 'kindStates', kinds: kinds.map((kind) => ({ kind, rate: limits.kinds?.[kind]?.rate })), now: request.now }) as KindState[];
  const exclude = [...(request.exclude ?? [])];
  const excluded = new Set(exclude);
  const pickedPerGroup = new Map<string, number>();
  const lists: Candidate[][] = [];
  const lastKeys = new Map<string, Map<string, string | null>>();
  for (const state of states) {
    if (!state.due) continue;
    const budget = kindBudget(state, limits, request.limit, held);
    if (budget <= 0) continue;
    if (!state.grouped) {
      const heads = (yield { op: 'heads', kind: state.kind, groups: undefined, limit: budget + exclude.length, now: request.now, exclude }) as Candidate[];
      lists.push(heads.filter((row) => !excluded.has(row.id)).slice(0, budget));
      continue;
    }
    const rotation = yield* keysInRotation(state.kind, cursors.get(state.kind), budget + EXTRA_KEYS);
    const perKey = Math.min(budget, Math.max(1, Math.ceil(budget / rotation.length)) + 1);
    const byKey = new Map<string | null, Candidate[]>();
    const groupLimited = Boolean(limits.groups?.concurrency || limits.groups?.rate);
    const groupStates = new Map<string, GroupState>();
    const allowance = (key: string | null): number => {
      if (key === null || !groupLimited) return Infinity;
      return groupAllowance(state.kind, groupStates.get(key), limits, pickedPerGroup.get(key) ?? 0, held);
    };
    // The heads of as many keys as the first pass can use, a chunk at a time: keys further on are read only when
    // those before them are empty or at their limit (one job per thread free reads one key).
    let fetched = 0;
    for (let usable = 0; fetched < rotation.length && usable < budget; ) {
      const chunk = rotation.slice(fetched, fetched + budget - usable);
      fetched += chunk.length;
      const heads = (yield { op: 'heads', kind: state.kind, groups: chunk, limit: perKey + exclude.length, now: request.now, exclude }) as Candidate[];
      for (const row of heads) if (!excluded.has(row.id)) byKey.set(row.group_key, [...(byKey.get(row.group_key) ?? []), row]);
      const keyed = chunk.filter((key): key is string => key !== null && byKey.has(key));
      if (groupLimited && keyed.length > 0) {
        for (const group of (yield { op: 'groupStates', keys: keyed, rate: limits.groups?.rate, now: request.now }) as GroupState[]) groupStates.set(group.key, group);
      }
      usable += chunk.filter((key) => byKey.has(key) && allowance(key) > 0).length;
    }
    const picks = roundRobin(rotation.slice(0, fetched).filter((key) => byKey.has(key)), byKey, budget, allowance, (key) => {
      if (key !== null) pickedPerGroup.set(key, (pickedPerGroup.get(key) ?? 0) + 1);
    });
    lists.push(picks);
    lastKeys.set(state.kind, new Map(picks.map((row) => [row.id, row.group_key])));
  }
  const chosen = mergeInClaimOrder(lists, request.limit);
  for (const [kind, keysOf] of lastKeys) {
    const last = chosen.filter((row) => keysOf.has(row.id)).at(-1);
    if (last) cursors.set(kind, last.group_key);
  }
  return { ids: chosen.map((row) => row.id), starts: startsOf(chosen, limits) };
}

/** Runs a plan whose reads answer at once (SQLite, inside its transaction). */
export function runPlanSync(plan: Generator<FlowRead, FlowPlan, unknown>, read: (step: FlowRead) => unknown): FlowPlan {
  for (let step = plan.next(); ; step = plan.next(read(step.value))) if (step.done) return step.value;
}

/** Runs a plan whose reads are round trips (PostgreSQL, inside its transaction). */
export async function runPlan(plan: Generator<FlowRead, FlowPlan, unknown>, read: (step: FlowRead) => Promise<unknown>): Promise<FlowPlan> {
  for (let step = plan.next(); ; step = plan.next(await read(step.value))) if (step.done) return step.value;
}

function kindBudget(state: KindState, limits: FlowLimits, limit: number, held: NonNullable<FlowClaim['held']>): number {
  const own = limits.kinds?.[state.kind];
  let budget = limit;
  if (own?.concurrency !== undefined) {
    budget = Math.min(budget, own.concurrency - state.running);
    if (budget <= 0) return held(state.kind, 'concurrency', null), 0;
  }
  if (own?.rate !== undefined) {
    budget = Math.min(budget, own.rate.count - state.starts);
    if (budget <= 0) return held(state.kind, 'rate', state.rateRetryAt), 0;
  }
  return budget;
}

function groupAllowance(kind: string, group: GroupState | undefined, limits: FlowLimits, picked: number, held: NonNullable<FlowClaim['held']>): number {
  if (!group?.available) return 0;
  let allowance = Infinity;
  const { concurrency, rate } = limits.groups ?? {};
  if (concurrency !== undefined) {
    allowance = concurrency - group.running - picked;
    if (allowance <= 0) return held(kind, 'group_concurrency', null), 0;
  }
  if (rate !== undefined) {
    allowance = Math.min(allowance, rate.count - group.starts - picked);
    if (allowance <= 0) return held(kind, 'group_rate', group.rateRetryAt), 0;
  }
  return allowance;
}

/**
 * The keys after the cursor, then the jobs without a key, then the keys up to the cursor: each key once, at
 * most `max`, every read an index seek (a loose scan of the key index).
 */
function* keysInRotation(kind: string, cursor: string | null | undefined, max: number): Generator<FlowRead, Array<string | null>, unknown> {
  if (cursor === undefined) return [null, ...((yield { op: 'groupKeys', kind, after: null, max: max - 1 }) as string[])];
  if (cursor === null) return [...((yield { op: 'groupKeys', kind, after: null, max: max - 1 }) as string[]), null];
  const after = (yield { op: 'groupKeys', kind, after: cursor, max }) as string[];
  if (after.length >= max) return after;
  const before = ((yield { op: 'groupKeys', kind, after: null, max: max - after.length - 1 }) as string[]).filter((key) => key <= cursor);
  return [...after, null, ...before];
}

/** One job per key per pass, in rotation order, until the budget is spent or no key has an allowance left. */
function roundRobin(
  rotation: Array<string | null>,
  byKey: Map<string | null, Candidate[]>,
  budget: number,
  allowance: (key: string | null) => number,
  onPick: (key: string | null) => void,
): Candidate[] {
  const picks: Candidate[] = [];
  const open = new Set(rotation);
  while (picks.length < budget && open.size > 0) {
    for (const key of rotation) {
      if (picks.length >= budget) break;
      if (!open.has(key)) continue;
      const next = byKey.get(key)?.shift();
      if (!next || allowance(key) <= 0) {
        open.delete(key);
        continue;
      }
      picks.push(next);
      onPick(key);
    }
  }
  return picks;
}

/** Merges per-kind lists (each kept in its own order) by the claim order of their heads, up to `limit`. */
function mergeInClaimOrder(lists: Candidate[][], limit: number): Candidate[] {
  const queues = lists.map((list) => [...list]).filter((list) => list.length > 0);
  const out: Candidate[] = [];
  while (out.length < limit && queues.length > 0) {
    let best = 0;
    for (let i = 1; i < queues.length; i++) if (inClaimOrder(queues[i]![0]!, queues[best]![0]!) < 0) best = i;
    out.push(queues[best]!.shift()!);
    if (queues[best]!.length === 0) queues.splice(best, 1);
  }
  return out;
}

function startsOf(chosen: Candidate[], limits: FlowLimits): StartScope[] {
  return chosen.flatMap((row) => {
    const starts: StartScope[] = [];
    const kindRate = limits.kinds?.[row.kind]?.rate;
    if (kindRate) starts.push({ scope: kindScope(row.kind), intervalMs: kindRate.intervalMs });
    const groupRate = limits.groups?.rate;
    if (groupRate && row.group_key !== null) starts.push({ scope: groupScope(row.group_key), intervalMs: groupRate.intervalMs });
    return starts;
  });
}
