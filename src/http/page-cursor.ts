import { AppError } from './errors.js';

/** Cursors are opaque to clients: a base64url position in creation order. */
export function encodePageCursor(seq: number): string {
  return Buffer.from(String(seq)).toString('base64url');
}

export function decodePageCursor(cursor: string): number {
  const seq = Number(Buffer.from(cursor, 'base64url').toString());
  if (!Number.isSafeInteger(seq) || seq < 0) throw new AppError('invalid_request', 'The cursor is not one this server issued.');
  return seq;
}
