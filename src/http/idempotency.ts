import { createHash } from 'node:crypto';
import type { Context } from 'koa';
import { IdempotencyKeyHeader } from './resource-schemas.js';
import { validate } from './validate.js';

/** What the engine stores for an Idempotency-Key: the key scoped by route, and a hash of the request body. */
export interface Idempotency {
  idempotencyKey: string;
  requestHash: string;
}

/** Reads and checks the optional `Idempotency-Key` header; undefined when the request has none. */
export function readIdempotency(ctx: Context, scope: 'jobs' | 'exports', body: object): Idempotency | undefined {
  const key = ctx.get('Idempotency-Key');
  if (!key) return undefined;
  validate(IdempotencyKeyHeader, key, 'header');
  return { idempotencyKey: `${scope}:${key}`, requestHash: hashRequest(body) };
}

/** Key order and whitespace do not matter: the same request is the same hash. */
export function hashRequest(request: object): string {
  return createHash('sha256').update(canonicalJson(request)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
