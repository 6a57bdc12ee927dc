// Step 5: a stripped copy of the embedded Node with the blob injected, moved to dist/offload; and the stamp that
// lets a build whose inputs did not change skip this step.
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BuildError, CACHE, NODE_PACKAGE_INTEGRITY, OUTPUT, require, ROOT, sha256, STAGE, run } from './util.mjs';

const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

export async function inject(node, blob) {
  const target = join(STAGE, 'offload');
  copyFileSync(node, target);
  chmodSync(target, 0o755);
  // Strip before injecting: stripping after injection produced a binary that crashed (see the notes).
  run('strip', [target]);
  if (!readFileSync(target).includes(Buffer.from(`${SEA_FUSE}:0`))) throw new BuildError(`${node} has no unset SEA fuse`);
  const { inject: postject } = require('postject');
  // postject reports harmless section-name warnings on the console; keep the build log readable.
  const { log, warn } = console;
  console.log = console.warn = () => {};
  try {
    await postject(target, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: SEA_FUSE });
  } finally {
    Object.assign(console, { log, warn });
  }
  if (!readFileSync(target).includes(Buffer.from(`${SEA_FUSE}:1`))) throw new BuildError('postject did not flip the SEA fuse');
  renameSync(target, OUTPUT);
}

// "Up to date" compares what goes into the blob, not the blob: with V8's code cache on, no two blobs were alike.
export const STAMP = join(CACHE, 'last-build.json');

/** The build's inputs: the Node package, this build's own scripts, and what prepareBlob() staged. */
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
