// The registry of the API's error codes, apart from errors.ts so that the schemas can read it without a cycle.

/** Every error code the API answers with, and its HTTP status. The one registry: tested for consistency. */
export const ErrorCodes = Object.freeze({
  invalid_request: 400,
  unauthorized: 401,
  not_found: 404,
  file_unavailable: 404,
  method_not_allowed: 405,
  request_timeout: 408,
  conflict: 409,
  not_ready: 409,
  gone: 410,
  payload_too_large: 413,
  range_not_satisfiable: 416,
  unsupported_media_type: 415,
  host_not_allowed: 421,
  unknown_kind: 422,
  dataset_not_found: 422,
  unknown_column: 422,
  queue_full: 429,
  too_many_streams: 429,
  headers_too_large: 431,
  internal_error: 500,
  shutting_down: 503,
  unavailable: 503,
} as const);
export type ErrorCode = keyof typeof ErrorCodes;

/**
 * What each code means, for the OpenAPI document; `retryAfter` marks the codes answered with a `Retry-After`
 * header. A Record over ErrorCode, so a code cannot be added above without its description here.
 */
export const ErrorDocs: Readonly<Record<ErrorCode, { description: string; retryAfter?: true }>> = Object.freeze({
  invalid_request: { description: 'malformed JSON, a schema violation or a malformed id; `details` names each field at fault' },
  unauthorized: { description: 'missing or wrong `Authorization: Bearer <token>`' },
  not_found: { description: 'no such resource' },
  file_unavailable: { description: "the resource exists, but this node does not see its file as written (the shared --data-dir is not mounted here, or not in step); another node may serve it" },
  method_not_allowed: { description: 'the path exists but not with this method, or the method is not one this server knows' },
  request_timeout: { description: 'the request headers or body did not arrive in time; the connection is closed' },
  conflict: { description: 'the request contradicts the current state (e.g. cancelling a finished job)' },
  not_ready: { description: 'the resource exists but is not finished yet' },
  gone: { description: 'the resource existed but was deleted or expired' },
  range_not_satisfiable: { description: 'the Range header asks for bytes outside the file; `Content-Range` gives its size' },
  payload_too_large: { description: 'the request body is over the configured limit' },
  unsupported_media_type: { description: 'the request body has a content type, charset or `Content-Encoding` this route does not accept' },
  host_not_allowed: { description: 'bound to loopback, the server answers only loopback host names and those given with --allowed-host (DNS-rebinding defence)' },
  unknown_kind: { description: 'no worker module is registered for this job kind' },
  dataset_not_found: { description: 'the dataset named in the request does not exist' },
  unknown_column: { description: 'the export names a column the dataset does not have; `details.unknown_columns` lists them' },
  queue_full: { description: 'the queue holds the maximum number of pending jobs; retry later', retryAfter: true },
  too_many_streams: { description: 'too many event streams are open (in all, or from this client address); close one or retry later', retryAfter: true },
  headers_too_large: { description: 'the request headers are larger than the server accepts (16 KiB)' },
  internal_error: { description: 'the server failed; the log has the details' },
  shutting_down: { description: 'the server is shutting down and accepts no new work', retryAfter: true },
  unavailable: { description: 'the database is not writable or the worker pool is not up' },
});
