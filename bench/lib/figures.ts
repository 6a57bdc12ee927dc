// What a scenario reports: one Figure per name of the table (and a few extra ones), with its reference
// and target, so that run.ts can print the table and write results.json without knowing any scenario.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { BenchDataset } from './dataset.js';

export interface Target {
  op: '>=' | '<=';
  value: number;
}

export interface Figure {
  /** The name in results.json; `a.b` is stored as results.a.b. */
  name: string;
  /** The median over rounds (a ratio: the median of per-round ratios); null when it could not be measured. */
  value: number | null;
  unit: string;
  what: string;
  /** What it was measured against in the same run, with that side's median; null when there is none. */
  reference: { what: string; value: number | null; unit: string } | null;
  target: Target | null;
  /** Why value is null (e.g. a reference tool that is not installed). */
  reason?: string;
  /** Rounds and anything else worth keeping. */
  detail: Record<string, unknown>;
}

export function isMet(figure: Figure): boolean | null {
  if (!figure.target || figure.value === null) return null;
  return figure.target.op === '>=' ? figure.value >= figure.target.value : figure.value <= figure.target.value;
}

export interface Sizes {
  /** Rows of "the 1M-row dataset": CSV export, parallel exports, status latency, RSS (small side). */
  exportRows: number;
  /** Rows of "the 4M-row dataset" (RSS, large side). */
  bigRows: number;
  /** Rows exported for the other formats and XLSX vs exceljs. */
  formatRows: number;
  /** Rows of the CSV and NDJSON files uploaded by the import scenario. */
  importRows: number;
  dispatchJobs: number;
  httpSeconds: number;
  idleSamples: number;
  recoveryJobs: number;
  /** Rounds of each alternation (RSS has its own: a 4M-row export is long). */
  rounds: number;
  rssRounds: number;
}

export interface BenchContext {
  quick: boolean;
  sizes: Sizes;
  datasets: { warmup: BenchDataset; export: BenchDataset; big: BenchDataset; formats: BenchDataset };
  /** Extra node flags for child processes and a note of it (e.g. --cpu-prof when profiling). */
  childNodeArgs: string[];
  log(message: string): void;
  /** A fresh, empty directory for one data directory or server. */
  newDir(name: string): string;
}

export function createDirFactory(root: string): (name: string) => string {
  let counter = 0;
  return (name) => {
    const dir = path.join(root, `${String(++counter).padStart(3, '0')}-${name}`);
    mkdirSync(dir, { recursive: true });
    return dir;
  };
}

export const fmt = {
  rate(value: number | null): string {
    if (value === null || !Number.isFinite(value)) return 'n/a';
    return value >= 1e6 ? `${(value / 1e6).toFixed(3)} M` : value >= 1e3 ? `${(value / 1e3).toFixed(1)} k` : value.toFixed(1);
  },
};
