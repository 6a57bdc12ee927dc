// The bench's long job kind for recovery_ms: holds its thread until aborted, so the server is killed mid-run.
import type { JobContext } from '../../src/contracts/task-context.js';

export default function sleep(_payload: unknown, ctx: JobContext): Promise<null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), 10 * 60_000);
    ctx.signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve(null);
    });
  });
}
