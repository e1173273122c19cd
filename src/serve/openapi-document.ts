import { createRequire } from 'node:module';
import { batchPredictionReply, errorReply, healthReply, jsonPredictBody, modelList, modelName, modelSummary, singlePredictionReply, topKQuery } from './api-schemas.js';
import { errorCodesFor } from './error-mapping.js';
import { RAW_IMAGE_MEDIA_TYPES } from './image-input.js';

/** Where `graft serve` publishes the document. */
export const OPENAPI_PATH = '/openapi.json';

/** A JSON Schema (draft 2020-12, which OpenAPI 3.1 uses): the route schemas of api-schemas.ts. */
export type JsonSchema = Readonly<Record<string, unknown>>;

export interface Reference {
  readonly $ref: string;
}

export interface MediaTypeObject {
  readonly schema: JsonSchema;
  readonly encoding?: Readonly<Record<string, { readonly contentType: string }>>;
}

export type Content = Readonly<Record<string, MediaTypeObject>>;

export interface ResponseObject {
  readonly description: string;
  readonly content?: Content;
}

export interface ParameterObject {
  readonly name: string;
  readonly in: 'path' | 'query';
  readonly required: boolean;
  readonly description?: string;
  readonly schema: JsonSchema;
}

/** `[]`: no credentials needed; `[{ bearerAuth: [] }]`: the token. */
export type SecurityRequirement = Readonly<Record<string, readonly string[]>>;

export interface OperationObject {
  readonly operationId: string;
  readonly summary: string;
  readonly description?: string;
  readonly parameters?: readonly ParameterObject[];
  readonly requestBody?: { readonly required: boolean; readonly description: string; readonly content: Content };
  readonly responses: Readonly<Record<string, ResponseObject | Reference>>;
  readonly security?: readonly SecurityRequirement[];
}

export type HttpMethod = 'get' | 'post';

export type PathItem = Partial<Readonly<Record<HttpMethod, OperationObject>>>;

export interface OpenApiDocument {
  readonly openapi: '3.1.0';
  readonly info: { readonly title: string; readonly version: string; readonly description: string };
  readonly servers?: readonly { readonly url: string; readonly description: string }[];
  readonly paths: Readonly<Record<string, PathItem>>;
  readonly components: {
    readonly schemas: Readonly<Record<string, JsonSchema>>;
    readonly responses: Readonly<Record<string, ResponseObject>>;
    readonly securitySchemes?: Readonly<Record<string, { readonly type: 'http'; readonly scheme: 'bearer'; readonly description: string }>>;
  };
  readonly security?: readonly SecurityRequirement[];
}

export interface OpenApiOptions {
  /** The models served now: the `name` parameter's enum (models can reload, so the document is built per request). */
  readonly modelNames: readonly string[];
  /** Started with a token: every path but /healthz and /readyz needs `Authorization: Bearer <token>`. */
  readonly isTokenRequired: boolean;
  /** `--base-path`: the API's server is that path on the document's host (a proxy passes it on). */
  readonly basePath?: string;
  /**
   * The path a proxy that cuts it off says it publishes the server under (its `X-Forwarded-Prefix` header, checked as
   * a path): the server, where there is no `basePath`.
   */
  readonly forwardedPrefix?: string;
}

/** The error statuses the API answers with, and when (README's error table). */
const ERROR_STATUSES = {
  400: 'Malformed request: a URL that cannot be decoded, broken JSON, a malformed multipart body, a field of the wrong type or value (the message names it), a corrupt image.',
  401: 'The access token is missing or wrong: send `Authorization: Bearer <token>`.',
  403: 'A host name the server does not answer to, or a state change from a page of another site.',
  404: 'No model by that name (GET /v1/models lists them).',
  405: 'Predictions are made with POST.',
  408: 'The request was not received in time.',
  413: 'The upload is larger than the limit, has too many images, or an image has too many pixels (checked from its header before decoding).',
  414: 'A part of the URL (the model name) is too long.',
  415: 'Not an image (by its bytes), or a body of another content type.',
  431: 'The request line or headers are larger than 16 KB.',
  500: "A fault of the server: the message says only that and names the request id, under which the server's log has the details.",
  503: '`TIMEOUT`: the request took longer than the server allows; `BUSY`: too many images already wait to be decoded. Retry later.',
} as const;

type ErrorStatus = keyof typeof ERROR_STATUSES;

/** What any request may meet before it reaches its route: the host check, a slow or oversized request, a crash. */
const ANY_ROUTE_ERRORS: readonly ErrorStatus[] = [403, 408, 431, 500];
/** What a `{name}` in the path adds: a name that cannot be decoded, is too long, or is not served. */
const NAMED_ROUTE_ERRORS: readonly ErrorStatus[] = [400, 404, 414];

const VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

/**
 * The OpenAPI 3.1 description of `graft serve`'s HTTP API (not the dashboard's routes, nor the web page's files),
 * for generating a client (openapi-generator) or trying requests in a tool. Its schemas are the route schemas
 * fastify validates and serialises with (api-schemas.ts).
 */
