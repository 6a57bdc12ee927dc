/**
 * The engine's clock: wall-clock time as it was when this process started, advanced by the monotonic clock. A
 * step of the wall clock (NTP, a VM resumed, an operator) moves neither the due times this process compares nor
 * the leases it writes: a backward step would otherwise leave queued jobs waiting for the step's length, and a
 * forward one would make healthy leases look expired. Processes started on either side of a step disagree by the
 * step; leases do not depend on that (see LeaseKeeper), only due times of jobs enqueued by one and run by another.
 */
const wallAtStart = Date.now();
const monotonicAtStart = performance.now();

export function engineNow(): number {
  return Math.round(wallAtStart + (performance.now() - monotonicAtStart));
}
