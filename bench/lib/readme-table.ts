// The README's benchmark table, written from a results.json by `npm run bench` (or `--readme FILE --from
// RESULTS` to write it again from an earlier run), so that the figures shown are those of a run, never typed in.
import { readFileSync, writeFileSync } from 'node:fs';
import { fmt } from './figures.js';

export const TABLE_START = '<!-- bench-table:start (written by `npm run bench`; edits here are overwritten) -->';
export const TABLE_END = '<!-- bench-table:end -->';

interface StoredFigure {
  value: number | null;
  unit: string;
  what: string;
  reference: { what: string; value: number | null; unit: string } | null;
  target: string | null;
  met: boolean | null;
  reason?: string;
}

export interface StoredResults {
  generated_at: string;
  command: string;
  quick: boolean;
  duration_s: number;
  machine: { node: string; cores: number; cpu: string | null; load_before: number[]; load_after: number[] };
  figures: Record<string, StoredFigure>;
}

const shown = (value: number | null, unit: string): string => {
  if (value === null) return 'n/a';
  if (unit.endsWith('/s')) return `${fmt.rate(value)} ${unit}`;
  return unit === 'ratio' ? `${value}` : `${value} ${unit}`;
};

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

const targetText = (target: string | null): string => (target === null ? 'reported' : target.replace('>=', '≥').replace('<=', '≤'));

/** The table and the line saying which run it is, as Markdown. */
export function renderBenchTable(results: StoredResults): string {
  const { machine } = results;
  const lines = [
    `Written by \`${results.command}\` on ${results.generated_at.slice(0, 16).replace('T', ' ')} UTC in ${Math.round(results.duration_s / 60)} min: ` +
      `Node ${machine.node}, ${machine.cores} cores${machine.cpu ? ` (${machine.cpu})` : ''}, load average ${machine.load_before[0]} before, ` +
      `${machine.load_after[0]} after${results.quick ? ' — a --quick smoke run, its figures mean nothing' : ''}. Every round is in bench/results.json.`,
    '',
    '| figure | what | value | reference, same run | target | met |',
    '|---|---|---|---|---|---|',
  ];
  for (const [name, figure] of Object.entries(results.figures)) {
    const value = figure.value === null ? `n/a — ${figure.reason ?? 'not measured'}` : shown(figure.value, figure.unit);
    const reference = figure.reference ? `${figure.reference.what}: ${shown(figure.reference.value, figure.reference.unit)}` : '—';
    const met = figure.met === null ? '—' : figure.met ? 'yes' : 'no';
    lines.push(`| \`${name}\` | ${cell(figure.what)} | ${cell(value)} | ${cell(reference)} | ${targetText(figure.target)} | ${met} |`);
  }
  return lines.join('\n');
}

/** Replaces what is between the markers of `readmeFile` with the table of `results`; throws if a marker is missing. */
export function writeBenchTable(readmeFile: string, results: StoredResults): void {
  const readme = readFileSync(readmeFile, 'utf8');
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start === -1 || end < start) throw new Error(`${readmeFile} has no benchmark table markers (${TABLE_START} … ${TABLE_END})`);
  writeFileSync(readmeFile, `${readme.slice(0, start + TABLE_START.length)}\n${renderBenchTable(results)}\n${readme.slice(end)}`);
}
