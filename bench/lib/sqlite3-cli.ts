// The sqlite3 command-line tool as a benchmark reference: its output goes to a file, as an export's does.
import { spawn } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';

/** Runs the sqlite3 CLI with its output into `out` (removed after): the milliseconds it took. */
export async function sqlite3ToFile(args: string[], out: string): Promise<number> {
  const fd = openSync(out, 'w');
  const started = performance.now();
  try {
    const child = spawn('sqlite3', args, { stdio: ['ignore', fd, 'inherit'] });
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', resolve);
    });
    if (code !== 0) throw new Error(`sqlite3 exited with code ${code}`);
  } finally {
    closeSync(fd);
  }
  const ms = performance.now() - started;
  rmSync(out, { force: true });
  return ms;
}
