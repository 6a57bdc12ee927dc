// Serves a finished file the way HTTP clients expect of a download: ETag and If-None-Match, single byte ranges
// with If-Range, and a Content-Disposition carrying both an ASCII and the exact UTF-8 name.
import { createReadStream } from 'node:fs';
import type { Context } from 'koa';
import { parseByteRange } from './byte-range.js';
import { AppError } from './errors.js';

export interface DownloadableFile {
  path: string;
  size: number;
  mtime: Date;
  contentType: string;
  /** The download name shown to the user. */
  filename: string;
  /** A strong validator of the content, e.g. its sha256 in hex. */
  contentHash: string;
}

export function sendFile(ctx: Context, file: DownloadableFile): void {
  const etag = `"${file.contentHash}"`;
  ctx.set({
    'Content-Type': file.contentType,
    'Content-Disposition': contentDisposition(file.filename),
    ETag: etag,
    'Accept-Ranges': 'bytes',
    'Last-Modified': file.mtime.toUTCString(),
    'Cache-Control': 'private, max-age=0, must-revalidate',
  });
  if (ctx.get('If-None-Match') === etag) {
    ctx.status = 304;
    return;
  }
  const ifRange = ctx.get('If-Range');
  const range = !ifRange || ifRange === etag ? parseByteRange(ctx.get('Range'), file.size) : undefined;
  if (range === 'unsatisfiable') {
    throw new AppError('range_not_satisfiable', `The requested range is outside the file of ${file.size} bytes.`, {
      headers: { 'Content-Range': `bytes */${file.size}` },
    });
  }
  if (range) {
    ctx.status = 206;
    ctx.set('Content-Range', `bytes ${range.start}-${range.end}/${file.size}`);
    ctx.body = createReadStream(file.path, { start: range.start, end: range.end });
    ctx.length = range.end - range.start + 1;
  } else {
    ctx.status = 200;
    ctx.body = createReadStream(file.path);
    ctx.length = file.size;
  }
}

/** RFC 6266: an ASCII fallback plus the exact UTF-8 name. */
function contentDisposition(filename: string): string {
  // encodeURIComponent throws on a lone surrogate; such a name gets U+FFFD in its place.
  const name = filename.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}
