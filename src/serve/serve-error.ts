/**
 * Codes for failures that only exist at the HTTP boundary. Library failures keep their GraftError code;
 * error-mapping.ts turns either kind into a status and a JSON body.
 */
export type ServeErrorCode =
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'CONFLICT'
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'REQUEST_TIMEOUT'
  | 'URI_TOO_LONG'
  | 'HEADERS_TOO_LARGE'
  | 'PAYLOAD_TOO_LARGE'
  /** An `Expect` header other than `100-continue`. */
  | 'EXPECTATION_FAILED'
  | 'IMAGE_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'NOT_AN_IMAGE'
  | 'TIMEOUT'
  | 'BUSY'
  | 'NOT_READY'
  /** The disk the server writes to is full (ENOSPC, a quota, SQLite's "database or disk is full"). */
  | 'INSUFFICIENT_STORAGE';

/** A request the server refuses; `code` is part of the API (clients switch on it), the status comes from error-mapping.ts. */
export class ServeError extends Error {
  readonly code: ServeErrorCode;
  readonly hint: string | undefined;

  constructor(code: ServeErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ServeError';
    this.code = code;
    this.hint = options.hint;
  }
}
