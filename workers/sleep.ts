// Job kind `sleep`, the demo kind a fresh server offers to clients (POST /jobs): it waits, reporting progress
// every 100 ms, and stops at once when cancelled. What a first curl needs to see a job run, progress and end.
import { setTimeout as wait } from 'node:timers/promises';
import type { JobContext } from '../src/contracts/task-context.js';
import { createAbortError, createTaskError } from '../src/contracts/task-errors.js';

export const SLEEP_MAX_SECONDS = 3600;
const TICK_MS = 100;

export default async function sleep(payload: unknown, ctx: JobContext): Promise<{ slept_ms: number }> {
  const seconds = (payload as { seconds?: unknown } | null)?.seconds ?? 5;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0 || seconds > SLEEP_MAX_SECONDS) {
    throw createTaskError('invalid_payload', `payload.seconds must be a number from 0 to ${SLEEP_MAX_SECONDS}`);
  }
  const totalMs = Math.round(seconds * 1000);
  const started = performance.now();
  for (;;) {
    const elapsed = Math.min(totalMs, Math.round(performance.now() - started));
    ctx.progress(elapsed, totalMs);
    if (elapsed >= totalMs) return { slept_ms: elapsed };
    if (ctx.signal.aborted) throw createAbortError(ctx.signal);
    // The timer's own signal option, which removes its abort listener when it fires: a listener added per tick
    // and never removed piled up on the job's one signal (36,000 for an hour; a MaxListenersExceededWarning at 11).
    await wait(Math.min(TICK_MS, totalMs - elapsed), undefined, { signal: ctx.signal }).catch(() => {});
  }
}
