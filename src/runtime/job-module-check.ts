// Every --job module is loaded once before the server starts, so that one that could never run a job (missing, a
// syntax error, no default export function) stops the start naming its file and line, instead of failing each of
// its jobs later. It is loaded in a short-lived worker thread: a module's top-level code belongs to a worker.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ConfigError } from '../config.js';
import { isSingleExecutable } from './single-executable.js';

const LOAD_TIMEOUT_MS = 10_000;

type LoadReport = { defaultType: string; exportNames: string[] } | { errorName: string; errorMessage: string };

// One thread loads them all, one after the other: a thread costs more to start than most modules to load.
const LOADER = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  for (const url of workerData) {
    try {
      const mod = await import(url);
      parentPort.postMessage({ defaultType: mod.default === null ? 'null' : typeof mod.default, exportNames: Object.keys(mod) });
    } catch (err) {
      parentPort.postMessage({ errorName: (err && err.name) || 'Error', errorMessage: String((err && err.message) || err) });
    }
  }
})();`;

export async function checkJobModules(jobs: ReadonlyArray<{ kind: string; file: string }>): Promise<void> {
  const modules = jobs.map(({ kind, file }) => ({ kind, path: resolve(file) }));
  for (const { kind, path } of modules) {
    if (!existsSync(path)) throw new ConfigError(`--job ${kind}: ${path} not found`);
  }
  if (modules.length === 0) return;
  const reports = await loadInThread(modules.map(({ path }) => path));
  modules.forEach(({ kind, path }, index) => {
    const report = reports[index]!;
    const fail = (what: string) => new ConfigError(`--job ${kind}: ${what}`);
    if ('errorName' in report) {
      if (report.errorName === 'SyntaxError') throw fail(`${syntaxErrorLocation(path) ?? path}: SyntaxError: ${report.errorMessage}`);
      throw fail(`${path} failed to load: ${report.errorName}: ${report.errorMessage}`);
    }
    if (report.defaultType === 'undefined') {
      throw fail(`${path} has no default export (exports: ${report.exportNames.join(', ') || 'none'}); export default the job function`);
    }
    if (report.defaultType !== 'function') throw fail(`${path}: its default export is an ${report.defaultType}, not a function`);
  });
}

async function loadInThread(paths: string[]): Promise<LoadReport[]> {
  const worker = new Worker(LOADER, { eval: true, workerData: paths.map((path) => pathToFileURL(path).href), stdout: true, stderr: true });
  const reports: LoadReport[] = [];
  try {
    return await new Promise<LoadReport[]>((resolveReports, reject) => {
      const timer = setTimeout(() => {
        const stuck = paths[reports.length];
        reject(new ConfigError(`--job: ${stuck} did not finish loading within ${LOAD_TIMEOUT_MS / 1000} s`));
      }, LOAD_TIMEOUT_MS);
      worker.on('message', (report: LoadReport) => {
        reports.push(report);
        if (reports.length === paths.length) {
          clearTimeout(timer);
          resolveReports(reports);
        }
      });
      worker.once('error', (err) => {
        // A module that kills its thread while loading (an uncaught throw from a timer): the rest are not known.
        clearTimeout(timer);
        while (reports.length < paths.length) reports.push({ errorName: err.name, errorMessage: err.message });
        resolveReports(reports);
      });
      // A module that calls process.exit while loading ends the thread without an error: without this, the
      // start waited for the load timeout and then called the module slow. (After the reports, terminate exits it.)
      worker.once('exit', (code) => {
        clearTimeout(timer);
        while (reports.length < paths.length) reports.push({ errorName: 'Error', errorMessage: `its thread exited with code ${code} while loading it` });
        resolveReports(reports);
      });
    });
  } finally {
    await worker.terminate();
  }
}

/** `file:line` of a syntax error: the module loader does not say where, `node --check` does. */
function syntaxErrorLocation(path: string): string | undefined {
  // The single executable runs only its own entry point, whatever its arguments.
  if (isSingleExecutable()) return undefined;
  const check = spawnSync(process.execPath, ['--check', path], { encoding: 'utf8', timeout: LOAD_TIMEOUT_MS });
  const firstLine = check.stderr?.split('\n', 1)[0] ?? '';
  return /^.+:\d+$/.test(firstLine) ? firstLine : undefined;
}
