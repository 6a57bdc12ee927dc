import { engineNow } from './clock.js';
import type { ReadinessCheck, ReadinessReport } from './engine-types.js';
import type { JobStore } from './job-store.js';

const WRITE_TIMEOUT_MS = 1_000;

/**
 * The engine's readiness, check by check. The database check is a real write (this engine's heartbeat row), so a
 * locked or full disk fails it — a read or an empty transaction would pass — and it gives up after a second.
 */
export async function checkReadiness({ store, ownerId, poolProblem, zombieThreads }: {
  store: JobStore;
  ownerId: string;
  poolProblem: string | undefined;
  zombieThreads: number;
}): Promise<ReadinessReport> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<string>((resolve) => {
    timer = setTimeout(resolve, WRITE_TIMEOUT_MS, `A write did not commit within ${WRITE_TIMEOUT_MS} ms: another process may hold the database's write lock.`);
  });
  // Settles with the problem, never rejects: the race's loser must not become an unhandled rejection.
  const written = store.touchOwner(ownerId, engineNow()).then(
    (found) => (found ? undefined : 'This engine has no row in the owners table (not started, or another process took it for dead).'),
    (err: unknown) => {
      const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
      return `The database refused a write: ${typeof code === 'string' ? `${code}: ` : ''}${typeof message === 'string' ? message : String(err)}`;
    },
  );
  const databaseProblem = await Promise.race([written, timedOut]).finally(() => clearTimeout(timer));
  const threadsProblem = zombieThreads === 0 ? undefined
    : `${zombieThreads} worker thread${zombieThreads === 1 ? '' : 's'} did not exit after being terminated (blocked in a native call); ` +
      'each holds a core or memory until that call returns.';
  const checks: ReadinessCheck[] = [check('database', databaseProblem), check('pool', poolProblem), check('threads', threadsProblem)];
  return { ready: checks.every((c) => c.ok), checks };
}

function check(name: ReadinessCheck['name'], problem: string | undefined): ReadinessCheck {
  return problem === undefined ? { name, ok: true } : { name, ok: false, message: problem };
}
