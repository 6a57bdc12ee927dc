// Summarises V8 CPU profiles (`node --cpu-prof`): the functions with the most self time, per profile file.
//   node dist/bench/profile-summary.js DIR_OR_FILE… [--top 15]
// Profile a scenario with `node --cpu-prof --cpu-prof-dir P dist/bench/run.js --only export-csv` (this process
// and its worker threads, one file each) and `--child-cpu-prof P` for the child processes (servers, xlsx).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function summarise(file: string, top: number): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, ProfileNode>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node);
  const describe = (node: ProfileNode): string => {
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url ? `${url.replace(/^file:\/\/.*?\/(node_modules|dist)\//, '$1/')}:${lineNumber + 1}` : '';
    return `${functionName || '(anonymous)'} ${where}`.trim();
  };
  const selfUs = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const node = byId.get(id)!;
    let key = describe(node);
    // Native code (no script) is named by the JavaScript function that called it.
    const parent = parentOf.get(node.id);
    if (!node.callFrame.url && !key.startsWith('(') && parent) key = `${key} ← ${describe(parent)}`;
    if (key === '(anonymous)' && parent) key = `(native) ← ${describe(parent)}`;
    selfUs.set(key, (selfUs.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const totalUs = profile.endTime - profile.startTime;
  const busyUs = [...selfUs.entries()].filter(([key]) => !key.startsWith('(idle)')).reduce((sum, [, us]) => sum + us, 0);
  const rows = [...selfUs.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  return [
    `${path.basename(file)}: ${(totalUs / 1e6).toFixed(1)} s profiled, ${(busyUs / 1e6).toFixed(1)} s not idle`,
    ...rows.map(([key, us]) => `  ${(us / 1e3).toFixed(0).padStart(7)} ms ${((100 * us) / totalUs).toFixed(1).padStart(5)}%  ${key}`),
  ].join('\n');
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '15' } } });
const files = positionals.flatMap((target) =>
  statSync(target).isDirectory()
    ? readdirSync(target).filter((name) => name.endsWith('.cpuprofile')).map((name) => path.join(target, name))
    : [target],
);
for (const file of files) console.log(`${summarise(file, Number(values.top))}\n`);
