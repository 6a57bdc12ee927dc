// Step 3: esbuild bundles of the server, Piscina's own worker and every worker module, each checked to load nothing
// but built-in modules: inside the executable `require()` finds nothing else.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join } from 'node:path';
import * as esbuild from 'esbuild';
import { embeddedAddonPlugin, piscinaWorkerPathPlugin } from './esbuild-plugins.mjs';
import { ASSETS, BuildError, NODE_VERSION, require, ROOT, STAGE } from './util.mjs';

/**
 * `require("…")` of a package left in a bundle, known to be harmless. Anything else fails the build: inside the
 * executable nothing but built-in modules can be required.
 */
const ALLOWED_EXTERNAL_REQUIRES = {
  // Optional: Piscina loads it only for options.niceIncrement, inside .catch(noop), so when missing it is ignored;
  // `offload serve` never sets that option (only embedders of the engine can).
  'piscina-worker.cjs': ['@napi-rs/nice'],
};

// import.meta.url in a CommonJS bundle: esbuild would make it undefined. The bundle's own file URL is what the
// code expects (its dist/ locations are only used outside the executable; inside it src/runtime answers).
const CJS_IMPORT_META = {
  define: { 'import.meta.url': '__offload_import_meta_url' },
  banner: { js: 'var __offload_import_meta_url = require("node:url").pathToFileURL(__filename).href;' },
};

// CommonJS dependencies bundled into an ES module still call require() (for built-ins) and use __dirname.
const ESM_CJS_SHIMS = {
  banner: {
    js: [
      'import { createRequire as __offload_createRequire } from "node:module";',
      'import { fileURLToPath as __offload_fileURLToPath } from "node:url";',
      'import { dirname as __offload_dirname } from "node:path";',
      'const require = __offload_createRequire(import.meta.url);',
      'const __filename = __offload_fileURLToPath(import.meta.url);',
      'const __dirname = __offload_dirname(__filename);',
    ].join('\n'),
  },
};

/** Writes dist/sea/main.cjs and, in dist/sea/assets/, Piscina's worker and `workers` (from listWorkerBundles()). */
export async function bundle(workers) {
  rmSync(STAGE, { recursive: true, force: true });
  mkdirSync(ASSETS, { recursive: true });
  const common = { bundle: true, platform: 'node', target: `node${NODE_VERSION.split('.')[0]}`, logLevel: 'silent', legalComments: 'eof', metafile: true, absWorkingDir: ROOT };
  const piscinaRewrite = { count: 0 };
  const addonAlias = { count: 0 };
  const builds = [
    {
      name: 'main.cjs',
      options: { ...common, ...CJS_IMPORT_META, entryPoints: ['src/main.ts'], format: 'cjs', outfile: join(STAGE, 'main.cjs'), plugins: [piscinaWorkerPathPlugin(piscinaRewrite), embeddedAddonPlugin(addonAlias)] },
    },
    {
      name: 'piscina-worker.cjs',
      options: { ...common, entryPoints: [piscinaWorkerSource()], format: 'cjs', outfile: join(ASSETS, 'piscina-worker.cjs'), external: ALLOWED_EXTERNAL_REQUIRES['piscina-worker.cjs'] },
    },
    ...workers.map(({ entry, out, format }) => ({
      name: out,
      options: {
        ...common,
        ...(format === 'cjs' ? CJS_IMPORT_META : ESM_CJS_SHIMS),
        entryPoints: [entry],
        format,
        outfile: join(ASSETS, out),
        plugins: [embeddedAddonPlugin(addonAlias)],
      },
    })),
  ];
  for (const { name, options } of builds) {
    let result;
    try {
      result = await esbuild.build(options);
    } catch (err) {
      if (!Array.isArray(err.errors)) throw err;
      throw new BuildError(`esbuild failed on ${name}:\n${(await esbuild.formatMessages(err.errors, { kind: 'error' })).join('\n')}`);
    }
    // Warnings are errors here: each one seen so far meant code that would break inside the executable.
    if (result.warnings.length > 0) {
      const text = await esbuild.formatMessages(result.warnings, { kind: 'warning' });
      throw new BuildError(`esbuild warnings in ${name}:\n${text.join('\n')}`);
    }
    checkExternalImports(name, result.metafile, readFileSync(options.outfile, 'utf8'));
  }
  if (piscinaRewrite.count !== 1) throw new BuildError(`Piscina's worker path was rewritten ${piscinaRewrite.count} times, expected once`);
  // The server opens jobs.db; export and import open datasets.
  if (addonAlias.count < 3) throw new BuildError(`better-sqlite3's require('bindings') was redirected ${addonAlias.count} times, expected 3 (main, export, import)`);
  const main = readFileSync(join(STAGE, 'main.cjs'), 'utf8');
  if (/resolve\)\(__dirname,\s*["']worker\.js["']\)/.test(main)) throw new BuildError("main.cjs still resolves Piscina's worker.js from __dirname");
}

/** Piscina's internal worker script, beside its main module (the package does not export it). */
function piscinaWorkerSource() {
  const file = join(dirname(require.resolve('piscina')), 'worker.js');
  if (!existsSync(file)) throw new BuildError(`Piscina's worker script is not at ${file}: has the package layout changed?`);
  return file;
}

/**
 * Fails on any import of something that is neither built in nor bundled: inside the executable nothing else can
 * be loaded. Two checks: what esbuild itself left external (its metafile), and a grep of the bundle for the
 * `require("…")`, `import("…")` and `from "…"` it emits (always in double quotes; quotes in comments and messages,
 * such as koa's `require('koa')` examples, are single).
 */
function checkExternalImports(name, metafile, text) {
  const allowed = new Set(ALLOWED_EXTERNAL_REQUIRES[name] ?? []);
  const bad = new Set();
  for (const output of Object.values(metafile.outputs)) {
    for (const { path, external } of output.imports) if (external && !isBuiltin(path) && !allowed.has(path)) bad.add(path);
  }
  for (const pattern of [/\b(?:__)?require\("([^"]+)"\)/g, /\bimport\("([^"]+)"\)/g, /^\s*import\s[^;]*?\bfrom\s*"([^"]+)"/gm]) {
    for (const [, specifier] of text.matchAll(pattern)) if (!isBuiltin(specifier) && !allowed.has(specifier)) bad.add(specifier);
  }
  if (bad.size > 0) throw new BuildError(`${name} loads modules that are neither built in nor bundled: ${[...bad].join(', ')}`);
}
