import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { AccessLogEntry } from './access-log.js';
import { GraftError } from '../core/errors.js';
import { AccessToken, checkToken, generateToken } from './access/access-token.js';
import { checkBasePath } from './base-path.js';
import { isProbePath } from './access/access-control.js';
import { registerApiRoutes } from './api-routes.js';
import { createApp, listenOn } from './create-app.js';
import { isDashboardPath, registerDashboardRoutes, type DashboardOptions } from './dashboard/dashboard-routes.js';
import { ConcurrencyLimiter } from './concurrency-limiter.js';
import { acceptRawImages, jsonBodyLimit } from './image-input.js';
import { ModelRegistry, type ModelRegistryEvent } from './model-registry.js';
import { OPENAPI_PATH } from './openapi-document.js';
import { ServerMetrics } from './server-metrics.js';
import { registerStaticFiles } from './static-files.js';

/** Options for {@link startServer}; only `models` is required. */
export interface ServeOptions {
  /** Model directories written by `graft train --out`. */
  readonly models: readonly string[];
  /** A name per directory (key: the directory as given, or resolved). Defaults to the directory's basename. */
  readonly names?: Readonly<Record<string, string>>;
  /** TCP port; 0 picks a free one. Defaults to 8080. */
  readonly port?: number;
  /** Interface to listen on. Defaults to 127.0.0.1 (loopback only); use 0.0.0.0 to expose it. */
  readonly host?: string;
  /**
   * Require this token (`Authorization: Bearer <token>`, or the page's cookie) on every path but /healthz and
   * /readyz. Without it the prediction API is open, as a model server usually is; the dashboard (`dashboard`)
   * always needs a token, generated when none is given. See SECURITY.md.
   */
  readonly token?: string;
  /** Host names the server answers to besides localhost and IP addresses (DNS-rebinding defence). */
  readonly allowedHosts?: readonly string[];
  /** Origins whose pages may call the prediction API from the browser (CORS). None by default. */
  readonly corsOrigins?: readonly string[];
  /** Largest request body in bytes (all images of one request). Defaults to 10 MB. */
  readonly maxUploadBytes?: number;
  /** Largest width x height of an image, checked from its header before decoding. Defaults to 40 megapixels. */
  readonly maxPixels?: number;
  /** A predict request that takes longer is answered 503 TIMEOUT. Defaults to 30 000 ms. */
  readonly requestTimeoutMs?: number;
  /** Most images in one onnxruntime run (dynamic batching). Defaults to 32. */
  readonly maxBatch?: number;
  /** How long an idle model waits for more images before running. Defaults to 3 ms. */
  readonly batchWindowMs?: number;
  /** Most images in one request. Defaults to 64. */
  readonly maxImagesPerRequest?: number;
  /**
   * Images decoded at once, across all requests. Defaults to 4: on 2 cores, sharp's throughput is ~285 img/s
   * at 4 in flight and barely more beyond (ARCHITECTURE.md), while more only steal cores from onnxruntime.
   */
  readonly maxConcurrentDecodes?: number;
  /** Serve the files of this folder at / (the web page). */
  readonly webRoot?: string;
  /**
   * The path a reverse proxy publishes the server under and passes on (`/graft`): a request under it is routed without
   * it (one without it still answers), `/graft` itself redirects to `/graft/`, and `url` ends with it.
   */
  readonly basePath?: string;
  /** Also serve the training dashboard (`graft serve --train`) at /dashboard/, with its data in this folder. */
  readonly dashboard?: DashboardOptions;
  /** Reload a model when its graft.json or model.onnx changes. Defaults to true. */
  readonly watch?: boolean;
  /** How often model files are polled for changes. Defaults to 1000 ms. */
  readonly reloadPollMs?: number;
  /**
   * Called once per answered request, probes included, with what an access log line says (the CLI prints it, see
   * `--log`). Never given a header, the query string or a body.
   */
  readonly accessLog?: (entry: AccessLogEntry) => void;
  /** Reloads and failed reloads (the CLI prints them). */
  readonly onEvent?: (event: ModelRegistryEvent) => void;
}

