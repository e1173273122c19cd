import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import cookie from '@fastify/cookie';
import cors from '@fastify/cors';
import multipart from '@fastify/multipart';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { registerAccessControl, type AccessOptions } from './access/access-control.js';
import { registerBasePathRedirect, stripBasePath } from './base-path.js';
import { accessLogEntry, noteAccess, unparsedAccessEntry, type AccessLogEntry } from './access-log.js';
import { parseJsonBody } from './json-body.js';
import { httpErrorFor, type ApiErrorCode, type ErrorBody, type HttpError } from './error-mapping.js';
import { REQUEST_ID_HEADER, requestIdFor } from './request-id.js';
import type { ServerMetrics } from './server-metrics.js';
import { GraftError } from '../core/errors.js';
import { escapeHtml } from '../report/escape-html.js';
import { closeAfterReading } from './close-after-reading.js';

/** What both servers (`graft serve`, `graft ui`) share: limits, error format, metrics and access control. */
export interface AppOptions {
  /** Largest JSON or raw body in bytes. */
  readonly bodyLimit: number;
  /** Limits of a multipart body (busboy's names). */
  readonly multipartLimits: { readonly fileSize: number; readonly files: number; readonly fields: number; readonly parts: number };
  /** Time to receive a whole request; slower clients get 408. Defaults to node's 300 s. */
  readonly requestTimeoutMs?: number;
  /** Whether the server is shutting down before fastify's close begins (a readiness delay): answers close their connection. */
  readonly isDraining?: () => boolean;
  readonly metrics: ServerMetrics;
  readonly access: AccessOptions;
  /** Origins whose pages may call the routes `isCorsPath` accepts (`--cors`). None by default. */
  readonly corsOrigins?: readonly string[];
  readonly isCorsPath?: (path: string) => boolean;
  /** The folder the server writes into (the dashboard's data folder): a full disk is a 507 that names it. */
  readonly storageDir?: string;
  /** Called once per answered request (`--log` of graft serve and ui); see access-log.ts for what an entry holds. */
  readonly accessLog?: (entry: AccessLogEntry) => void;
  /** The path a reverse proxy passes on in front of every route (`/graft`, checked by checkBasePath); see base-path.ts. */
  readonly basePath?: string;
}

/**
 * A fastify instance where every client error, the framework's own included (a bad URL, an over-long URL or
 * header, a malformed body), is answered in Graft's JSON format (`{ error: { code, message, hint?, requestId } }`)
 * with a 4xx status, and counted in /metrics. Every answer carries the request's id in X-Request-Id (the client's
 * own when it is safe to repeat). Routes are added by the caller.
 */
