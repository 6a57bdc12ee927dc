// The flow-control flags of `offload serve`: --limit KIND=N, --rate KIND=N/DURATION, --group-limit N and
// --group-rate N/DURATION, each also an OFFLOAD_* variable (the repeatable ones comma-separated).
import type { FlagSpec } from './config.js';
import { ConfigError, durationMs } from './config-values.js';
import { MAX_RATE_INTERVAL_MS, type FlowLimits, type RateLimit, type ScopeLimits } from './engine/flow-control.js';

/** The largest limit accepted: more is no limit at all on any machine. */
const MAX_LIMIT = 1_000_000;

export const FLOW_FLAGS: Record<string, FlagSpec> = {
  limit: { env: 'OFFLOAD_LIMITS', type: 'string', multiple: true, help: 'KIND=N: at most N jobs of the kind run at once, in every process sharing the store (repeatable; env: comma-separated)' },
  rate: { env: 'OFFLOAD_RATES', type: 'string', multiple: true, help: 'KIND=N/DURATION: at most N jobs of the kind start per DURATION, e.g. export=10/1m (repeatable; env: comma-separated)' },
  'group-limit': { env: 'OFFLOAD_GROUP_LIMIT', type: 'string', help: 'at most N jobs of one group_key run at once, whatever their kind (default: no limit)' },
  'group-rate': { env: 'OFFLOAD_GROUP_RATE', type: 'string', help: 'N/DURATION: at most N jobs of one group_key start per DURATION, e.g. 5/1s (default: no limit)' },
};

interface FlagReaders {
  list(name: string): string[];
  raw(name: string): string | undefined;
  /** The kinds this server runs: a limit on any other is a typo. */
  kinds: readonly string[];
}

export function parseFlowConfig({ list, raw, kinds: known }: FlagReaders): FlowLimits {
  const kinds: Record<string, ScopeLimits> = {};
  const perKind = (flag: string, parse: (value: string, spec: string) => Partial<ScopeLimits>, shape: string) => {
    for (const spec of list(flag)) {
      const match = /^([^=\s]+)=(.+)$/.exec(spec.trim());
      if (!match) throw new ConfigError(`--${flag} must look like ${shape}, got "${spec}"`);
      const kind = match[1]!;
      if (!known.includes(kind)) throw new ConfigError(`--${flag} ${kind}: no such job kind (kinds: ${known.join(', ')})`);
      const limits = parse(match[2]!.trim(), spec);
      const key = Object.keys(limits)[0] as keyof ScopeLimits;
      if (kinds[kind]?.[key] !== undefined) throw new ConfigError(`--${flag} ${kind} is given twice`);
      kinds[kind] = { ...kinds[kind], ...limits };
    }
  };
  perKind('limit', (value, spec) => ({ concurrency: limitOf('limit', value, spec) }), 'KIND=N (e.g. export=2)');
  perKind('rate', (value, spec) => ({ rate: rateOf('rate', value, spec) }), 'KIND=N/DURATION (e.g. export=10/1m)');
  const groups: ScopeLimits = {};
  const groupLimit = raw('group-limit');
  if (groupLimit !== undefined) groups.concurrency = limitOf('group-limit', groupLimit, groupLimit);
  const groupRate = raw('group-rate');
  if (groupRate !== undefined) groups.rate = rateOf('group-rate', groupRate, groupRate);
  return { kinds, ...(Object.keys(groups).length > 0 ? { groups } : {}) };
}

function limitOf(flag: string, value: string, spec: string): number {
  if (!/^\d+$/.test(value)) throw new ConfigError(`--${flag} must be an integer from 1 to ${MAX_LIMIT}, got "${spec}"`);
  const n = Number(value);
  if (n === 0) throw new ConfigError(`--${flag} ${spec}: a limit of 0 would never run a job; the least is 1`);
  if (n > MAX_LIMIT) throw new ConfigError(`--${flag} must be an integer from 1 to ${MAX_LIMIT}, got "${spec}"`);
  return n;
}

function rateOf(flag: string, value: string, spec: string): RateLimit {
  const match = /^(\d+)\/(.+)$/.exec(value);
  const intervalMs = match ? durationMs(match[2]!) : undefined;
  if (!match || intervalMs === undefined) {
    throw new ConfigError(`--${flag} must be N/DURATION such as 10/1s, 100/1m or 1000/1h, got "${spec}"`);
  }
  if (intervalMs < 1 || intervalMs > MAX_RATE_INTERVAL_MS) throw new ConfigError(`--${flag} ${spec}: the interval must be from 1ms to 1d`);
  return { count: limitOf(flag, match[1]!, spec), intervalMs };
}
