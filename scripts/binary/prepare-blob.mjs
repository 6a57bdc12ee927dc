// Step 4: the assets (worker bundles, addon, migrations), their manifest, and the SEA blob made from them.
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MIGRATION_SETS } from '../copy-assets.mjs';
import { ASSETS, BuildError, listFiles, ROOT, run, sha256, STAGE, toolEnv } from './util.mjs';

/**
 * Completes dist/sea/assets/, writes manifest.json (read by src/runtime/single-executable.ts) and sea-config.json,
 * and has `node` write the blob. `required` names the assets that must be there besides Piscina's worker and the
 * addon: the worker bundles.
 */
export function prepareBlob(node, addon, required) {
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

  const seaConfig = {
    main: join(STAGE, 'main.cjs'),
    output: join(STAGE, 'sea-prep.blob'),
    disableExperimentalSEAWarning: true,
    // Measured: no faster start-up with it (±20 ms in the noise), and with any V8 flag in NODE_OPTIONS
    // (e.g. --max-old-space-size) every start printed "Warning: Code cache data rejected."
    useCodeCache: false,
    useSnapshot: false,
    assets: {
      'manifest.json': join(STAGE, 'manifest.json'),
      'offload.package.json': join(ROOT, 'package.json'),
      ...Object.fromEntries(files.map((f) => [f.name, join(ASSETS, f.name)])),
    },
  };
  writeFileSync(join(STAGE, 'sea-config.json'), `${JSON.stringify(seaConfig, null, 2)}\n`);
  // The blob must come from the Node it is injected into.
  run(node, ['--experimental-sea-config', join(STAGE, 'sea-config.json')], { cwd: STAGE, env: toolEnv() });
  if (!existsSync(seaConfig.output)) throw new BuildError('node --experimental-sea-config wrote no blob');
  return { blob: seaConfig.output, key, files };
}
