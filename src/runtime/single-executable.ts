// Where offload finds the files it needs at run time: beside the compiled modules in dist/ normally, or
// extracted from the single executable (scripts/build-binary.mjs) into a cache directory. Every function returns
// the normal location when not running inside the single executable.
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as sea from 'node:sea';
import { isMainThread } from 'node:worker_threads';
import { cacheRootCandidates, extractFiles, type EmbeddedFile } from './asset-cache.js';

/** Written by scripts/build-binary.mjs as the asset `manifest.json`. */
export interface EmbeddedManifest {
  /** Content hash of all the files: names the cache directory. */
  key: string;
  files: Array<{ name: string; sha256: string; mode: number }>;
}

let extractedDir: string | undefined;
let manifest: EmbeddedManifest | undefined;

export function isSingleExecutable(): boolean {
  return sea.isSea();
}

/**
 * Extracts the embedded files, once, before anything needs them (the engine, the pool, migrations).
 * Returns the directory, or undefined outside the single executable. Throws AssetCacheError, whose message is
 * meant for the user, when no cache directory is usable.
 */
export function prepareSingleExecutable(env: Record<string, string | undefined>): string | undefined {
  if (!isSingleExecutable()) return undefined;
  if (extractedDir === undefined) {
    const { key, files: entries } = embeddedManifest();
    const files: EmbeddedFile[] = entries.map(({ name, sha256, mode }) => ({
      name,
      sha256,
      mode,
      read: () => new Uint8Array(sea.getRawAsset(name) as ArrayBuffer),
    }));
    extractedDir = extractFiles(cacheRootCandidates(env), key, files);
  }
  return extractedDir;
}

/**
 * A worker module given by its location in dist/ (Piscina's entry, a built-in job kind's module): that URL itself,
 * or inside the single executable the bundle of the same file name extracted from it.
 */
export function workerModuleUrl(distUrl: URL): URL {
  if (!isSingleExecutable()) return distUrl;
  const name = basename(fileURLToPath(distUrl));
  if (!embeddedManifest().files.some((file) => file.name === name)) {
    throw new Error(`the single executable embeds no worker module "${name}": is it in BUILT_IN_KINDS (src/built-in-kinds.ts), which scripts/binary/worker-bundles.mjs reads?`);
  }
  return pathToFileURL(join(assetDirectory(), name));
}

/**
 * Where a set of SQL migrations is: beside its compiled module (`sourceDir`), or, in the single executable,
 * extracted as `migrations/<component>/`.
 */
export function migrationsDirectory(component: string, sourceDir: URL): string {
  if (isSingleExecutable()) return join(assetDirectory(), 'migrations', component);
  return fileURLToPath(sourceDir);
}

export function readPackageJson(): { name: string; version: string } {
  const text = isSingleExecutable()
    ? sea.getAsset('offload.package.json', 'utf8')
    : readFileSync(new URL('../../../package.json', import.meta.url), 'utf8');
  return JSON.parse(text) as { name: string; version: string };
}

/** Piscina's own worker script; the build rewrites Piscina's `resolve(__dirname, 'worker.js')` to call this. */
export function piscinaWorkerFilename(): string {
  return join(assetDirectory(), 'piscina-worker.cjs');
}

const addons = new Map<string, unknown>();

/**
 * Loads a native addon from the extracted files; the build makes better-sqlite3's `require('bindings')` call this,
 * in the main thread and in every worker thread. dlopen() by path, then hand over the loaded module: better-sqlite3
 * given the path string instead fails inside a single executable.
 */
export function loadEmbeddedAddon(name: string): unknown {
  let addon = addons.get(name);
  if (addon === undefined) {
    const file = join(assetDirectory(), name);
    const module = { exports: {} as unknown };
    try {
      process.dlopen(module, file);
    } catch (err) {
      throw new Error(
        `cannot load the embedded native addon ${file}: ${(err as Error).message} ` +
          '(a cache directory on a noexec mount cannot hold it: set OFFLOAD_CACHE_DIR elsewhere)',
        { cause: err },
      );
    }
    addon = module.exports;
    addons.set(name, addon);
  }
  return addon;
}

function embeddedManifest(): EmbeddedManifest {
  manifest ??= JSON.parse(sea.getAsset('manifest.json', 'utf8')) as EmbeddedManifest;
  return manifest;
}

/**
 * The main thread knows the directory from prepareSingleExecutable(). Worker threads run bundles that were
 * extracted into that same directory, so theirs is the directory of their own module.
 */
function assetDirectory(): string {
  if (!isMainThread) return dirname(fileURLToPath(import.meta.url));
  if (extractedDir === undefined) throw new Error('the embedded files are not extracted yet: call prepareSingleExecutable() first');
  return extractedDir;
}

/** Lines added to --help inside the single executable. */
export function singleExecutableHelp(): string {
  if (!isSingleExecutable()) return '';
  return [
    'Single executable:',
    '  OFFLOAD_CACHE_DIR              where the embedded worker files and SQLite addon are extracted',
    '                                 (default $XDG_CACHE_HOME/offload or ~/.cache/offload)',
    '  NODE_OPTIONS                   honoured by the embedded Node.js, as by node itself',
    '',
  ].join('\n');
}
