import type { FastifyReply, FastifyRequest } from 'fastify';

/** `--log` of `graft serve` and `graft ui`: a line of text per request, a JSON object per line (for log shippers), or nothing. */
export type AccessLogFormat = 'text' | 'json' | 'off';
export const ACCESS_LOG_FORMATS: readonly AccessLogFormat[] = ['text', 'json', 'off'];

/**
 * What the access log says about one answered request. Never a header (the token, cookies), the query string (it may
 * hold a token) or a body (images).
 */
export interface AccessLogEntry {
  /** When the answer was sent, ISO 8601 UTC. */
  readonly time: string;
  readonly method: string;
  /** The path as requested, without the query; bytes outside printable ASCII as %XX. */
  readonly path: string;
  readonly status: number;
  readonly durationMs: number;
  /** Also in the X-Request-Id response header and in an error body's `error.requestId`. */
  readonly requestId: string;
  /** Predictions: the model asked for and the number of images read. */
  readonly model?: string;
  readonly images?: number;
  /** An error reply's code; for a server error (5xx) its message too (a 500's own, which its body leaves out), and for a 500 its stack. */
  readonly error?: AccessLogError;
}

export interface AccessLogError {
  readonly code: string;
  readonly message?: string;
  readonly stack?: string;
}

type AccessNote = Pick<AccessLogEntry, 'model' | 'images' | 'error'>;

// What a route learns while it answers; kept beside the request rather than on it, so fastify's request stays typed.
const notes = new WeakMap<FastifyRequest, AccessNote>();

/** Adds what the route knows (the model, the images, the error) to the request's access log entry. */
export function noteAccess(request: FastifyRequest, note: AccessNote): void {
  notes.set(request, { ...notes.get(request), ...note });
}

/**
 * The entry for a request whose answer has just been sent, or whose connection closed first (`status` then says
 * what the client got: 499 when the answer had not begun).
 */
export function accessLogEntry(request: FastifyRequest, reply: FastifyReply, status = reply.statusCode): AccessLogEntry {
  return {
    time: new Date().toISOString(),
    method: request.method,
    path: loggablePath(request.url),
    status,
    durationMs: Math.round(reply.elapsedTime * 10) / 10,
    requestId: request.id,
    ...notes.get(request),
  };
}

/** The entry for bytes refused before they were a request (not HTTP, headers over 16 KB, too slow): no method or path. */
export function unparsedAccessEntry(status: number, code: string, requestId: string): AccessLogEntry {
  return { time: new Date().toISOString(), method: '-', path: '-', status, durationMs: 0, requestId, error: { code } };
}

/**
 * One log line (no newline at the end), e.g.
 * `2026-12-06T20:55:25.123Z POST /v1/models/bees/predict 200 12.3ms id=4f1c... model=bees images=1`.
 * A stack, when asked for, follows on indented lines (text) or in the object's `error.stack` (json).
 */
export function formatAccessLine(entry: AccessLogEntry, format: Exclude<AccessLogFormat, 'off'>, options: { readonly withStack: boolean }): string {
  const { error, ...rest } = entry;
  const shown = error && !options.withStack ? { code: error.code, ...(error.message === undefined ? {} : { message: error.message }) } : error;
  if (format === 'json') return JSON.stringify({ ...rest, ...(shown ? { error: shown } : {}) });
  const fields = [
    entry.time,
    entry.method,
    entry.path,
    String(entry.status),
    `${entry.durationMs}ms`,
    `id=${entry.requestId}`,
    ...(entry.model === undefined ? [] : [`model=${printableAscii(entry.model)}`]),
    ...(entry.images === undefined ? [] : [`images=${entry.images}`]),
    ...(shown ? [`error=${shown.code}`, ...(shown.message === undefined ? [] : [JSON.stringify(shown.message)])] : []),
  ];
  const stack = shown?.stack ? `\n${shown.stack.split('\n').map((line) => `  ${line}`).join('\n')}` : '';
  return `${fields.join(' ')}${stack}`;
}

/** Without the query (it may carry a token), at most 300 characters, and nothing that could end or forge a line. */
function loggablePath(url: string): string {
  const path = printableAscii(url.split('?')[0] ?? '');
  return path.length > 300 ? `${path.slice(0, 300)}...` : path;
}

/** Characters outside printable ASCII (controls, spaces, what the raw request's bytes decode to) as %XX. */
function printableAscii(value: string): string {
  return value.replace(/[^\x21-\x7e]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}
