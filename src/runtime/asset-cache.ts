// Writes the single executable's embedded files (worker bundles, the SQLite addon, migrations) to a cache
// directory, because worker threads and dlopen() need real files. Nothing here depends on being inside one, so
// it is tested with the machine's Node like any module.
import { createHash, randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';

export interface EmbeddedFile {
  /** Relative path inside the cache directory, `/`-separated (e.g. `migrations/0001-jobs.sql`). */
  name: string;
  /** Hex SHA-256 of the content, computed at build time. */
  sha256: string;
  /** The content (inside the executable, a view of it without a copy). */
  read(): Uint8Array;
  /** Unix permissions of the written file. Default 0o600. */
  mode?: number;
}

export class AssetCacheError extends Error {
  override name = 'AssetCacheError';
}

export interface CacheRoot {
  path: string;
  /** Given by the user (OFFLOAD_CACHE_DIR): no fallback if it cannot be used. */
  explicit: boolean;
  /** Must be a directory of ours that no one else can even read (mode 0700): used for shared places like /tmp. */
  privateDir: boolean;
}

/**
 * Where to extract, best first: OFFLOAD_CACHE_DIR alone when set; otherwise the XDG cache directory
 * (`$XDG_CACHE_HOME/offload`, else `~/.cache/offload`), then the per-user runtime directory, then a per-user
 * directory under the temporary directory whose owner and mode are checked (never a path shared between users).
 */
export function cacheRootCandidates(env: Record<string, string | undefined>): CacheRoot[] {
  if (env.OFFLOAD_CACHE_DIR) return [{ path: resolve(env.OFFLOAD_CACHE_DIR), explicit: true, privateDir: false }];
  const roots: CacheRoot[] = [];
  // The XDG spec says relative values are invalid and must be ignored.
  if (env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME)) {
    roots.push({ path: join(env.XDG_CACHE_HOME, 'offload'), explicit: false, privateDir: false });
  } else {
    const home = env.HOME || safeHomedir();
    if (home && home !== '/') roots.push({ path: join(home, '.cache', 'offload'), explicit: false, privateDir: false });
  }
  if (env.XDG_RUNTIME_DIR && isAbsolute(env.XDG_RUNTIME_DIR)) {
    roots.push({ path: join(env.XDG_RUNTIME_DIR, 'offload'), explicit: false, privateDir: true });
  }
  roots.push({ path: join(tmpdir(), `offload-${process.getuid?.() ?? 'user'}`), explicit: false, privateDir: true });
  return roots;
}

/**
 * Makes `<root>/<key>/` hold exactly `files`, for the first usable root, and returns that directory.
 *
 * Safe with several processes starting at once: a file is only ever created under a unique temporary name and
 * renamed into place, so a reader sees a whole old file or a whole new one. A file already there is reused only
 * if it is byte for byte the embedded content, whose SHA-256 is checked against the manifest before it is
 * written: stricter than comparing hashes, and cheaper at every start. The key directory must be ours and closed
 * to others, so no one can swap a file between our check and its use by a worker thread or dlopen().
 */
export function extractFiles(roots: CacheRoot[], key: string, files: EmbeddedFile[]): string {
  if (!/^[0-9a-f]{16,64}$/.test(key)) throw new Error(`invalid asset cache key "${key}"`);
  const failures: string[] = [];
  for (const root of roots) {
    try {
      const dir = openKeyDirectory(root, key);
      for (const file of files) ensureFile(dir, file);
      return dir;
    } catch (err) {
      const reason = err instanceof AssetCacheError ? err.message : describeFsError(err);
      if (root.explicit) {
        throw new AssetCacheError(`cannot use the cache directory ${root.path} (OFFLOAD_CACHE_DIR): ${reason}`, { cause: err });
      }
      failures.push(`${root.path}: ${reason}`);
    }
  }
  throw new AssetCacheError(
    `no usable cache directory to extract the embedded files to (${failures.join('; ')}). ` +
      'Set OFFLOAD_CACHE_DIR to a directory this user can write.',
  );
}

function openKeyDirectory(root: CacheRoot, key: string): string {
  mkdirSync(root.path, { recursive: true, mode: 0o700 });
  const rootStat = lstatSync(root.path);
  if (root.privateDir) {
    checkOwnPrivateDirectory(root.path);
  } else if (rootStat.isDirectory() && (rootStat.mode & 0o002) !== 0 && (rootStat.mode & 0o1000) === 0) {
    // Anyone could rename our key directory away and put theirs in its place.
    throw new AssetCacheError('it is writable by every user and not sticky');
  }
  const dir = join(root.path, key);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  checkOwnPrivateDirectory(dir);
  return dir;
}

function checkOwnPrivateDirectory(path: string): void {
  const stat = lstatSync(path);
  if (!stat.isDirectory()) throw new AssetCacheError(`${path} is not a directory (or is a symbolic link)`);
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) throw new AssetCacheError(`${path} belongs to another user (uid ${stat.uid})`);
  if ((stat.mode & 0o077) !== 0) {
    throw new AssetCacheError(`${path} is open to other users (mode ${(stat.mode & 0o777).toString(8)}, expected 700)`);
  }
}

function ensureFile(dir: string, file: EmbeddedFile): void {
  if (file.name.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    throw new Error(`invalid embedded file name "${file.name}"`);
  }
  const target = join(dir, ...file.name.split('/'));
  const data = file.read();
  if (hasContent(target, data)) return;

  const actual = sha256(data);
  if (actual !== file.sha256) {
    throw new Error(`embedded file ${file.name} is corrupt: sha256 ${actual}, expected ${file.sha256}`);
  }
  mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
  const temp = join(dirname(target), `.${file.name.split('/').pop()}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    writeFileSync(temp, data, { flag: 'wx', mode: file.mode ?? 0o600 });
    renameSync(temp, target);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}

function hasContent(path: string, expected: Uint8Array): boolean {
  try {
    // A symbolic link or anything but a regular file is replaced, never followed.
    const stat = lstatSync(path);
    if (!stat.isFile() || stat.size !== expected.byteLength) return false;
    return Buffer.compare(readFileSync(path), expected) === 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function safeHomedir(): string | undefined {
  try {
    return homedir();
  } catch {
    return undefined;
  }
}

function describeFsError(err: unknown): string {
  const { code, message } = err as NodeJS.ErrnoException;
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'read-only file system';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'ENOTDIR':
    case 'EEXIST':
      return 'a path component is not a directory';
    default:
      return message ?? String(err);
  }
}
