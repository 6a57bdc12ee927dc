// Progress of an import in bytes of the upload (its total is the file's size), over however many reads of the
// file the import turns out to need: usually one, two when the first rows misled the column types (csv-import.ts),
// and once more when the reference CSV reader has to start over. Each time the plan grows, what is left of the way
// to the total is spread over the reads still to come, so the figure never goes back and ends at the size.
import type { UploadReadOptions } from '../uploads/upload-pipeline.js';

export interface ImportProgress {
  /** A read of the file starts now; `reads` of them (this one included) are expected from here on. */
  startRead(reads: number): Pick<UploadReadOptions, 'onBytesRead'>;
  /** The current read goes on to the end, then `more` further reads follow. */
  expectMoreReads(more: number): void;
  /** The import is done. */
  finish(): void;
}

export function createImportProgress(size: number, report: (done: number, total: number) => void): ImportProgress {
  let reported = 0;
  let work = 0; // bytes read over all reads so far
  let readStart = 0; // `work` when the current read started
  let fromWork = 0; // `work` and `reported` when the plan last changed
  let fromReported = 0;
  let plannedWork = size;
  const replan = (plan: number): void => {
    fromWork = work;
    fromReported = reported;
    plannedWork = plan;
  };
  return {
    startRead(reads) {
      readStart = work;
      replan(work + reads * size);
      return {
        onBytesRead: (bytes) => {
          work = readStart + bytes;
          const share = plannedWork > fromWork ? Math.min(1, (work - fromWork) / (plannedWork - fromWork)) : 1;
          reported = Math.max(reported, Math.floor(fromReported + (size - fromReported) * share));
          report(reported, size);
        },
      };
    },
    expectMoreReads(more) {
      replan(readStart + size + more * size);
    },
    finish() {
      report(size, size);
    },
  };
}
