import { basename } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { noteAccess } from './access-log.js';
import type { ConcurrencyLimiter } from './concurrency-limiter.js';
import { cvEstimate, type ModelManifest } from '../model/manifest.js';
import { getModelSchema, healthSchema, listModelsSchema, predictSchema } from './api-schemas.js';
import { checkJsonBody, JSON_TYPE, parseTopK, readImageInputs, refuseOversizeBody } from './image-input.js';
import type { ModelRegistry } from './model-registry.js';
import type { ModelVersion } from './model-version.js';
import { forwardedPrefixOf } from './base-path.js';
import { openApiDocument, OPENAPI_PATH } from './openapi-document.js';
import { predictImages } from './predict-images.js';
import { ServeError } from './serve-error.js';
import { closeWhenAnswered } from './close-after-reading.js';
import type { ServerMetrics } from './server-metrics.js';

/** What the routes need from the server; all limits already resolved to numbers. */
export interface ApiContext {
  readonly registry: ModelRegistry;
  readonly metrics: ServerMetrics;
  readonly maxUploadBytes: number;
  readonly maxPixels: number;
  readonly maxImagesPerRequest: number;
  readonly requestTimeoutMs: number;
  readonly defaultTopK: number;
  readonly decodeLimiter: ConcurrencyLimiter;
  /** Started with a token: the OpenAPI document then declares the bearer scheme. */
  readonly isTokenRequired: boolean;
  /** `--base-path`: the OpenAPI document names it as its server. */
  readonly basePath?: string;
}

/** Registers the JSON API. Routes stay thin: parse, call the library, shape the reply. */
export function registerApiRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/healthz', { schema: healthSchema }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: healthSchema }, async (_request, reply) => {
    const isReady = ctx.registry.isReady;
    return reply.code(isReady ? 200 : 503).send({ status: isReady ? 'ready' : 'not ready', models: ctx.registry.names });
  });

  app.get('/metrics', async (_request, reply) =>
    reply.type('text/plain; version=0.0.4; charset=utf-8').send(ctx.metrics.render(ctx.registry.size)),
  );

  // Protected like /v1/models (with a token, it needs the token): it lists the same model names.
  app.get(OPENAPI_PATH, async (request, reply) => {
    // A proxy that cuts its path off may say what it was (Traefik's StripPrefix does, nginx when told to). Only a path
    // is taken, never a host, and it reaches only this answer: a client that sends its own gets its own document.
    const forwardedPrefix = ctx.basePath === undefined ? forwardedPrefixOf(request.headers['x-forwarded-prefix']) : undefined;
    void reply.header('vary', 'X-Forwarded-Prefix');
    return openApiDocument({ modelNames: ctx.registry.names, isTokenRequired: ctx.isTokenRequired, ...(ctx.basePath === undefined ? {} : { basePath: ctx.basePath }), ...(forwardedPrefix === undefined ? {} : { forwardedPrefix }) });
  });

  app.get('/v1/models', { schema: listModelsSchema }, async () => ({
    models: ctx.registry.names.map((name) => modelSummary(name, ctx.registry.describe(name).version)),
  }));

  app.get<{ Params: { name: string } }>('/v1/models/:name', { schema: getModelSchema }, async (request) =>
    modelSummary(request.params.name, ctx.registry.describe(request.params.name).version),
  );

  // A browser address bar or a mistyped client GETs the predict route: say to POST, rather than "no such file". (Other
  // methods get createApp's 405.)
  app.get('/v1/models/:name/predict', { config: { onlyRefusesMethod: true } }, async (_request, reply) => {
    void reply.header('allow', 'POST');
    throw new ServeError('METHOD_NOT_ALLOWED', 'Predictions are made with POST: send the image in the body.', {
      hint: 'POST multipart with a file field "image", a raw image body, or JSON { "image": "<base64>" }',
    });
  });

  const bodyLimits = { maxUploadBytes: ctx.maxUploadBytes, maxImages: ctx.maxImagesPerRequest };
  app.post<{ Params: { name: string }; Querystring: { top_k?: unknown } }>(
    '/v1/models/:name/predict',
    {
      schema: predictSchema,
      preParsing: async (request, reply, payload) => {
        await refuseOversizeBody(request.headers, payload, bodyLimits, () => closeWhenAnswered(reply));
        return payload;
      },
      // Before the schema, which would coerce a number to a string: a JSON body of the wrong shape is a 400 naming
      // the field, not a "file that is not an image".
      preValidation: async (request) => {
        if (JSON_TYPE.test(request.headers['content-type'] ?? '')) checkJsonBody(request.body);
      },
    },
    async (request, reply) => {
      // Resolve the model before reading the body, so an unknown name is a 404 whatever was uploaded.
      const version = ctx.registry.acquire(request.params.name);
      noteAccess(request, { model: request.params.name });
      // Aborted once nobody waits for the answer: the deadline answered 503, or the client hung up. The images not
      // decoded yet then leave the queue instead of delaying every later request.
      const abandoned = new AbortController();
      const onClose = (): void => {
        if (!reply.raw.writableFinished) abandoned.abort(new ServeError('REQUEST_TIMEOUT', 'The client closed the connection.'));
      };
      reply.raw.once('close', onClose);
      try {
        return await withDeadline(ctx.requestTimeoutMs, abandoned, async () => {
          const queryTopK = parseTopK(request.query.top_k);
          const inputs = await readImageInputs(request, bodyLimits);
          noteAccess(request, { images: inputs.images.length });
          const topK = inputs.topK ?? queryTopK ?? ctx.defaultTopK;
          const results = await predictImages(version, inputs.images, { topK, maxPixels: ctx.maxPixels, decodeLimiter: ctx.decodeLimiter, signal: abandoned.signal });
          return inputs.isBatch ? { model: request.params.name, results } : { model: request.params.name, ...results[0]! };
        });
      } finally {
        reply.raw.off('close', onClose);
        version.release();
      }
    },
  );
}

