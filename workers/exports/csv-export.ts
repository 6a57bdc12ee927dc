// A CSV export: the header, then the rows as SQLite builds them (formats/csv-sql.ts), over up to `threads` threads.
//
// Rows are cut into consecutive rowid ranges. Range k is rendered by thread k mod T — this one (0) or a helper
// (csv-threads.ts) — and written in order, so the file is the same bytes whatever T is. Helpers run at most
// WINDOW_PER_THREAD ranges ahead of the range being written: memory stays a few ranges per thread, whatever the
// dataset's size.
import type { Writable } from 'node:stream';
import type { ExportTuning } from '../../src/contracts/export-contract.js';
import type { JobContext } from '../../src/contracts/task-context.js';
import { createAbortError } from '../../src/contracts/task-errors.js';
import type { DatasetReader } from '../datasets/dataset-file.js';
import { createCsvRenderer, csvHeader, rowidBounds, type CsvPage } from '../formats/csv-sql.js';
import { waitForDrain } from '../formats/output-buffer.js';
import { acquireHelpers, releaseHelpers, type CsvHelper, type RangeResult } from './csv-threads.js';

/** Rowids per range: ~6 MB of CSV at 100 bytes a row. */
const RANGE_ROWS = 65_536;
/** A helper is worth starting only for this many rows or more: starting one costs tens of ms. */
const MIN_ROWS_PER_THREAD = 200_000;
const WINDOW_PER_THREAD = 2;

export interface CsvExportRequest {
  reader: DatasetReader;
  dataDir: string;
  datasetId: string;
  columnIndexes: number[];
  out: Writable;
  ctx: JobContext;
  /** How many threads the engine lent this job, its own included. */
  threads: number;
  /** The module helpers run (workers/export.ts, which hands them to runCsvHelper). */
  helperModuleUrl: URL;
  tuning?: ExportTuning;
}

/** Writes the whole CSV to `out` (ending it) and resolves with the number of rows written. */
export async function writeCsvExport(request: CsvExportRequest): Promise<number> {
  const { reader, columnIndexes, out, ctx } = request;
  const total = reader.rowCount;
  const write = async (bytes: Buffer): Promise<void> => {
    if (!out.write(bytes)) await waitForDrain(out);
  };
  await write(csvHeader(columnIndexes.map((index) => reader.columns[index]!.name)));
  const bounds = rowidBounds(reader);
  let rows = 0;
  const written = async (page: CsvPage | RangeResult): Promise<void> => {
    await write(page.bytes);
    rows += page.rows;
    ctx.progress(rows, total);
    if (ctx.signal.aborted) throw createAbortError(ctx.signal);
  };
  if (!bounds) ctx.keepThreads?.(1);
  if (bounds) {
    const renderer = createCsvRenderer(reader, columnIndexes);
    const rangeRows = request.tuning?.range_rows ?? RANGE_ROWS;
    const threads = Math.max(1, Math.min(request.threads, Math.floor(total / (request.tuning?.min_rows_per_thread ?? MIN_ROWS_PER_THREAD))));
    // Lent threads this export will not use go back to the engine at once, for other jobs.
    ctx.keepThreads?.(threads);
    if (threads === 1) {
      await renderer.render(bounds.first - 1, bounds.last, written);
    } else {
      const ranges: [after: number, last: number][] = [];
      for (let after = bounds.first - 1; after < bounds.last; after += rangeRows) ranges.push([after, Math.min(after + rangeRows, bounds.last)]);
      const helpers = acquireHelpers(threads - 1, request.helperModuleUrl);
      let finished = false;
      try {
        for (const helper of helpers) helper.open({ dataDir: request.dataDir, datasetId: request.datasetId, columnIndexes });
        await writeRanges(ranges, helpers, written, (after, last) => renderer.render(after, last, written), ctx.signal);
        finished = true;
      } finally {
        await releaseHelpers(helpers, finished);
      }
    }
  }
  out.end();
  return rows;
}

async function writeRanges(
  ranges: readonly [number, number][],
  helpers: readonly CsvHelper[],
  write: (result: RangeResult) => Promise<void>,
  renderHere: (after: number, last: number) => Promise<number>,
  signal: AbortSignal,
): Promise<void> {
  const threads = helpers.length + 1;
  const pending = new Map<number, Promise<RangeResult>>();
  let requested = 0;
  const aborted = new Promise<never>((_resolve, reject) => {
    const onAbort = (): void => reject(createAbortError(signal));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => {});
  for (let k = 0; k < ranges.length; k++) {
    // Hand helpers their ranges up to the window ahead of the one written now.
    for (; requested < Math.min(ranges.length, k + WINDOW_PER_THREAD * threads); requested++) {
      const owner = requested % threads;
      if (owner === 0) continue;
      const [after, last] = ranges[requested]!;
      const result = helpers[owner - 1]!.render(requested, after, last);
      result.catch(() => {});
      pending.set(requested, result);
    }
    if (k % threads === 0) {
      await renderHere(...ranges[k]!);
    } else {
      const result = await Promise.race([pending.get(k)!, aborted]);
      pending.delete(k);
      await write(result);
    }
  }
}
