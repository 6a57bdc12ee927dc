// Extraction of the single executable's embedded files (src/runtime/asset-cache.ts), with the machine's Node:
// concurrent starts, damaged or planted files, unusable directories.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AssetCacheError, cacheRootCandidates, extractFiles, type CacheRoot, type EmbeddedFile } from '../src/runtime/asset-cache.js';
import { makeTempDir } from './helpers.js';

const KEY = '0123456789abcdef0123456789abcdef';
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

function file(name: string, content: Uint8Array | string, mode?: number): EmbeddedFile {
  const data = typeof content === 'string' ? Buffer.from(content) : content;
  return { name, sha256: sha256(data), read: () => data, ...(mode === undefined ? {} : { mode }) };
}

const root = (path: string, overrides: Partial<CacheRoot> = {}): CacheRoot => ({ path, explicit: false, privateDir: false, ...overrides });

describe('extractFiles', () => {
  it('writes the files into <root>/<key>, closed to other users, and reuses them when their hash matches', () => {
    const dir = makeTempDir();
    const files = [file('runner.cjs', 'module.exports = 1;\n'), file('migrations/0001-jobs.sql', 'SELECT 1;\n'), file('addon.node', 'x', 0o700)];
    const out = extractFiles([root(join(dir, 'cache'))], KEY, files);
    assert.equal(out, join(dir, 'cache', KEY));
    assert.equal(statSync(out).mode & 0o777, 0o700);
    assert.equal(readFileSync(join(out, 'migrations', '0001-jobs.sql'), 'utf8'), 'SELECT 1;\n');
    assert.equal(statSync(join(out, 'runner.cjs')).mode & 0o777, 0o600);
    assert.equal(statSync(join(out, 'addon.node')).mode & 0o777, 0o700);

    const inode = statSync(join(out, 'runner.cjs')).ino;
    extractFiles([root(join(dir, 'cache'))], KEY, files);
    assert.equal(statSync(join(out, 'runner.cjs')).ino, inode, 'a file with the right hash is not rewritten');
  });

  it('replaces a damaged file, and a planted symbolic link without following it', () => {
    const dir = makeTempDir();
    const files = [file('runner.cjs', 'good'), file('export.js', 'also good')];
    const out = extractFiles([root(dir)], KEY, files);
    writeFileSync(join(out, 'runner.cjs'), 'bad');
    const outside = join(dir, 'outside.txt');
    writeFileSync(outside, 'not ours');
    rmSync(join(out, 'export.js'));
    symlinkSync(outside, join(out, 'export.js'));

    extractFiles([root(dir)], KEY, files);
    assert.equal(readFileSync(join(out, 'runner.cjs'), 'utf8'), 'good');
    assert.ok(statSync(join(out, 'export.js')).isFile());
    assert.equal(readFileSync(join(out, 'export.js'), 'utf8'), 'also good');
    assert.equal(readFileSync(outside, 'utf8'), 'not ours');
  });

  it('refuses embedded content that does not match its hash', () => {
    const dir = makeTempDir();
    const bad: EmbeddedFile = { name: 'runner.cjs', sha256: sha256(Buffer.from('expected')), read: () => Buffer.from('other') };
    assert.throws(() => extractFiles([root(dir)], KEY, [bad]), /embedded file runner\.cjs is corrupt/);
  });

  it('is safe with several processes extracting into the same directory at once', async () => {
    const dir = makeTempDir();
    const big = randomBytes(8 * 1024 * 1024);
    const blob = join(dir, 'blob.bin');
    writeFileSync(blob, big);
    const moduleUrl = new URL('../src/runtime/asset-cache.js', import.meta.url).href;
    const script = `
      import { readFileSync } from 'node:fs';
      import { extractFiles } from ${JSON.stringify(moduleUrl)};
      const data = readFileSync(${JSON.stringify(blob)});
      const files = [{ name: 'big.bin', sha256: ${JSON.stringify(sha256(big))}, read: () => data },
                     { name: 'small.txt', sha256: ${JSON.stringify(sha256(Buffer.from('small')))}, read: () => Buffer.from('small') }];
      for (let i = 0; i < 5; i++) extractFiles([{ path: ${JSON.stringify(join(dir, 'cache'))}, explicit: true, privateDir: false }], '${KEY}', files);
    `;
    const codes = await Promise.all(
      Array.from({ length: 4 }, () => new Promise<number | null>((resolve) => {
        const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'inherit' });
        child.once('exit', resolve);
      })),
    );
    assert.deepEqual(codes, [0, 0, 0, 0]);
    const out = join(dir, 'cache', KEY);
    assert.deepEqual(readdirSync(out).sort(), ['big.bin', 'small.txt']);
    assert.equal(sha256(readFileSync(join(out, 'big.bin'))), sha256(big));
  });

  it('names OFFLOAD_CACHE_DIR when the directory it gives cannot be used', () => {
    const dir = makeTempDir();
    writeFileSync(join(dir, 'file'), '');
    const explicit = root(join(dir, 'file', 'cache'), { explicit: true });
    assert.throws(
      () => extractFiles([explicit, root(join(dir, 'fallback'))], KEY, [file('a', 'a')]),
      (err: unknown) => {
        assert.ok(err instanceof AssetCacheError);
        assert.equal(err.message, `cannot use the cache directory ${explicit.path} (OFFLOAD_CACHE_DIR): a path component is not a directory`);
        return true;
      },
    );
  });

  it('falls back to the next directory, and refuses directories others could tamper with', () => {
    const dir = makeTempDir();
    writeFileSync(join(dir, 'file'), '');
    const open = join(dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const shared = join(dir, 'shared');
    mkdirSync(shared, { mode: 0o755 });
    chmodSync(shared, 0o755);
    const fallback = join(dir, 'private');

    const out = extractFiles(
      [root(join(dir, 'file', 'x')), root(open), root(shared, { privateDir: true }), root(fallback, { privateDir: true })],
      KEY,
      [file('a', 'a')],
    );
    assert.equal(out, join(fallback, KEY));
    assert.equal(statSync(fallback).mode & 0o777, 0o700);

    assert.throws(
      () => extractFiles([root(open), root(shared, { privateDir: true })], KEY, [file('a', 'a')]),
      (err: unknown) => {
        assert.ok(err instanceof AssetCacheError);
        assert.match(err.message, /open: it is writable by every user and not sticky/);
        assert.match(err.message, /shared is open to other users \(mode 755, expected 700\)/);
        assert.match(err.message, /Set OFFLOAD_CACHE_DIR/);
        return true;
      },
    );
  });
});

