/**
 * A start that failed for a reason the operator can fix (a port in use, an unusable data directory): its message
 * is the one line to show them, naming what is wrong; the cause keeps the original error for the debug log.
 */
export class StartupError extends Error {
  override name = 'StartupError';
}

/** Why `err` happened, in a few words: the message of a system or SQLite error, without its stack. */
export function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
