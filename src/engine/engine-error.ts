/** Why the engine refused a request. Knows nothing of HTTP: src/http/errors.ts maps each code to a status. */
export type EngineErrorCode = 'unknown_kind' | 'queue_full' | 'shutting_down' | 'invalid_option';

export class EngineError extends Error {
  readonly code: EngineErrorCode;

  constructor(code: EngineErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'EngineError';
    this.code = code;
  }
}