/** A running server. */
export interface GraftServer {
  /** e.g. http://127.0.0.1:8080 */
  readonly url: string;
  /** The served model names. */
  readonly models: readonly string[];
  readonly app: FastifyInstance;
  /** The token requests need (the one given, or the dashboard's generated one); undefined when none does. */
  readonly token: string | undefined;
  /**
   * Shuts down for a rolling update or scale-in: /readyz answers 503 at once (so a load balancer stops sending
   * traffic), requests keep being served for `readinessDelayMs`, then the server stops taking connections, lets the
   * requests in flight finish, and releases the models.
   * @param options.readinessDelayMs - how long to keep serving after /readyz turns 503. Defaults to 0.
   */
  close(options?: { readonly readinessDelayMs?: number }): Promise<void>;
}

export const DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024;
export const DEFAULT_MAX_PIXELS = 40_000_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/**
 * Loads the models and serves them over HTTP: `POST /v1/models/:name/predict`, `GET /v1/models[/:name]`,
 * `/healthz`, `/readyz`, `/metrics`, `/openapi.json` (the API's OpenAPI 3.1 description), and the web page when
 * `webRoot` is given.
 *
 * @throws GraftError INVALID_CONFIG / INVALID_MODEL_DIR before listening when a directory or name is bad.
 * @example
 * const server = await startServer({ models: ['./bees-model'], port: 0 });
 * await fetch(`${server.url}/v1/models/bees-model/predict`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: jpeg });
 * await server.close();
 */
