// Step 4: the assets (worker bundles, addon, migrations), their manifest, and the SEA configuration that names them.
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MIGRATION_SETS } from '../copy-assets.mjs';
import { ASSETS, BuildError, listFiles, ROOT, sha256, STAGE } from './util.mjs';

/**
 * Completes dist/sea/assets/, writes manifest.json (read by src/runtime/single-executable.ts) and sea-config.json
 * for `node --build-sea` (scripts/binary/inject.mjs). `required` names the assets that must be there besides
 * Piscina's worker and the addon: the worker bundles.
 */
export function prepareSeaConfig(addon, required) {
  copyFileSync(addon, join(ASSETS, 'better_sqlite3.node'));
  for (const { component, dir } of MIGRATION_SETS) {
    cpSync(join(ROOT, dir), join(ASSETS, 'migrations', component), { recursive: true });
    if (!listFiles(join(ASSETS, 'migrations', component)).some((name) => name.endsWith('.sql'))) {
      throw new BuildError(`no SQL migrations found in ${dir}`);
    }
  }
  writeFileSync(join(ASSETS, 'package.json'), `${JSON.stringify({ type: 'module' })}\n`);

  const files = listFiles(ASSETS).sort().map((name) => ({
    name,
    sha256: sha256(join(ASSETS, name)),
    mode: name.endsWith('.node') ? 0o700 : 0o600,
  }));
  for (const name of ['piscina-worker.cjs', 'better_sqlite3.node', ...required]) {
    if (!files.some((file) => file.name === name)) throw new BuildError(`asset ${name} is missing`);
  }
  const key = createHash('sha256').update(files.map((f) => `${f.name}\t${f.sha256}\n`).join('')).digest('hex').slice(0, 32);
  writeFileSync(join(STAGE, 'manifest.json'), `${JSON.stringify({ key, files }, null, 2)}\n`);

  const config = join(STAGE, 'sea-config.json');
  const seaConfig = {
    main: join(STAGE, 'main.cjs'),
    // The default. Node 26 also takes an ES module ("mainFormat": "module"); the CommonJS bundle, with its
    // import.meta.url shim (bundle.mjs), is the one proven on every Node line that embedded it.
    mainFormat: 'commonjs',
    // A stripped copy of the embedded Node (inject.mjs makes it): the blob goes into that Node, by that Node.
    executable: join(STAGE, 'node'),
    output: join(STAGE, 'offload'),
    disableExperimentalSEAWarning: true,
    // Measured: no faster start-up with it (±20 ms in the noise), and with any V8 flag in NODE_OPTIONS
    // (e.g. --max-old-space-size) every start printed "Warning: Code cache data rejected."
    useCodeCache: false,
    useSnapshot: false,
    // The default, written out: NODE_OPTIONS is honoured as by `node` (README "Single executable"); "none" would
    // ignore it.
    execArgvExtension: 'env',
    assets: {
      'manifest.json': join(STAGE, 'manifest.json'),
      'offload.package.json': join(ROOT, 'package.json'),
      ...Object.fromEntries(files.map((f) => [f.name, join(ASSETS, f.name)])),
    },
  };
  writeFileSync(config, `${JSON.stringify(seaConfig, null, 2)}\n`);
  return { config, executable: seaConfig.executable, output: seaConfig.output, key, files };
}
