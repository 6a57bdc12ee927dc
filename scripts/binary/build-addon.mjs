// Step 2: better-sqlite3's native addon, compiled against the embedded Node's headers (its ABI must match exactly).
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { BuildError, CACHE, NODE_VERSION, require, run, toolEnv, withScratchDir } from './util.mjs';

/** The cached addon, compiled first if need be, once loaded in `node` the way the executable loads it. */
export function buildSqliteAddon(nodeDir, node) {
  const source = dirname(require.resolve('better-sqlite3/package.json'));
  const { version } = JSON.parse(readFileSync(join(source, 'package.json'), 'utf8'));
  const dir = join(CACHE, `better-sqlite3-${version}-node-v${NODE_VERSION}`);
  const addon = join(dir, 'better_sqlite3.node');
  if (!existsSync(addon)) {
    // A copy of the sources: node_modules/better-sqlite3/build is the machine's Node build, which `npm test` uses.
    withScratchDir('better-sqlite3', (work) => {
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
    });
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
