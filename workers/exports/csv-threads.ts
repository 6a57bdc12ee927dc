// Helper threads for a parallel CSV export. The export's own (pool) thread renders some rowid ranges itself and
// writes every range in order; helpers render the others and hand back each as one transferred Buffer.
//
// Helpers are nested worker threads of the pool thread, started on first use and kept (unref'd) for its next
// exports: starting one costs a fresh isolate and better-sqlite3. They use only threads the engine lent to this
// job (ctx.threads), so the engine's count of busy threads stays true. When the pool thread is terminated (abort
// after the grace period, shutdown) its helpers end with it; a helper that failed, or that an aborted export left
// mid-range, is terminated and never reused.
import { parentPort, Worker, type MessagePort } from 'node:worker_threads';
import { openDatasetForReading, type DatasetReader } from '../datasets/dataset-file.js';
import { createCsvRenderer, type CsvPage, type CsvRangeRenderer } from '../formats/csv-sql.js';

/** Set in a helper's workerData: the module that starts helpers (workers/export.ts) runs runCsvHelper instead. */
export const CSV_HELPER_MARK = 'offloadCsvHelper';

export interface HelperOpen {
  dataDir: string;
  datasetId: string;
  columnIndexes: number[];
}
type ToHelper = ({ type: 'open' } & HelperOpen) | { type: 'range'; id: number; after: number; last: number } | { type: 'close' };
type FromHelper = { type: 'range'; id: number; bytes: Buffer; rows: number } | { type: 'failed'; message: string; code: string | null };

export interface RangeResult {
  bytes: Buffer;
  rows: number;
}

/** The helper side: renders each range it is sent, in the order sent. */
export function runCsvHelper(port: MessagePort = parentPort!): void {
  let reader: DatasetReader | undefined;
  let renderer: CsvRangeRenderer | undefined;
  port.on('message', (message: ToHelper) => {
    void (async () => {
      try {
        if (message.type === 'open') {
          reader?.close();
          reader = openDatasetForReading(message.dataDir, message.datasetId);
          renderer = createCsvRenderer(reader, message.columnIndexes);
        } else if (message.type === 'close') {
          reader?.close();
          reader = renderer = undefined;
        } else {
          const pages: CsvPage[] = [];
          const rows = await renderer!.render(message.after, message.last, (page) => void pages.push(page));
          // One fresh ArrayBuffer of its own (never a slice of Node's shared pool), so it can be transferred.
          const bytes = Buffer.allocUnsafeSlow(pages.reduce((sum, page) => sum + page.bytes.length, 0));
          let offset = 0;
          for (const page of pages) offset += page.bytes.copy(bytes, offset);
          port.postMessage({ type: 'range', id: message.id, bytes, rows } satisfies FromHelper, [bytes.buffer]);
        }
      } catch (err) {
        const { message: text, code } = err as { message?: unknown; code?: unknown };
        port.postMessage({ type: 'failed', message: String(text ?? err), code: typeof code === 'string' ? code : null } satisfies FromHelper);
      }
    })();
  });
}

/** One helper as the exporting thread sees it. */
export class CsvHelper {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, { resolve(result: RangeResult): void; reject(err: Error): void }>();
  #failure: Error | undefined;

  constructor(moduleUrl: URL) {
    this.#worker = new Worker(moduleUrl, {
      workerData: { [CSV_HELPER_MARK]: true },
      // Its memory is a few ranges of output, outside the V8 heap; a small young generation keeps it so.
      resourceLimits: { maxYoungGenerationSizeMb: 16 },
    });
    this.#worker.on('message', (message: FromHelper) => {
      if (message.type === 'range') {
        const waiter = this.#waiting.get(message.id);
        this.#waiting.delete(message.id);
        waiter?.resolve({ bytes: message.bytes, rows: message.rows });
      } else {
        this.#fail(Object.assign(new Error(`a CSV helper thread failed: ${message.message}`), message.code ? { code: message.code } : {}));
      }
    });
    this.#worker.on('error', (err) => this.#fail(new Error(`a CSV helper thread failed: ${err.message}`, { cause: err })));
    this.#worker.on('exit', (code) => this.#fail(Object.assign(new Error(`a CSV helper thread exited with code ${code}`), { retryable: true })));
    // After the listeners: adding a 'message' listener refs the worker again.
    this.#worker.unref();
  }

  get failed(): boolean {
    return this.#failure !== undefined;
  }

  /** Starts an export's work: the helper keeps this thread alive until close(). */
  open(request: HelperOpen): void {
    this.#worker.ref();
    this.#send({ type: 'open', ...request });
  }

  render(id: number, after: number, last: number): Promise<RangeResult> {
    if (this.#failure) return Promise.reject(this.#failure);
    const result = new Promise<RangeResult>((resolve, reject) => this.#waiting.set(id, { resolve, reject }));
    this.#send({ type: 'range', id, after, last });
    return result;
  }

  close(): void {
    this.#send({ type: 'close' });
    this.#worker.unref();
  }

  terminate(): Promise<number> {
    this.#fail(new Error('the CSV helper thread was stopped'));
    return this.#worker.terminate();
  }

  #send(message: ToHelper): void {
    if (!this.#failure) this.#worker.postMessage(message);
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    for (const waiter of this.#waiting.values()) waiter.reject(this.#failure);
    this.#waiting.clear();
  }
}

const idle: CsvHelper[] = [];

/** Helpers for one export: idle ones of this thread first, new ones for the rest. */
export function acquireHelpers(count: number, moduleUrl: URL): CsvHelper[] {
  const helpers: CsvHelper[] = [];
  while (helpers.length < count) helpers.push(idle.pop() ?? new CsvHelper(moduleUrl));
  return helpers;
}

/** After an export that ended normally its helpers wait for the next one; after any other end they are stopped. */
export async function releaseHelpers(helpers: readonly CsvHelper[], reusable: boolean): Promise<void> {
  for (const helper of helpers) {
    if (reusable && !helper.failed) {
      helper.close();
      idle.push(helper);
    }
  }
  await Promise.all(helpers.filter((helper) => !idle.includes(helper)).map((helper) => helper.terminate()));
}
