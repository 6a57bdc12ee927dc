// Step 5: a stripped copy of the embedded Node, made into the executable by that Node's own `--build-sea`, moved to
// dist/offload; and the stamp that lets a build whose inputs did not change skip this step.
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BuildError, CACHE, NODE_PACKAGE_INTEGRITY, OUTPUT, ROOT, sha256, STAGE, run, toolEnv } from './util.mjs';

const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/**
 * `node --build-sea` (Node >= 25.5) writes the blob into a copy of `executable` and flips the fuse: no postject.
 * `sea` is what prepareSeaConfig() returned.
 */
export function inject(node, sea) {
  copyFileSync(node, sea.executable);
  chmodSync(sea.executable, 0o755);
  rmSync(sea.output, { force: true });
  try {
    // Strip before injecting: stripping after injection produced a binary that crashed (see the notes).
    run('strip', [sea.executable]);
    if (!readFileSync(sea.executable).includes(Buffer.from(`${SEA_FUSE}:0`))) throw new BuildError(`${node} has no unset SEA fuse`);
    // The blob must come from the Node it goes into: `node` is that Node.
    run(node, ['--build-sea', sea.config], { cwd: STAGE, env: toolEnv() });
  } finally {
    rmSync(sea.executable, { force: true });
  }
  if (!existsSync(sea.output)) throw new BuildError(`node --build-sea wrote no ${sea.output}`);
  if (!readFileSync(sea.output).includes(Buffer.from(`${SEA_FUSE}:1`))) throw new BuildError('node --build-sea did not flip the SEA fuse');
  renameSync(sea.output, OUTPUT);
}

// "Up to date" compares what goes into the blob, not the blob: with V8's code cache on, no two blobs were alike.
export const STAMP = join(CACHE, 'last-build.json');

/** The build's inputs: the Node package, this build's own scripts, and what prepareSeaConfig() staged. */
export function inputsHash() {
  const hash = createHash('sha256');
  hash.update(`${NODE_PACKAGE_INTEGRITY}\n`);
  const here = fileURLToPath(new URL('.', import.meta.url));
  const scripts = [join(ROOT, 'scripts', 'build-binary.mjs'), ...readdirSync(here).filter((name) => name.endsWith('.mjs')).sort().map((name) => join(here, name))];
  for (const file of [...scripts, join(STAGE, 'sea-config.json'), join(STAGE, 'main.cjs'), join(STAGE, 'manifest.json'), join(ROOT, 'package.json')]) {
    hash.update(readFileSync(file));
  }
  return hash.digest('hex');
}

export function isUpToDate(inputs) {
  try {
    const stamp = JSON.parse(readFileSync(STAMP, 'utf8'));
    return stamp.inputs === inputs && existsSync(OUTPUT) && sha256(OUTPUT) === stamp.output;
  } catch {
    return false;
  }
}

export function writeStamp(inputs) {
  writeFileSync(STAMP, `${JSON.stringify({ inputs, output: sha256(OUTPUT) })}\n`);
}