export async function createApp(options: AppOptions): Promise<FastifyInstance> {
  const { metrics } = options;
  const app = Fastify({
    bodyLimit: options.bodyLimit,
    // Node answers a request without Host itself, with an empty 400: the access checks answer it in Graft's format.
    http: { requireHostHeader: false, ...(options.requestTimeoutMs === undefined ? {} : timeoutChecks(options.requestTimeoutMs)) },
    ...(options.requestTimeoutMs === undefined ? {} : { requestTimeout: options.requestTimeoutMs }),
    logger: false,
    // A request read while closing is answered (its connection then closed), not given fastify's own 503 in a
    // format no other answer has: connections are accepted only until close, and each carries one request more.
    return503OnClosing: false,
    ...(options.basePath === undefined ? {} : { rewriteUrl: stripBasePath(options.basePath) }),
    genReqId: (request) => requestIdFor(request.headers[REQUEST_ID_HEADER]),
    // Fastify's Ajv removes a field its schema does not list: a typo ({"hiden": 64}) would train with the default and
    // say nothing. Kept, additionalProperties: false refuses it, and the message names the field. And it coerces: a
    // project named 5 would be "5", `"crops": 1` true; a field of the wrong type is a 400 naming it instead (paths and
    // query strings are strings, and their schemas say so).
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
    schemaErrorFormatter: (errors, dataVar) =>
      new Error(
        errors
          .map((e) => (e.keyword === 'additionalProperties' ? `${dataVar}${e.instancePath} has an unknown field ${JSON.stringify((e.params as { additionalProperty?: string }).additionalProperty)}` : `${dataVar}${e.instancePath} ${e.message ?? 'is not valid'}`))
          .join(', '),
      ),
    // Errors found before routing (an undecodable URL such as /%, a path parameter past maxParamLength).
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      const code: ApiErrorCode = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'URI_TOO_LONG' : 'BAD_REQUEST';
      const message = code === 'URI_TOO_LONG' ? 'A part of the URL is too long.' : `The URL cannot be decoded: ${error.message}.`;
      void sendError(reply, httpErrorFor(new FrameworkError(code === 'URI_TOO_LONG' ? 414 : 400, message)));
      metrics.observeRequest('unmatched', request.method, reply.statusCode, 0);
      // No hook runs for these: the log line is written here.
      options.accessLog?.(accessLogEntry(request, reply));
    },
    // Errors node's HTTP parser finds before fastify sees a request (a request line or headers over 16 KB, bytes
    // that are not HTTP, a body that never finishes); fastify's default answers in its own format.
    clientErrorHandler: (error: NodeJS.ErrnoException, socket: Socket) => {
      if (error.code === 'ECONNRESET' || socket.destroyed) return;
      const [status, code, message]: [number, ApiErrorCode, string] =
        error.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'HEADERS_TOO_LARGE', 'The request line (URL) or headers are larger than 16 KB.']
          : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? [408, 'REQUEST_TIMEOUT', 'The request was not received in time.']
            : [400, 'BAD_REQUEST', 'The request is not valid HTTP.'];
      metrics.observeRequest('unparsed', 'unknown', status, 0);
      // Its headers were not read, so a client's X-Request-Id is unknown: the id is a new one.
      const requestId = requestIdFor(undefined);
      if (socket.writable) {
        const body = JSON.stringify({ error: { code, message, requestId } } satisfies ErrorBody);
        socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? code}\r\nConnection: close\r\nX-Request-Id: ${requestId}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      }
      options.accessLog?.(unparsedAccessEntry(status, code, requestId));
      // A client that stalled is gone; one that sent too much or not HTTP may still be sending (the rest of a 70 KB
      // URL). Closing with its bytes unread makes the kernel reset the connection, and a reset can reach the client
      // before it reads the answer (Node 24's parser stops reading at the error: curl then says "Connection reset").
      if (status === 408) socket.destroy(error);
      else closeAfterReading(socket);
    },
  });
  // Node answers an Expect other than 100-continue with an empty 417 of its own.
  app.server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    const requestId = requestIdFor(request.headers[REQUEST_ID_HEADER]);
    const expect = String(request.headers.expect ?? '').slice(0, 100);
    const error = { code: 'EXPECTATION_FAILED', message: `This server does not meet "Expect: ${expect}"; the only expectation it takes is 100-continue.`, requestId } as const;
    const body = JSON.stringify({ error } satisfies ErrorBody);
    response.writeHead(417, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), [REQUEST_ID_HEADER]: requestId, connection: 'close' }).end(body);
    metrics.observeRequest('unmatched', request.method ?? 'unknown', 417, 0);
    options.accessLog?.(unparsedAccessEntry(417, error.code, requestId));
  });
  // Counted and logged once: when the answer has been sent (onResponse, below), or when its connection closed first.
  // Fastify runs onResponse only for an answer that finished: an event stream the client left, or a request whose
  // client hung up, would go unlogged. One whose answer had not begun is logged as nginx does, 499.
  const answered = new WeakSet<FastifyRequest>();
  const observeAnswer = (request: FastifyRequest, reply: FastifyReply, status = reply.statusCode): void => {
    if (answered.has(request)) return;
    answered.add(request);
    metrics.observeRequest(request.routeOptions.url ?? 'unmatched', request.method, status, reply.elapsedTime / 1000);
    options.accessLog?.(accessLogEntry(request, reply, status));
  };
  // First, so that an answer given by a later hook (a refused token) carries the id too.
  app.addHook('onRequest', async (request, reply) => {
    void reply.header(REQUEST_ID_HEADER, request.id);
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) observeAnswer(request, reply, reply.raw.headersSent ? reply.statusCode : CLIENT_CLOSED_REQUEST);
    });
  });
  if (options.basePath !== undefined) registerBasePathRedirect(app, options.basePath);
  await app.register(multipart, { limits: options.multipartLimits });
  await app.register(cookie);
  // Bodies are JSON, multipart or images: text is refused as 415 rather than read and ignored, so no state-changing
  // request can come as a cross-site "simple" text/plain POST.
  app.removeContentTypeParser('text/plain');
  // Fastify's own JSON parser reads any body under the limit: one of nested brackets held the event loop for seconds.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  if (options.corsOrigins?.length) {
    const allowed = new Set(options.corsOrigins);
    const isCorsPath = options.isCorsPath ?? (() => true);
    await app.register(cors, {
      delegator: (request, callback) => {
        const path = request.url.split('?')[0] ?? '';
        callback(null, isCorsPath(path) ? { origin: [...allowed], methods: ['GET', 'POST'], allowedHeaders: ['content-type', 'authorization', 'x-graft-request', REQUEST_ID_HEADER], exposedHeaders: [REQUEST_ID_HEADER], maxAge: 600 } : { origin: false });
      },
    });
  }
  registerAccessControl(app, { ...options.access, ...(options.corsOrigins ? { corsOrigins: options.corsOrigins } : {}), ...(options.isCorsPath ? { isCorsPath: options.isCorsPath } : {}) });
  app.addHook('onResponse', async (request, reply) => observeAnswer(request, reply));
  // On close, node waits for every connection to end; a keep-alive one would idle for fastify's 72 s. Requests in
  // flight still get their answers, each followed by closing its connection, so shutdown takes as long as they do.
  let isClosing = false;
  app.addHook('preClose', async () => {
    isClosing = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (isClosing || options.isDraining?.()) reply.header('connection', 'close');
  });
  app.setErrorHandler(async (error, request, reply) =>
    sendError(reply, httpErrorFor(error, { contentType: request.headers['content-type'], path: request.url.split('?')[0], storageDir: options.storageDir, requestId: request.id }), error),
  );
  // A path that a route has, asked with another method, is 405 naming the methods it takes (as RFC 9110 asks), not 404.
  const routes: { readonly pattern: RegExp; readonly methods: readonly string[] }[] = [];
  app.addHook('onRoute', (route) => {
    // A folder of files answers GET anywhere: other methods stay "no route". A route that only says 405 allows nothing.
    if (route.url.includes('*') || route.config?.onlyRefusesMethod) return;
    const pattern = new RegExp(`^${route.url.split('/').map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/')}$`);
    routes.push({ pattern, methods: [route.method].flat() });
  });
  app.setNotFoundHandler(async (request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const allowed = [...new Set(routes.filter((r) => r.pattern.test(path)).flatMap((r) => r.methods))];
    if (allowed.length > 0) {
      void reply.header('allow', allowed.join(', '));
      return sendError(reply, { status: 405, body: { error: { code: 'METHOD_NOT_ALLOWED', message: `${path.slice(0, 200)} takes ${allowed.join(', ')}, not ${request.method}.` } } });
    }
    return sendError(reply, { status: 404, body: { error: { code: 'NOT_FOUND', message: `No route ${request.method} ${request.url.slice(0, 200)}.` } } });
  });
  return app;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route answers only 405 (a GET of a POST route, to say so): its method is not among those a 405 names. */
    onlyRefusesMethod?: boolean;
  }
}