describe('cacheRootCandidates', () => {
  it('uses OFFLOAD_CACHE_DIR alone when set', () => {
    assert.deepEqual(cacheRootCandidates({ OFFLOAD_CACHE_DIR: '/srv/offload-cache', HOME: '/home/u' }), [
      { path: '/srv/offload-cache', explicit: true, privateDir: false },
    ]);
  });

  it('prefers the XDG cache directory, then ~/.cache, then per-user private directories', () => {
    const uid = process.getuid!();
    const tmp = { path: join(tmpdir(), `offload-${uid}`), explicit: false, privateDir: true };
    assert.deepEqual(cacheRootCandidates({ XDG_CACHE_HOME: '/x/cache', HOME: '/home/u', XDG_RUNTIME_DIR: `/run/user/${uid}` }), [
      { path: '/x/cache/offload', explicit: false, privateDir: false },
      { path: `/run/user/${uid}/offload`, explicit: false, privateDir: true },
      tmp,
    ]);
    // A relative XDG_CACHE_HOME is invalid by the spec and ignored.
    assert.deepEqual(cacheRootCandidates({ XDG_CACHE_HOME: 'rel', HOME: '/home/u' }), [
      { path: '/home/u/.cache/offload', explicit: false, privateDir: false },
      tmp,
    ]);
  });
});
