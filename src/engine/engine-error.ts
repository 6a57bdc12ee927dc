/** Why the engine refused a request. Knows nothing of HTTP: src/http/errors.ts maps each code to a status. */
export type EngineErrorCode = 'unknown_kind' | 'queue_full' | 'shutting_down' | 'invalid_option' | 'timeout_too_long' | 'idempotency_conflict';

export class EngineError extends Error {
  readonly code: EngineErrorCode;
  /** Facts a caller may show, e.g. the limit that was exceeded. */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: EngineErrorCode, message: string, options?: ErrorOptions & { details?: Record<string, unknown> }) {
    super(message, options);
    this.name = 'EngineError';
    this.code = code;
    this.details = options?.details;
  }
}
