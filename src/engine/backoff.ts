export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

/**
 * Delay before the next try after `attempt` failed: doubles each attempt up to `maxMs`, then a random point in its
 * upper half, so that jobs that failed together (a crashed process) do not all come back at the same instant.
 */
export function computeBackoffMs(attempt: number, { baseMs, maxMs }: BackoffOptions, random = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
