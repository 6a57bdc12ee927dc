// What config.ts and flow-config.ts both need: the error for bad configuration, and durations (90s, 30m, 24h, 7d).

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const DURATION = /^(\d+)(ms|s|m|h|d)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds of `text` (a bare number is seconds), or undefined when it is no duration. */
export function durationMs(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  return match ? Number(match[1]) * UNIT_MS[match[2] ?? 's']! : undefined;
}

export function parseDuration(name: string, text: string): number {
  const ms = durationMs(text);
  if (ms === undefined) throw new ConfigError(`--${name} must be a duration such as 90s, 30m, 24h or 7d, got "${text}"`);
  return ms;
}
