// The two rewrites that let bundled code find, inside the executable, what it finds beside itself in node_modules.
// Each counts in `applied` how often it acted, so that bundle.mjs can fail the build when one no longer does.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BuildError, ROOT } from './util.mjs';

const RUNTIME_MODULE = join(ROOT, 'src', 'runtime', 'single-executable.ts');

/** better-sqlite3 loads its addon with `require('bindings')(name)`: point that at src/runtime's loader. */
export function embeddedAddonPlugin(applied) {
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
export function piscinaWorkerPathPlugin(applied) {
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