export async function startServer(options: ServeOptions): Promise<GraftServer> {
  const maxUploadBytes = positive('maxUploadBytes', options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES);
  const maxPixels = positive('maxPixels', options.maxPixels ?? DEFAULT_MAX_PIXELS);
  const requestTimeoutMs = positive('requestTimeoutMs', options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
  const maxImagesPerRequest = positive('maxImagesPerRequest', options.maxImagesPerRequest ?? 64);
  // The dashboard hands out the server's files and trains on them: it never runs without a token.
  const tokenValue = options.token !== undefined ? checkToken(options.token, 'the token option') : options.dashboard ? generateToken() : undefined;
  const isOpenApi = options.token === undefined;
  const basePath = checkBasePath(options.basePath, 'the basePath option');
  for (const origin of options.corsOrigins ?? []) {
    // Browsers send Origin as scheme://host[:port], nothing more: anything else would never match.
    if (!/^https?:\/\/[^/\s?#]+$/.test(origin)) {
      throw new GraftError('INVALID_CONFIG', `A CORS origin is scheme://host[:port], without a path or a trailing slash. Received: ${JSON.stringify(origin)}`, { hint: 'e.g. --cors https://app.example.com' });
    }
  }
  if (options.webRoot !== undefined && !statSync(options.webRoot, { throwIfNoEntry: false })?.isDirectory()) {
    throw new GraftError('INVALID_CONFIG', `The web folder ${options.webRoot} does not exist or is not a folder`, {
      hint: 'pass the folder `graft export <model-dir> --to web` wrote, or leave --web out for the built-in upload page',
    });
  }
  const metrics = new ServerMetrics();
  const registry = await ModelRegistry.open({
    models: options.models,
    names: options.names,
    maxBatch: options.maxBatch,
    batchWindowMs: options.batchWindowMs,
    watch: options.watch,
    reloadPollMs: options.reloadPollMs,
    onEvent: options.onEvent,
    onBatch: (model, size, seconds) => metrics.observeBatch(model, size, seconds),
    onReload: (model, isOk) => metrics.observeReload(model, isOk),
  });
  let app: FastifyInstance | undefined;
  // Shutting down: readiness fails first, while everything else is still served (see GraftServer.close), and every
  // answer from then on closes its connection, so a kept-alive client does not send its next request on a
  // connection about to be closed under it.
  let isDraining = false;
  try {
    app = await createApp({
      isDraining: () => isDraining,
      // base64 in JSON is 4/3 of the bytes.
      bodyLimit: jsonBodyLimit(maxUploadBytes),
      // Time to receive a whole request (slow uploads); the handler has its own deadline.
      requestTimeoutMs,
      // One file more than allowed reaches readMultipart, whose error names the limit (busboy's says "reach files limit").
      multipartLimits: { fileSize: maxUploadBytes, files: maxImagesPerRequest + 1, fields: 8, parts: maxImagesPerRequest + 9 },
      metrics,
      access: {
        ...(tokenValue === undefined ? {} : { token: new AccessToken(tokenValue) }),
        isProtected: (path) => (isOpenApi ? isDashboardPath(path) : !isProbePath(path)),
        allowedHosts: options.allowedHosts ?? [],
      },
      corsOrigins: options.corsOrigins ?? [],
      isCorsPath: (path) => path.startsWith('/v1/models') || path === OPENAPI_PATH,
      ...(options.dashboard ? { storageDir: resolve(options.dashboard.dataDir) } : {}),
      ...(options.accessLog ? { accessLog: options.accessLog } : {}),
      ...(basePath === undefined ? {} : { basePath }),
    });
    acceptRawImages(app, maxUploadBytes);

    app.addHook('onRequest', async (request, reply) => {
      if (isDraining && request.url.split('?')[0] === '/readyz') {
        return reply.code(503).send({ status: 'shutting down', models: registry.names });
      }
    });

    registerApiRoutes(app, {
      registry,
      metrics,
      maxUploadBytes,
      maxPixels,
      maxImagesPerRequest,
      requestTimeoutMs,
      defaultTopK: 5,
      // Up to four full batches wait to be decoded; past that a request is 503 BUSY at once, not minutes later.
      decodeLimiter: new ConcurrencyLimiter(positive('maxConcurrentDecodes', options.maxConcurrentDecodes ?? 4), 4 * maxImagesPerRequest),
      isTokenRequired: !isOpenApi,
      ...(basePath === undefined ? {} : { basePath }),
    });
    if (options.dashboard) registerDashboardRoutes(app, { predictLimits: { maxUploadBytes, maxPixels }, ...options.dashboard });
    if (options.webRoot) registerStaticFiles(app, options.webRoot);

    const url = await listenOn(app, options.port ?? 8080, options.host ?? '127.0.0.1');
    let closing: Promise<void> | undefined;
    const started = app;
    return {
      url: `${normaliseUrl(url)}${basePath ?? ''}`,
      models: registry.names,
      app,
      token: tokenValue,
      close: (closeOptions = {}) =>
        (closing ??= (async () => {
          isDraining = true;
          const delayMs = closeOptions.readinessDelayMs ?? 0;
          if (delayMs > 0) await new Promise((resolveDelay) => setTimeout(resolveDelay, delayMs));
          // Once closing, node no longer times requests out: a client stalled mid-upload would hold the shutdown for
          // ever. Past the time a whole request may take, the connections still open are cut.
          const cut = setTimeout(() => started.server.closeAllConnections(), requestTimeoutMs);
          try {
            await takeWaitingConnections(started.server);
            await started.close();
          } finally {
            clearTimeout(cut);
          }
          await registry.close();
        })()),
    };
  } catch (error) {
    await app?.close().catch(() => undefined);
    await registry.close();
    throw error;
  }
}

/**
 * Takes the connections the kernel has completed but node has not accepted yet, before the listener closes: closing
 * it resets them, and their clients sent requests before the shutdown (QA: 60 of 80 reset on a busy server). Node
 * takes about one a turn of the event loop, so the loop is turned until a turn takes none (at most a second).
 */
async function takeWaitingConnections(server: FastifyInstance['server']): Promise<void> {
  let taken = 0;
  const count = (): void => void taken++;
  server.on('connection', count);
  try {
    const until = Date.now() + 1_000;
    for (let before = -1; taken !== before && Date.now() < until; ) {
      before = taken;
      await new Promise((resolveTurn) => setImmediate(resolveTurn));
    }
  } finally {
    server.off('connection', count);
  }
}

function positive(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) throw new GraftError('INVALID_CONFIG', `${name} must be a positive number. Received: ${value}`);
  return value;
}

/** fastify reports "http://[::1]:port" style addresses; keep 127.0.0.1 readable and IPv6 bracketed. */
function normaliseUrl(url: string): string {
  return url.replace(/\/$/, '');
}
