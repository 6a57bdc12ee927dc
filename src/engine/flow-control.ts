// Flow control: how many jobs of a kind, or of one group key (a tenant, say), may run at once and how many may
// start per interval, in every process sharing the store. The store enforces them inside its claim (see
// flow-claim.ts); this file is the shape of the limits and their checks.
import { EngineError } from './engine-error.js';

/** At most `count` starts in any window of `intervalMs` (a sliding log of start times, not a token bucket). */
export interface RateLimit {
  count: number;
  intervalMs: number;
}

export interface ScopeLimits {
  /** Running jobs at most, in every process sharing the store. */
  concurrency?: number;
  /** Starts (attempts claimed) at most per interval. */
  rate?: RateLimit;
}

export interface FlowLimits {
  /** Per job kind. */
  kinds?: Readonly<Record<string, ScopeLimits>>;
  /** Per group key, whatever the kind: each key on its own (jobs without a key are not limited by this). */
  groups?: ScopeLimits;
}

/** Which limit left a due job pending. */
export type LimitName = 'concurrency' | 'rate' | 'group_concurrency' | 'group_rate';

/** What a claim is told about flow control. */
export interface FlowClaim {
  limits: FlowLimits;
  /**
   * Called during the claim for each limit that left a due job of `kind` pending; `retryAt` is when a rate-limited
   * slot opens again, null when only the end of a running job frees one.
   */
  held?(kind: string, limit: LimitName, retryAt: number | null): void;
}

/** A group key: 1 to 128 characters of letters, digits and . _ ~ : @ / + = - (no spaces, no control characters). */
export const GROUP_KEY_PATTERN = /^[A-Za-z0-9._~:@/+=-]{1,128}$/;
/** The longest rate interval: a day (the start log keeps a row per start for one interval). */
export const MAX_RATE_INTERVAL_MS = 86_400_000;

export function isValidGroupKey(key: string): boolean {
  return GROUP_KEY_PATTERN.test(key);
}

/** Checks every limit, with a message naming it (options.flow.kinds.export.concurrency must be …). */
export function validateFlowLimits(limits: FlowLimits): FlowLimits {
  const check = (where: string, scope: ScopeLimits) => {
    if (scope.concurrency !== undefined) positive(`${where}.concurrency`, scope.concurrency);
    if (scope.rate !== undefined) {
      positive(`${where}.rate.count`, scope.rate.count);
      positive(`${where}.rate.intervalMs`, scope.rate.intervalMs, MAX_RATE_INTERVAL_MS);
    }
  };
  for (const [kind, scope] of Object.entries(limits.kinds ?? {})) check(`options.flow.kinds.${kind}`, scope);
  if (limits.groups) check('options.flow.groups', limits.groups);
  return limits;
}

function positive(name: string, value: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isSafeInteger(value) || value < 1) throw new EngineError('invalid_option', `${name} must be a positive integer`);
  if (value > max) throw new EngineError('invalid_option', `${name} must be at most ${max}`);
}

