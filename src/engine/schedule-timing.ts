// When a schedule is due: its cron expression read on the wall clock of its time zone, or a fixed interval.
import { Cron } from 'croner';

const MINUTE = 60_000;
/** Every zone's DST shift is at most this long (most are 1 h; Lord Howe's is 30 min; none is over 2 h). */
const MAX_SHIFT_MS = 3 * 3_600_000;

export type ScheduleTiming = { cron: string; timeZone: string } | { intervalMs: number; anchorAt: number };

/** Null when `expression` is a valid 5- or 6-field cron expression; otherwise why not. */
export function cronProblem(expression: string): string | null {
  try {
    new Cron(expression, { mode: '5-or-6-parts', timezone: 'UTC', paused: true });
    return null;
  } catch (err) {
    return (err as Error).message.replace(/^CronPattern: /, '');
  }
}

/** The canonical spelling of a zone of the IANA time zone database that this Node.js (its ICU) knows, else undefined. */
export function canonicalTimeZone(name: string): string | undefined {
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(name)) return undefined;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/**
 * The first due time strictly after `after` (epoch ms). A cron expression is matched against the zone's wall
 * clock (croner, in UTC, enumerates wall-clock times, which have no DST), and each wall-clock time is then placed
 * on the time line: a time that occurs twice (fall back) at its first instant only, so it runs once; a time that
 * does not exist (spring forward) at the end of the gap, the next valid minute, and all the times of one gap there
 * once. croner's own zone handling differs (it runs an hourly job twice in the repeated hour, and skips `*\/30 2`
 * on a spring-forward day), hence this.
 */
export function nextDueAfter(timing: ScheduleTiming, after: number): number | undefined {
  if ('intervalMs' in timing) {
    const periods = Math.floor((after - timing.anchorAt) / timing.intervalMs) + 1;
    return timing.anchorAt + Math.max(1, periods) * timing.intervalMs;
  }
  const zone = zoneOf(timing.timeZone);
  const cron = cronOf(timing.cron);
  let wall = zone.wallOf(after);
  // Each pass moves at least one second of wall-clock time on; a repeated hour holds at most a few thousand matches.
  for (let pass = 0; pass < 100_000; pass++) {
    const next = cron.nextRun(new Date(wall));
    if (!next) return undefined;
    wall = next.getTime();
    const instant = zone.instantOf(wall);
    if (instant > after) return instant;
  }
  return undefined;
}

const crons = new Map<string, Cron>();

function cronOf(expression: string): Cron {
  let cron = crons.get(expression);
  if (!cron) {
    if (crons.size >= 1000) crons.clear();
    crons.set(expression, (cron = new Cron(expression, { mode: '5-or-6-parts', timezone: 'UTC', paused: true })));
  }
  return cron;
}

interface Zone {
  /** The wall-clock time at `instant`, as epoch ms of the same reading in UTC. */
  wallOf(instant: number): number;
  /** The first instant whose wall-clock reading is `wall`, or the end of the gap that `wall` falls in. */
  instantOf(wall: number): number;
}

const zones = new Map<string, Zone>();

function zoneOf(timeZone: string): Zone {
  let zone = zones.get(timeZone);
  if (!zone) zones.set(timeZone, (zone = createZone(timeZone)));
  return zone;
}

function createZone(timeZone: string): Zone {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
  });
  const wallOf = (instant: number): number => {
    const part = Object.fromEntries(format.formatToParts(new Date(instant)).map((p) => [p.type, Number(p.value)]));
    const wholeSeconds = Date.UTC(part.year!, part.month! - 1, part.day!, part.hour!, part.minute!, part.second!);
    return wholeSeconds + (((instant % 1000) + 1000) % 1000);
  };
  const offsetAt = (instant: number) => wallOf(instant) - instant;
  return {
    wallOf,
    instantOf(wall) {
      const before = wall - offsetAt(wall - MAX_SHIFT_MS);
      const later = wall - offsetAt(wall + MAX_SHIFT_MS);
      const exact = [before, later].filter((instant) => wallOf(instant) === wall).sort((a, b) => a - b);
      if (exact.length > 0) return exact[0]!;
      // In a gap: the offset changes between `later` and `before`; the first minute with the new offset ends it.
      let low = Math.min(before, later);
      let high = Math.max(before, later);
      const oldOffset = offsetAt(low);
      while (high - low > MINUTE) {
        const middle = low + Math.floor((high - low) / 2 / MINUTE) * MINUTE || low + MINUTE;
        if (offsetAt(middle) === oldOffset) low = middle;
        else high = middle;
      }
      return high;
    },
  };
}
