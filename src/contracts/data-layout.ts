// The one description of the data directory. Every path offload reads, writes or deletes is built here from
// server-chosen ids (UUIDs, checked before they become part of a name); no client-supplied text is ever a path.
//
//   <dataDir>/jobs.db                          the jobs database (and its -wal, -shm)
//   <dataDir>/uploads/<datasetId>.upload       an upload until its import job ended
//   <dataDir>/datasets/<datasetId>.sqlite      a dataset, written once by its import
//   <dataDir>/exports/<jobId>.<ext>[.gz]       an export file until --result-ttl after it finished
//   <dataDir>/exports/<jobId>.deleted          an empty marker: that export's file was deleted (DELETE)
//
// Ids are lower-cased in names, so two spellings of one UUID name one file.
import { lstatSync, realpathSync } from 'node:fs';
import path from 'node:path';

export const DATA_DIRS = Object.freeze({ uploads: 'uploads', datasets: 'datasets', exports: 'exports' } as const);
export type DataDirName = (typeof DATA_DIRS)[keyof typeof DATA_DIRS];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EXTENSION = /^[a-z0-9]{1,16}(\.gz)?$/;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

export class UnsafePathError extends Error {
  override name = 'UnsafePathError';
}

function idName(id: string, what: string): string {
  if (!isUuid(id)) throw new UnsafePathError(`${what} must be a UUID to name a file, got ${JSON.stringify(String(id).slice(0, 64))}`);
  return id.toLowerCase();
}

export function jobsDatabasePath(dataDir: string): string {
  return path.join(dataDir, 'jobs.db');
}

export function dataSubdir(dataDir: string, name: DataDirName): string {
  return path.join(dataDir, name);
}

export function uploadPath(dataDir: string, datasetId: string): string {
  return path.join(dataDir, DATA_DIRS.uploads, `${idName(datasetId, 'a dataset id')}.upload`);
}

/**
 * The layouts of a dataset file (workers/datasets/dataset-file.ts writes the last one) that its readers understand:
 * the import worker and the export worker read it through dataset-file.ts, the console's preview through
 * src/datasets/dataset-preview.ts, so both take the versions from here.
 */
export const DATASET_FILE_VERSIONS = Object.freeze(['1', '2'] as const);

export function datasetPath(dataDir: string, datasetId: string): string {
  return path.join(dataDir, DATA_DIRS.datasets, `${idName(datasetId, 'a dataset id')}.sqlite`);
}

/** `extension` is the export's, e.g. `csv` or `csv.gz`. */
export function exportPath(dataDir: string, jobId: string, extension: string): string {
  if (!EXTENSION.test(extension)) throw new UnsafePathError(`not an export file extension: ${JSON.stringify(extension.slice(0, 32))}`);
  return path.join(dataDir, DATA_DIRS.exports, `${idName(jobId, 'a job id')}.${extension}`);
}

/**
 * Written when a client deletes an export's file, so that a node which does not find the file can tell "deleted"
 * (410) from "not visible here" (its copy of the shared data directory is missing or behind). Swept with the exports.
 */
export function exportDeletedMarkerPath(dataDir: string, jobId: string): string {
  return path.join(dataDir, DATA_DIRS.exports, `${idName(jobId, 'a job id')}.deleted`);
}

/** The dataset id an upload's file name stands for, or undefined for any other name. */
export function datasetIdOfUpload(fileName: string): string | undefined {
  const id = fileName.endsWith('.upload') ? fileName.slice(0, -'.upload'.length) : '';
  return isUuid(id) ? id.toLowerCase() : undefined;
}

/**
 * Checks, on the resolved real paths, that `file` lies inside `dataDir` and is not itself a symbolic link, and
 * returns it. Paths built above cannot leave the directory by their text; this also refuses a link planted in
 * the data directory (or a link as one of its subdirectories) pointing elsewhere. A missing file is fine: its
 * directory is what is checked.
 */
export function containedPath(dataDir: string, file: string): string {
  const root = realRootOf(dataDir);
  const parent = realpathOfExisting(path.dirname(path.resolve(file)));
  const inside = parent === root || parent.startsWith(root + path.sep);
  if (!inside) throw new UnsafePathError('a path resolves outside the data directory');
  try {
    if (lstatSync(file).isSymbolicLink()) throw new UnsafePathError('a file in the data directory is a symbolic link');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return file;
}

/** The data directory's real path, resolved once it exists: every served or listed file checks against it. */
const realRoots = new Map<string, string>();
function realRootOf(dataDir: string): string {
  const known = realRoots.get(dataDir);
  if (known !== undefined) return known;
  try {
    const root = realpathSync(dataDir);
    realRoots.set(dataDir, root);
    return root;
  } catch {
    return realpathOfExisting(path.resolve(dataDir));
  }
}

/** realpath of the nearest existing ancestor, with the missing tail appended (directories not created yet). */
function realpathOfExisting(dir: string): string {
  const missing: string[] = [];
  for (let current = dir; ; current = path.dirname(current)) {
    try {
      return path.join(realpathSync(current), ...missing.reverse());
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || path.dirname(current) === current) throw err;
      missing.push(path.basename(current));
    }
  }
}