/** nginx's status for a request whose client closed the connection before the answer began. */
const CLIENT_CLOSED_REQUEST = 499;

/**
 * Answers with an error body that names the request's id (a user can quote it; the log line has it too), and notes
 * the error for the access log: its code, and for a server error (5xx) the message (a 500's own, which its body
 * does not carry) and, for a 500, the stack.
 */
function sendError(reply: FastifyReply, error: HttpError, cause?: unknown): FastifyReply {
  const { code } = error.body.error;
  const message = error.logMessage ?? error.body.error.message;
  const isServerError = error.status >= 500;
  const stack = error.status === 500 && cause instanceof Error ? cause.stack : undefined;
  noteAccess(reply.request, { error: { code, ...(isServerError ? { message } : {}), ...(stack === undefined ? {} : { stack }) } });
  const body: ErrorBody = { error: { ...error.body.error, requestId: reply.request.id } };
  reply.code(error.status).header(REQUEST_ID_HEADER, reply.request.id);
  // A browser's address bar (a navigation asks for text/html first) gets a page that reads; scripts get the JSON.
  if (isNavigation(reply.request)) return reply.type('text/html; charset=utf-8').send(errorPage(error.status, body.error));
  return reply.type('application/json; charset=utf-8').send(body);
}

/** A GET whose Accept puts text/html first: a browser opening the URL (fetch sends *\/*; curl too). */
function isNavigation(request: FastifyRequest): boolean {
  return (request.method === 'GET' || request.method === 'HEAD') && /^text\/html\b/i.test(request.headers.accept ?? '');
}

