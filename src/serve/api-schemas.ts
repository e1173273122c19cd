import { MAX_TOP_K } from './image-input.js';

/**
 * JSON schemas for the API's requests and replies (fastify validates the first and serialises the second). The
 * OpenAPI document (openapi-document.ts) is built from these same objects.
 */

/** `{ error: { code, message, hint?, requestId? } }`, every error reply. */
export const errorReply = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        hint: { type: 'string' },
        requestId: { type: 'string', description: "the request's X-Request-Id (the client's own, or one the server made): quote it to match a failure with the server's log line" },
      },
    },
  },
} as const;

const errorReplies = { '4xx': errorReply, '5xx': errorReply } as const;

const timing = {
  type: 'object',
  required: ['decode', 'inference', 'total'],
  properties: { decode: { type: 'number' }, inference: { type: 'number' }, total: { type: 'number' } },
} as const;

const predictions = {
  type: 'array',
  items: { type: 'object', required: ['label', 'probability'], properties: { label: { type: 'string' }, probability: { type: 'number' } } },
} as const;

const preprocessing = {
  type: 'object',
  properties: {
    inputSize: { type: 'integer' },
    resize: { type: 'string' },
    interpolation: { type: 'string' },
    scale: { type: 'string' },
    mean: { type: 'array', items: { type: 'number' } },
    std: { type: 'array', items: { type: 'number' } },
    layout: { type: 'string' },
    channels: { type: 'string' },
  },
} as const;

const epochLogs = {
  type: 'object',
  properties: { loss: { type: 'number' }, acc: { type: 'number' }, val_loss: { type: 'number' }, val_acc: { type: 'number' } },
} as const;

export const modelSummary = {
  type: 'object',
  required: ['name', 'labels', 'preprocessing'],
  properties: {
    name: { type: 'string' },
    labels: { type: 'array', items: { type: 'string' } },
    preprocessing,
    backbone: { type: 'object', properties: { name: { type: 'string' }, source: { type: 'string' }, format: { type: 'string' }, sha256: { type: 'string' } } },
    metrics: {
      type: 'object',
      properties: {
        val: {
          type: ['object', 'null'],
          properties: { accuracy: { type: 'number' }, loss: { type: 'number' }, top5: { type: 'number' } },
        },
        history: { type: 'array', items: epochLogs },
      },
    },
    cv: { type: 'object', properties: { accuracy: { type: 'number' }, logLoss: { type: 'number' }, folds: { type: 'integer' } } },
    testTimeAugmentation: { type: ['string', 'null'] },
    images: { type: 'object', properties: { train: { type: 'integer' }, val: { type: 'integer' }, skipped: { type: 'integer' } } },
    created: { type: 'string' },
    loaded_at: { type: 'string' },
  },
} as const;

export const modelName = { type: 'string', minLength: 1 } as const;

const nameParams = { type: 'object', required: ['name'], properties: { name: modelName } } as const;

// Digits only (Ajv would coerce "0x1" or "1e0" to 1), 1 to MAX_TOP_K: what parseTopK (image-input.ts) takes, in every form.
export const topKQuery = { type: 'string', pattern: '^[0-9]+$', description: `labels per image, 1 to ${MAX_TOP_K}` } as const;

/** The JSON form of a predict request; multipart and raw image bodies are not JSON (the handler checks this too). */
export const jsonPredictBody = {
  type: 'object',
  properties: {
    image: { type: 'string', description: 'one image in base64 (a data: URL prefix is accepted)' },
    images: { type: 'array', items: { type: 'string' }, minItems: 1, description: 'a batch: the reply has `results`, one per image, in order' },
    // A number or a string of digits, as in the query and a multipart field (parseTopK).
    top_k: { anyOf: [{ type: 'integer', minimum: 1, maximum: MAX_TOP_K }, { type: 'string', pattern: '^[0-9]+$' }] },
  },
} as const;

const imagePrediction = { type: 'object', required: ['predictions', 'timing_ms'], properties: { predictions, timing_ms: timing } } as const;

/** The reply to one image (a JSON `image`, a raw body, one multipart file). */
export const singlePredictionReply = {
  type: 'object',
  required: ['model', 'predictions', 'timing_ms'],
  properties: { model: { type: 'string' }, ...imagePrediction.properties },
} as const;

/** The reply to a batch (JSON `images`, several multipart files). */
export const batchPredictionReply = {
  type: 'object',
  required: ['model', 'results'],
  properties: { model: { type: 'string' }, results: { type: 'array', items: imagePrediction } },
} as const;

export const predictSchema = {
  params: nameParams,
  // top_k is checked by parseTopK, whose message says what it takes (the schema's would say "must match pattern");
  // the OpenAPI document describes it with topKQuery.
  querystring: { type: 'object' },
  body: { anyOf: [jsonPredictBody, { not: { type: 'object' } }] },
  // Either reply: one object with both forms' fields keeps fastify's serialiser fast (an anyOf would validate each).
  response: {
    200: { type: 'object', required: ['model'], properties: { ...singlePredictionReply.properties, ...batchPredictionReply.properties } },
    ...errorReplies,
  },
} as const;

export const modelList = { type: 'object', required: ['models'], properties: { models: { type: 'array', items: modelSummary } } } as const;

export const listModelsSchema = { response: { 200: modelList, ...errorReplies } } as const;

export const getModelSchema = { params: nameParams, response: { 200: modelSummary, ...errorReplies } } as const;

/** /healthz (`status` only) and /readyz (with the model names), also when /readyz answers 503. */
export const healthReply = {
  type: 'object',
  required: ['status'],
  properties: { status: { type: 'string' }, models: { type: 'array', items: { type: 'string' } } },
} as const;

export const healthSchema = { response: { 200: healthReply, 503: healthReply } } as const;
