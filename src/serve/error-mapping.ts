import { UnreadableImageError } from '../data/decode-image.js';
import { READABLE_FORMATS } from '../data/sniff-image-format.js';
import { diskFullCause } from '../core/disk-full.js';
import { GraftError, type GraftErrorCode } from '../core/errors.js';
import { ACCEPTED_FORMS_HINT, SMALLER_HINT } from './image-input.js';
import { ServeError, type ServeErrorCode } from './serve-error.js';

/** What every error reply looks like: `{ error: { code, message, hint?, requestId? } }`. */
export interface ErrorBody {
  /** `requestId` is the request's X-Request-Id (absent only when the request could not be parsed as HTTP). */
  readonly error: { readonly code: ApiErrorCode; readonly message: string; readonly hint?: string; readonly requestId?: string };
}

export type ApiErrorCode = GraftErrorCode | ServeErrorCode;

export interface HttpError {
  readonly status: number;
  readonly body: ErrorBody;
  /** What only the server's log says: a server fault's own message (the body says only where to find it). */
  readonly logMessage?: string;
}

/** The one table from an error code to an HTTP status. */
const STATUS_BY_CODE: Readonly<Record<ApiErrorCode, number>> = {
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  REQUEST_TIMEOUT: 408,
  URI_TOO_LONG: 414,
  HEADERS_TOO_LARGE: 431,
  MODEL_NOT_FOUND: 404,
  BAD_REQUEST: 400,
  INVALID_CONFIG: 400,
  INVALID_DATASET: 400,
  UNKNOWN_PREPROCESSING: 400,
  UNREADABLE_IMAGE: 400,
  PAYLOAD_TOO_LARGE: 413,
  IMAGE_TOO_LARGE: 413,
  EXPECTATION_FAILED: 417,
  UNSUPPORTED_MEDIA_TYPE: 415,
  NOT_AN_IMAGE: 415,
  TIMEOUT: 503,
  BUSY: 503,
  NOT_READY: 503,
  OFFLINE: 503,
  INSUFFICIENT_STORAGE: 507,
  UNSUPPORTED_MODEL: 500,
  INVALID_MODEL_DIR: 500,
  INVALID_CHECKPOINT: 409,
  CANCELLED: 409,
  CACHE_ERROR: 500,
  INTERNAL: 500,
};

/** The codes an error reply with this status may carry (the OpenAPI document lists them). */
export function errorCodesFor(status: number): ApiErrorCode[] {
  return (Object.keys(STATUS_BY_CODE) as ApiErrorCode[]).filter((code) => STATUS_BY_CODE[code] === status);
}

/** Fastify's own 4xx errors (body limits, parsers, validation) by their status. */
const CODE_BY_FRAMEWORK_STATUS: Readonly<Record<number, ServeErrorCode>> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  408: 'REQUEST_TIMEOUT',
  413: 'PAYLOAD_TOO_LARGE',
  414: 'URI_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  431: 'HEADERS_TOO_LARGE',
};

/**
 * busboy's messages for a multipart body it cannot parse (no boundary, an empty or over-long one, a part cut off). They
 * arrive as plain Errors without a status; they are the client's fault, so 400.
 */
const MALFORMED_MULTIPART = /^(Multipart: Boundary not found|Unexpected end of multipart data|\w+ terminated early due to unexpected end of multipart data|The needle cannot (be an empty|have a length bigger))/;

/** The framework's and @fastify/multipart's own 4xx errors, which say little ("reach fields limit"), in Graft's words. */
const FRAMEWORK_ERRORS: Readonly<Record<string, readonly [ApiErrorCode, string, string?]>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: ['PAYLOAD_TOO_LARGE', 'The request body is larger than this server takes.', SMALLER_HINT],
  FST_REQ_FILE_TOO_LARGE: ['PAYLOAD_TOO_LARGE', 'An uploaded file is larger than this server takes.', SMALLER_HINT],
  FST_PARTS_LIMIT: ['PAYLOAD_TOO_LARGE', 'The multipart body has more parts than this server takes.', 'send fewer files per request'],
  FST_FILES_LIMIT: ['PAYLOAD_TOO_LARGE', 'The multipart body has more files than this server takes.', 'send fewer files per request'],
  FST_FIELDS_LIMIT: ['PAYLOAD_TOO_LARGE', 'The multipart body has more text fields than this server takes.', 'send the files, and only the fields the API names'],
  FST_PROTO_VIOLATION: ['BAD_REQUEST', 'A multipart field is named __proto__, which this server refuses (prototype pollution).'],
  FST_MP_PREMATURE_CLOSE: ['BAD_REQUEST', 'The request ended before its multipart body did.'],
};

