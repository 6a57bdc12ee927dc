// node-matrix step 1: a line's official Node binary, from the npm package node-<platform>-<arch>@<line>.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { MatrixError, NODE_PACKAGE, cleanEnv, runSync, say, sha256, tail } from './util.mjs';

// ── 1. The runtime ──────────────────────────────────────────────────────────────────────────────────────────────

export function versionOf(node) {
  try {
    return runSync(node, ['--version'], { env: cleanEnv(), timeout: 30_000 }).trim();
  } catch {
    return undefined;
  }
}

export const fitsLine = (version, line) => (line.includes('.') ? version === `v${line}` : version?.startsWith(`v${line}.`));

export function obtainRuntime(line, cache, { refresh }) {
  if (line === 'system') {
    const bin = dirname(process.execPath);
    // Headers of the system Node, if installed beside it; otherwise npm's own nodedir setting applies.
    const nodeDir = existsSync(join(bin, '..', 'include', 'node', 'node_api.h')) ? resolve(bin, '..') : undefined;
    return { line, node: process.execPath, bin, nodeDir, version: process.version, fetched: false };
  }
  const dir = join(cache, line, 'node');
  const node = join(dir, 'bin', 'node');
  if (!refresh && existsSync(join(dir, '.complete'))) {
    const version = versionOf(node);
    if (fitsLine(version, line) && existsSync(join(dir, 'include', 'node', 'node_api.h'))) {
      return { line, node, bin: dirname(node), nodeDir: dir, version, fetched: false };
    }
    say(`${node} is ${version ?? 'not runnable'}: fetching node ${line} again`);
  }
  const work = join(cache, line, `tmp-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    fetchRuntimeInto(line, work);
    rmSync(dir, { recursive: true, force: true });
    renameSync(join(work, 'package'), dir);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const version = versionOf(node);
  if (!fitsLine(version, line)) throw new MatrixError(`${NODE_PACKAGE}@${line} unpacked a node that prints ${version ?? 'nothing'}, expected v${line}${line.includes('.') ? '' : '.x'}`);
  return { line, node, bin: dirname(node), nodeDir: dir, version, fetched: true };
}

/** npm pack (the ordinary npm client, nothing installed), check the tarball against what npm reported, unpack. */
export function fetchRuntimeInto(line, work) {
  const args = ['pack', `${NODE_PACKAGE}@${line}`, '--pack-destination', work, '--json', '--loglevel=error'];
  const result = spawnSync('npm', args, { cwd: work, env: cleanEnv(), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 600_000 });
  let packed;
  try {
    packed = JSON.parse(result.stdout);
  } catch {
    // reported below
  }
  if (result.status !== 0 || !Array.isArray(packed)) {
    const registry = spawnSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8', env: cleanEnv() }).stdout?.trim() || 'the npm registry';
    const reason = result.error
      ? `npm: ${result.error.code === 'ENOENT' ? 'not found on PATH' : result.error.message}`
      : (packed?.error?.summary ?? tail(`${result.stdout ?? ''}${result.stderr ?? ''}`, 15));
    throw new MatrixError(`could not fetch ${NODE_PACKAGE}@${line} from ${registry} with \`npm ${args.slice(0, 2).join(' ')}\` (offline? no such release? OFFLOAD_NODE_MATRIX_DIR can point at a cache that has it): ${reason}`);
  }
  const { filename, integrity, version } = packed[0] ?? {};
  if (!filename) throw new MatrixError(`npm pack ${NODE_PACKAGE}@${line} reported no file`);
  const tarball = join(work, filename);
  const [algorithm, digest] = String(integrity).split('-');
  if (!['sha512', 'sha384', 'sha256'].includes(algorithm)) throw new MatrixError(`npm pack reported no usable integrity for ${filename}: ${integrity}`);
  const actual = createHash(algorithm).update(readFileSync(tarball)).digest('base64');
  if (actual !== digest) throw new MatrixError(`${filename}: ${algorithm} is ${actual}, npm reported ${digest}`);
  runSync('tar', ['-xzf', tarball, '-C', work, 'package/bin/node', 'package/include/node', 'package/LICENSE', 'package/package.json']);
  writeFileSync(join(work, 'package', '.complete'), `${NODE_PACKAGE}@${version} ${integrity}\n`);
  rmSync(tarball);
}
