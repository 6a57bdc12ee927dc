// Which worker-thread modules go into the executable: Piscina's entry (the runner) and the module of every built-in
// job kind, as listed by the compiled manifest src/built-in-kinds.ts — the same list the composition root registers,
// so a kind added there is bundled without anyone editing this build.
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BuildError, ROOT } from './util.mjs';

const KINDS_MODULE = join(ROOT, 'dist', 'src', 'built-in-kinds.js');

/** Located by src/engine/pool.ts as `../../workers/runner.cjs`; not a job kind, so not in the manifest. */
const RUNNER = { entry: 'workers/runner.cts', out: 'runner.cjs', format: 'cjs' };

/**
 * The worker bundles, each named as its compiled file in dist/workers/ so that src/runtime's workerModuleUrl()
 * finds it by name. The extraction directory has a package.json saying "type": "module", as dist/ does, so `.js`
 * is ESM and `.cjs` CommonJS there too.
 */
export async function listWorkerBundles() {
  if (!existsSync(KINDS_MODULE)) {
    throw new BuildError(`${KINDS_MODULE} is missing: run \`npm run build\` first (the built-in kinds are read from the compiled tree)`);
  }
  const { BUILT_IN_KINDS } = await import(pathToFileURL(KINDS_MODULE).href);
  if (!Array.isArray(BUILT_IN_KINDS) || BUILT_IN_KINDS.length === 0) {
    const what = Array.isArray(BUILT_IN_KINDS) ? 'an empty BUILT_IN_KINDS' : 'no BUILT_IN_KINDS array';
    throw new BuildError(`${KINDS_MODULE} exports ${what}: the executable would have no built-in job kind`);
  }
  const bundles = [RUNNER, ...BUILT_IN_KINDS.map(kindBundle)];
  for (const { entry } of bundles) {
    const compiled = join(ROOT, 'dist', entry.replace(/\.ts$/, '.js').replace(/\.cts$/, '.cjs'));
    if (!existsSync(compiled)) throw new BuildError(`${entry} has no compiled module ${compiled}: run \`npm run build\`, or fix the entry`);
  }
  // Inside the executable a worker module is found by its file name alone.
  const names = bundles.map((b) => b.out);
  const repeated = names.filter((name, i) => names.indexOf(name) !== i);
  if (repeated.length > 0) throw new BuildError(`two worker modules would both be embedded as ${repeated.join(', ')}: rename one`);
  return bundles;
}

function kindBundle({ kind, entry }) {
  if (typeof entry !== 'string' || !entry.endsWith('.ts')) {
    throw new BuildError(`built-in kind ${kind}: entry ${JSON.stringify(entry)} is not a .ts module`);
  }
  return { entry, out: basename(entry).replace(/\.ts$/, '.js'), format: 'esm' };
}