/** A hint that names a CLI command or flag helps a terminal user, not an HTTP client: such hints are not sent. */
const CLI_HINT = /`graft |(^|\s)--[a-z]/;

/** What the answer to a failed request may say about the request and the server. */
export interface ErrorContext {
  readonly contentType?: string;
  readonly path?: string;
  /** The folder the server writes into (the dashboard's data folder): a full disk's message names it. */
  readonly storageDir?: string;
  /** The request's id: a server fault's answer names it, so that its details can be found in the log. */
  readonly requestId?: string;
}

/**
 * Turns anything thrown while handling a request into a status and a JSON body, like hono's
 * `HTTPException.getResponse`. A full disk is 507 INSUFFICIENT_STORAGE; other unknown errors become 500 INTERNAL.
 * A 500's body says only that, and the request id under which the log has its message (`logMessage`): the message
 * of a fault can show server paths and internals to any client.
 */
export function httpErrorFor(error: unknown, request?: ErrorContext): HttpError {
  if (frameworkCode(error) === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    // Fastify says only "Unsupported Media Type": name what came, and (on the predict route) what to send.
    const type = request?.contentType?.trim() || '(none)';
    const curl = /^application\/x-www-form-urlencoded\b/i.test(type) ? " (curl's default for --data-binary)" : '';
    const hint = request?.path?.endsWith('/predict') ? ACCEPTED_FORMS_HINT : undefined;
    return reply('UNSUPPORTED_MEDIA_TYPE', `Content-Type ${type}${curl} is not accepted here.`, hint);
  }
  if (error instanceof UnreadableImageError) {
    // The decoder checks width x height from the header before it decodes (sharp's limitInputPixels), so a
    // decompression bomb arrives here as "image too large" without its pixels ever being allocated.
    const code: ApiErrorCode = /^image too large/.test(error.reason)
      ? 'IMAGE_TOO_LARGE'
      : /^(not an image|zero-byte)/.test(error.reason)
        ? 'NOT_AN_IMAGE'
        : 'UNREADABLE_IMAGE';
    // `file` is what the server called the image ("the uploaded image", "image 2 of 3"), never a server path.
    return reply(code, `Cannot read ${error.file}: ${error.reason}.`, code === 'IMAGE_TOO_LARGE' ? 'send a smaller image' : `send a complete ${READABLE_FORMATS} file`);
  }
  if (error instanceof ServeError) return reply(error.code, error.message, error.hint);
  const full = diskFullCause(error);
  if (full) {
    const where = request?.storageDir ? `The disk holding ${request.storageDir}` : "The server's disk";
    return reply('INSUFFICIENT_STORAGE', `${where} is full; free space and retry (${full.message}).`, 'free space on that disk, then send the request again');
  }
  if (error instanceof GraftError) {
    if (STATUS_BY_CODE[error.code] === 500) return serverFault(error.code, error.message, request?.requestId);
    return reply(error.code, error.message, error.hint && !CLI_HINT.test(error.hint) ? error.hint : undefined);
  }
  if (error instanceof Error && MALFORMED_MULTIPART.test(error.message)) {
    // busboy's words for a boundary past its 256 bytes speak of a "needle"; RFC 2046 allows 70 characters.
    const what = /needle cannot have a length bigger/.test(error.message) ? 'its boundary is longer than 70 characters' : error.message.replace(/\.+$/, '');
    return reply('BAD_REQUEST', `The multipart body is malformed: ${what}.`, 'send multipart/form-data with a boundary parameter and complete parts (FormData does this)');
  }
  const known = FRAMEWORK_ERRORS[frameworkCode(error) ?? ''];
  if (known) return reply(known[0], known[1], known[2]);
  const status = frameworkStatus(error);
  if (status !== undefined && status >= 400 && status < 500) {
    const message = error instanceof Error ? error.message : String(error);
    const code = CODE_BY_FRAMEWORK_STATUS[status] ?? 'BAD_REQUEST';
    return { status: STATUS_BY_CODE[code] === status ? status : STATUS_BY_CODE[code], body: { error: { code, message } } };
  }
  return serverFault('INTERNAL', faultMessage(error), request?.requestId);
}

/** A 500: the body names the request id and nothing of the fault; its message goes to the log. */
function serverFault(code: ApiErrorCode, logMessage: string, requestId: string | undefined): HttpError {
  const where = requestId === undefined ? '' : ` under request id ${requestId}`;
  return { status: 500, body: { error: { code, message: `Internal error; the server's log has the details${where}.` } }, logMessage };
}

/** An unknown error's message for the log, led by its code when it has one the message lacks (SQLite's: "SQLITE_NOTADB: file is not a database"). */
function faultMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = frameworkCode(error);
  return code !== undefined && !message.includes(code) ? `${code}: ${message}` : message;
}

function reply(code: ApiErrorCode, message: string, hint?: string): HttpError {
  return { status: STATUS_BY_CODE[code], body: { error: { code, message, ...(hint ? { hint } : {}) } } };
}

function frameworkCode(error: unknown): string | undefined {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

function frameworkStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const status = (error as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' ? status : undefined;
}
