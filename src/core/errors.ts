import { diskFullCause } from './disk-full.js';

/**
 * One error class for everything a user can cause or fix. `code` is stable (scripts and the CLI's exit
 * codes depend on it), `hint` says what to do, `cause` keeps the underlying error.
 */
export type GraftErrorCode =
  | 'INVALID_CONFIG'
  | 'INVALID_DATASET'
  | 'UNREADABLE_IMAGE'
  | 'MODEL_NOT_FOUND'
  | 'UNSUPPORTED_MODEL'
  | 'UNKNOWN_PREPROCESSING'
  | 'INVALID_MODEL_DIR'
  | 'INVALID_CHECKPOINT'
  | 'CANCELLED'
  | 'CACHE_ERROR'
  | 'OFFLINE'
  | 'INTERNAL';

export class GraftError extends Error {
  readonly code: GraftErrorCode;
  readonly hint: string | undefined;

  constructor(code: GraftErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GraftError';
    this.code = code;
    this.hint = options.hint;
  }

  /** The message followed by the hint, as the CLI prints it. */
  describe(): string {
    return this.hint ? `${this.message}\n  hint: ${this.hint}` : this.message;
  }
}

/**
 * Exit codes by error code: 2 for usage and input problems, 3 for models, 4 for internal failures, which
 * includes every error that is not a GraftError (the README's contract: never 1).
 */
export function exitCodeFor(error: unknown): number {
  // A full disk is 4 whatever wraps it (README: DISK_FULL), as the CLI reports it whatever wraps it.
  if (!(error instanceof GraftError) || diskFullCause(error)) return 4;
  switch (error.code) {
    case 'INVALID_CONFIG':
    case 'INVALID_DATASET':
    case 'UNREADABLE_IMAGE':
    case 'UNKNOWN_PREPROCESSING':
    case 'INVALID_CHECKPOINT':
      return 2;
    case 'MODEL_NOT_FOUND':
    case 'UNSUPPORTED_MODEL':
    case 'INVALID_MODEL_DIR':
    case 'OFFLINE':
      return 3;
    case 'CANCELLED':
      return 130;
    default:
      return 4;
  }
}