export function openApiDocument(options: OpenApiOptions): OpenApiDocument {
  // /healthz and /readyz never answer 401, whatever the token.
  const errors = (statuses: readonly ErrorStatus[], isPublic = false): Record<string, Reference> =>
    Object.fromEntries(
      [...new Set([...statuses, ...ANY_ROUTE_ERRORS, ...(options.isTokenRequired && !isPublic ? [401 as const] : [])])]
        .sort((a, b) => a - b)
        .map((status) => [String(status), { $ref: `#/components/responses/Error${status}` }]),
    );
  const json = (schema: JsonSchema): Content => ({ 'application/json': { schema } });
  const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
  const nameParameter: ParameterObject = {
    name: 'name',
    in: 'path',
    required: true,
    description: 'a served model (the list is as of this request: models can be reloaded)',
    schema: { ...modelName, enum: [...options.modelNames] },
  };
  const health = (operationId: string, summary: string, extra: Record<string, ResponseObject> = {}): OperationObject => ({
    operationId,
    summary,
    ...(options.isTokenRequired ? { security: [] } : {}),
    responses: { 200: { description: summary, content: json(ref('Health')) }, ...extra, ...errors([], true) },
  });

  return {
    openapi: '3.1.0',
    info: {
      title: 'Graft prediction API',
      version: VERSION,
      description:
        'Image classification with the models `graft serve` was started with. Every error is JSON `{"error": {"code", "message", "hint"?}}`.' +
        (options.isTokenRequired ? ' Every path but /healthz and /readyz needs `Authorization: Bearer <token>`.' : ''),
    },
    // Relative to the document's address, as OpenAPI allows: a client generated from it through the proxy calls there.
    ...(options.basePath !== undefined
      ? { servers: [{ url: options.basePath, description: 'the path the server is published under (--base-path)' }] }
      : options.forwardedPrefix !== undefined
        ? { servers: [{ url: options.forwardedPrefix, description: 'the path the proxy in front publishes the server under (its X-Forwarded-Prefix)' }] }
        : {}),
    paths: {
      '/v1/models/{name}/predict': {
        post: {
          operationId: 'predict',
          summary: 'Classify one image, or a batch',
          description:
            'The image comes as multipart field `image` (repeat the field for a batch), as a raw body with an image content type, or as JSON `{"image": "<base64>"}` / `{"images": [...]}`. One image gets `predictions` and `timing_ms`; a batch gets `results`, one per image, in order.',
          parameters: [nameParameter, { name: 'top_k', in: 'query', required: false, description: `${topKQuery.description} (default 5)`, schema: topKQuery }],
          requestBody: {
            required: true,
            description: 'the image(s), in one of three forms',
            content: {
              'multipart/form-data': {
                schema: {
                  type: 'object',
                  required: ['image'],
                  properties: {
                    image: { type: 'array', items: { type: 'string', contentMediaType: 'application/octet-stream' }, minItems: 1, description: 'one image file, or several for a batch' },
                    top_k: topKQuery,
                  },
                },
                encoding: { image: { contentType: 'image/*, application/octet-stream' } },
              },
              ...Object.fromEntries(RAW_IMAGE_MEDIA_TYPES.map((type) => [type, { schema: { type: 'string', contentMediaType: type } }])),
              'application/json': { schema: ref('PredictRequest') },
            },
          },
          responses: {
            200: { description: 'the top labels with their probabilities, and timings in milliseconds', content: json({ oneOf: [ref('Prediction'), ref('BatchPrediction')] }) },
            ...errors([...NAMED_ROUTE_ERRORS, 413, 415, 503]),
          },
        },
        // A browser address bar GETs it: the answer says to POST.
        get: { operationId: 'predictWithGet', summary: 'Always 405: predictions are made with POST', parameters: [nameParameter], responses: errors([400, 405, 414]) },
      },
      '/v1/models': {
        get: { operationId: 'listModels', summary: 'The served models: labels, preprocessing, metrics', responses: { 200: { description: 'every served model', content: json(ref('ModelList')) }, ...errors([]) } },
      },
      '/v1/models/{name}': {
        get: {
          operationId: 'getModel',
          summary: 'One model: labels, preprocessing, metrics, cross-validated accuracy',
          parameters: [nameParameter],
          responses: { 200: { description: 'the model', content: json(ref('ModelSummary')) }, ...errors(NAMED_ROUTE_ERRORS) },
        },
      },
      '/healthz': { get: health('health', 'Liveness: the process answers') },
      '/readyz': { get: health('ready', 'Readiness: the models are loaded', { 503: { description: 'not ready, or shutting down (from the moment of SIGTERM)', content: json(ref('Health')) } }) },
      '/metrics': {
        get: {
          operationId: 'metrics',
          summary: 'Prometheus metrics: request counts, latency and batch-size histograms',
          responses: { 200: { description: 'the Prometheus text format, version 0.0.4', content: { 'text/plain': { schema: { type: 'string' } } } }, ...errors([]) },
        },
      },
      [OPENAPI_PATH]: {
        get: {
          operationId: 'openApi',
          summary: 'This document',
          responses: { 200: { description: 'the OpenAPI 3.1 description of this API', content: json({ type: 'object', required: ['openapi', 'info', 'paths'] }) }, ...errors([]) },
        },
      },
    },
    components: {
      schemas: {
        PredictRequest: jsonPredictBody,
        Prediction: singlePredictionReply,
        BatchPrediction: batchPredictionReply,
        ModelSummary: modelSummary,
        ModelList: { ...modelList, properties: { models: { type: 'array', items: ref('ModelSummary') } } },
        Health: healthReply,
        Error: errorReply,
      },
      responses: Object.fromEntries(
        (Object.keys(ERROR_STATUSES).map(Number) as ErrorStatus[]).map((status) => [
          `Error${status}`,
          {
            description: ERROR_STATUSES[status],
            content: json({ $ref: '#/components/schemas/Error', properties: { error: { properties: { code: { enum: errorCodesFor(status) } } } } }),
          },
        ]),
      ),
      ...(options.isTokenRequired ? { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'the token the server was started with (--token or GRAFT_TOKEN)' } } } : {}),
    },
    ...(options.isTokenRequired ? { security: [{ bearerAuth: [] }] } : {}),
  };
}
