import type { Engine } from '../engine/engine.js';
import { AppError } from './errors.js';

/**
 * Refuses a kind a client may not start: not registered, or one of the built-in kinds (import, export), which are
 * started only through their own routes, which build their payloads — through a generic one a client could name
 * server files in them.
 */
export function assertPublicKind(engine: Engine, kind: string): void {
  if (engine.isPublicKind(kind)) return;
  const known = engine.publicKinds;
  throw new AppError('unknown_kind', `No job kind "${kind}" can be started here; ${known.length > 0 ? `registered kinds: ${known.join(', ')}` : 'no kinds are registered (offload serve --job KIND=FILE)'}.`, {
    details: { kind, kinds: known },
  });
}
