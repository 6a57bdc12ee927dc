import { EngineError } from './engine-error.js';

/** A list's `nextCursor`: an opaque token for the position (creation order) after which to continue. */
export function encodeListCursor(seq: number): string {
  return Buffer.from(String(seq)).toString('base64url');
}

export function decodeListCursor(cursor: string): number {
  const seq = Number(Buffer.from(cursor, 'base64url').toString());
  if (!Number.isSafeInteger(seq) || seq < 0) throw new EngineError('invalid_option', 'The cursor is not one this server issued.');
  return seq;
}
