// node-matrix step 2: the built tree copied for a line, with node_modules installed by that line's Node.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { DIST_SKIP, MatrixError, ROOT, TEST_DIR, TREE_FILES, cleanEnv, lock, readFileSafe, runAsync, runSync, say, sha256 } from './util.mjs';

// ── 2. The tree and its node_modules ────────────────────────────────────────────────────────────────────────────

export function lineEnv(runtime, extra = {}) {
  return cleanEnv({ PATH: `${runtime.bin}${process.platform === 'win32' ? ';' : ':'}${process.env.PATH ?? ''}`, ...extra });
}

/** Loads better-sqlite3 in the line's Node: the addon's ABI matches, or this throws. */
export function probeSqlite(runtime, app) {
  const probe = "const D = require('better-sqlite3'); process.stdout.write(new D(':memory:').prepare('select sqlite_version() as v').get().v)";
  return runSync(runtime.node, ['-e', probe], { cwd: app, env: lineEnv(runtime), timeout: 60_000 }).trim();
}

export async function installApp(runtime, app, { verbose }) {
  mkdirSync(app, { recursive: true });
  for (const name of ['package.json', 'package-lock.json']) {
    if (!existsSync(join(ROOT, name))) throw new MatrixError(`${join(ROOT, name)} is missing`);
  }
  const key = sha256(
    readFileSync(join(ROOT, 'package.json')),
    readFileSync(join(ROOT, 'package-lock.json')),
    `${runtime.version} ${runtime.node} ${runtime.nodeDir ?? ''}`,
  );
  const stampFile = join(app, '.node-matrix-install');
  if (readFileSafe(stampFile).trim() === key && existsSync(join(app, 'node_modules'))) {
    try {
      return { reused: true, sqlite: probeSqlite(runtime, app), ms: 0 };
    } catch (err) {
      say(`node ${runtime.line}: the cached install does not load (${err.message.split('\n')[0]}): installing again`);
    }
  }
  const started = performance.now();
  rmSync(stampFile, { force: true });
  rmSync(join(app, 'node_modules'), { recursive: true, force: true });
  for (const name of ['package.json', 'package-lock.json']) cpSync(join(ROOT, name), join(app, name));
  say(`node ${runtime.line}: npm ci in ${app} (better-sqlite3 from source for ${runtime.version}, about a minute)…`);
  const npmEnv = runtime.nodeDir
    ? lineEnv(runtime, { npm_config_nodedir: runtime.nodeDir, npm_config_build_from_source: 'true' })
    : lineEnv(runtime);
  try {
    // `npm` is the machine's npm; with the line's bin first on PATH it runs, and runs install scripts, in that Node.
    await runAsync('npm', ['ci', '--ignore-scripts=false', '--no-audit', '--no-fund', '--prefer-offline', ...(verbose ? ['--foreground-scripts'] : [])], { cwd: app, env: npmEnv }, { stream: verbose });
  } catch (err) {
    throw new MatrixError(`node ${runtime.line}: installing dependencies failed (no registry? a compiler missing for better-sqlite3?):\n${err.message}`);
  }
  let sqlite;
  try {
    sqlite = probeSqlite(runtime, app);
  } catch (err) {
    throw new MatrixError(`node ${runtime.line}: npm ci succeeded but better-sqlite3 does not load in ${runtime.version}:\n${err.message}`);
  }
  writeFileSync(stampFile, `${key}\n`);
  return { reused: false, sqlite, ms: performance.now() - started };
}

export function copyTree(app) {
  if (!existsSync(TEST_DIR)) throw new MatrixError(`${relative(process.cwd(), TEST_DIR) || TEST_DIR} is missing: run \`npm run build\` first`);
  removeTree(app);
  for (const name of TREE_FILES) if (existsSync(join(ROOT, name))) cpSync(join(ROOT, name), join(app, name));
  cpSync(join(ROOT, 'dist'), join(app, 'dist'), {
    recursive: true,
    filter: (source) => !DIST_SKIP.has(relative(join(ROOT, 'dist'), source)),
  });
}

export function removeTree(app) {
  rmSync(join(app, 'dist'), { recursive: true, force: true });
  rmSync(join(app, 'README.md'), { force: true });
}
