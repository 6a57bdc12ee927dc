// Step 6: does dist/offload run, from an empty directory and environment? And what does it need from the machine?
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BuildError, NODE_VERSION, OUTPUT, ROOT, run } from './util.mjs';

export function smokeTest() {
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
export function libraryRequirements(files) {
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