/** The error as a small page: its status, message, hint and request id, escaped. */
function errorPage(status: number, error: ErrorBody['error']): string {
  const hint = error.hint ? `<p>${escapeHtml(error.hint.charAt(0).toUpperCase() + error.hint.slice(1))}.</p>` : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,"><title>${status} ${escapeHtml(STATUS_CODES[status] ?? error.code)}</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#111827}code{font-size:.9em}</style></head><body><h1>${escapeHtml(STATUS_CODES[status] ?? error.code)}</h1><p>${escapeHtml(error.message)}</p>${hint}<p><small>${escapeHtml(error.code)}, request id <code>${escapeHtml(error.requestId ?? '')}</code></small></p></body></html>`;
}

/** A framework-level client error with its status, mapped like fastify's own (see error-mapping.ts). */
class FrameworkError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * `app.listen`, with the failures a user causes (a port in use, a privileged port, an address this machine does not
 * have) as GraftError INVALID_CONFIG naming the port, not an internal error.
 */
export async function listenOn(app: FastifyInstance, port: number, host: string): Promise<string> {
  try {
    return await app.listen({ port, host });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why: Record<string, string> = {
      EADDRINUSE: `port ${port} on ${host} is already in use`,
      EACCES: `port ${port} on ${host} needs privileges this process lacks`,
      EADDRNOTAVAIL: `${host} is not an address of this machine`,
      ENOTFOUND: `${host} is not a known host name`,
    };
    const reason = code ? why[code] : undefined;
    if (!reason) throw error;
    const otherHost = code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || host !== '127.0.0.1' ? ', or --host 127.0.0.1' : '';
    throw new GraftError('INVALID_CONFIG', `Cannot listen: ${reason}`, { hint: `choose another --port (--port 0 takes any free one)${otherHost}`, cause: error });
  }
}

/**
 * Node's server times requests out only when it checks its connections, every 30 s by default, and it fixes the
 * headers' timeout (60 s) when the server is made, before Fastify sets the request timeout: a stalled upload was
 * answered 408 after ~88 s whatever the timeout. Given to the server as it is made, both follow the timeout, and the
 * checks run often enough to keep to it within a quarter of it (a second at most).
 */
function timeoutChecks(requestTimeoutMs: number): { requestTimeout: number; headersTimeout: number; connectionsCheckingInterval: number } {
  return {
    requestTimeout: requestTimeoutMs,
    headersTimeout: Math.min(60_000, requestTimeoutMs),
    connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(requestTimeoutMs / 4))),
  };
}