function modelSummary(name: string, version: ModelVersion): Record<string, unknown> {
  const m: ModelManifest = version.manifest;
  return {
    name,
    labels: m.labels,
    preprocessing: m.preprocessing,
    backbone: { name: m.backbone.name, source: publicSource(m.backbone.source), format: m.backbone.format, sha256: m.backbone.sha256 },
    metrics: m.metrics,
    cv: cvEstimate(m),
    testTimeAugmentation: m.onnx.tta ?? null,
    images: m.training?.outcome.images ? { train: m.training.outcome.images.train, val: m.training.outcome.images.val, skipped: m.training.outcome.images.skipped } : undefined,
    created: m.created,
    loaded_at: version.loadedAt.toISOString(),
  };
}

/**
 * Where the backbone came from, as far as a client needs to know: a catalogue or npm id or a URL (without
 * credentials or query) as recorded, but only the file name of a path on the machine that trained the model.
 */
export function publicSource(source: string): string {
  if (/^npm:|^[a-z0-9_]+$/i.test(source)) return source;
  if (/^https?:\/\//i.test(source)) {
    try {
      const url = new URL(source);
      return `${url.origin}${url.pathname}`;
    } catch {
      return basename(source);
    }
  }
  return basename(source.replace(/\\/g, '/'));
}

/**
 * Runs `work` but answers 503 TIMEOUT after `timeoutMs`, and then aborts `abandoned` so the work stops where it can.
 * A raw or JSON body has been received by then (bounded by the server's requestTimeout); a multipart body is read
 * inside `work`, so it counts.
 */
async function withDeadline<T>(timeoutMs: number, abandoned: AbortController, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new ServeError('TIMEOUT', `The request took longer than ${timeoutMs} ms.`, { hint: 'retry later; the server is busy or the image is very large' });
      abandoned.abort(error);
      reject(error);
    }, timeoutMs);
  });
  const running = work();
  // The work may still fail after the deadline answered; that failure has nobody to report to.
  running.catch(() => undefined);
  try {
    return await Promise.race([running, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

