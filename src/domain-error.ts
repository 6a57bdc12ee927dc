// The one error type of the domain (datasets and exports). The HTTP layer maps each code to its answer
// (src/http/errors.ts), as it does the engine's EngineError; the domain knows nothing of statuses.

export type DomainErrorCode =
  | 'dataset_not_found'
  | 'dataset_not_ready'
  | 'dataset_in_use'
  | 'unknown_column'
  | 'upload_too_large'
  | 'upload_empty'
  | 'export_not_ready'
  | 'export_failed'
  | 'export_gone'
  | 'export_file_unavailable';

export class DomainError extends Error {
  override name = 'DomainError';
  readonly code: DomainErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: DomainErrorCode, message: string, options: { details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }
}
