#!/usr/bin/env node
// Time from start to the first successful request, for dist/offload and for `node dist/src/main.js`.
// Usage: node scripts/sea/measure-startup.mjs [runs=5]
// Each run: a fresh data directory; the clock starts just before spawn() and stops when GET /readyz answers 200,
// sent as soon as the server logs its `listening` line. The executable is measured with its extraction cache
// cold (a new OFFLOAD_CACHE_DIR: first start after install) and warm (every later start). The CPU time the server
// used until then (user + system, from /proc) is printed too: on a busy machine it varies less than the wall time.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RUNS = Number(process.argv[2] ?? 5);
const work = mkdtempSync(join(tmpdir(), 'offload-startup-'));
copyFileSync(join(ROOT, 'dist', 'offload'), join(work, 'offload'));

async function once(command, args, env) {
  const dataDir = mkdtempSync(join(work, 'data-'));
  const t0 = performance.now();
  const child = spawn(command, [...args, 'serve', '--port', '0', '--threads', '2', '--data-dir', dataDir], { cwd: work, env, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const url = await new Promise((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk) => {
        out += chunk;
        const line = out.split('\n').find((l) => l.includes('"msg":"listening"'));
        if (line) resolve(JSON.parse(line).url);
      });
      child.once('exit', (code) => reject(new Error(`exited with ${code}:\n${out}`)));
    });
    const res = await fetch(`${url}/readyz`);
    if (res.status !== 200) throw new Error(`/readyz answered ${res.status}`);
    const wall = performance.now() - t0;
    // utime and stime, fields 14 and 15 of /proc/<pid>/stat, in clock ticks (100 per second on Linux).
    const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return { wall, cpu: (Number(fields[11]) + Number(fields[12])) * 10 };
  } finally {
    child.kill('SIGKILL');
    await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', resolve)));
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function measure(name, makeRun) {
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await makeRun(i));
  const wall = runs.map((r) => r.wall);
  process.stdout.write(
    `${name.padEnd(40)} median ${median(wall).toFixed(0)} ms, min ${Math.min(...wall).toFixed(0)} ms, ` +
      `CPU median ${median(runs.map((r) => r.cpu)).toFixed(0)} ms  (runs: ${wall.map((t) => t.toFixed(0)).join(', ')})\n`,
  );
}

const env = { PATH: '/usr/bin:/bin' };
try {
  await measure('dist/offload, cache cold (first start)', (i) => once(join(work, 'offload'), [], { ...env, OFFLOAD_CACHE_DIR: join(work, `cold-${i}`) }));
  await once(join(work, 'offload'), [], { ...env, OFFLOAD_CACHE_DIR: join(work, 'warm') });
  await measure('dist/offload, cache warm', () => once(join(work, 'offload'), [], { ...env, OFFLOAD_CACHE_DIR: join(work, 'warm') }));
  await measure(`node ${process.version} dist/src/main.js`, () => once(process.execPath, [join(ROOT, 'dist', 'src', 'main.js')], env));
} finally {
  rmSync(work, { recursive: true, force: true });
}
