import { MAX_TOP_K } from './image-input.js';

/** JSON schemas for the API's requests and replies (fastify validates the first and serialises the second). */

const errorReply = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, hint: { type: 'string' } },
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

const modelSummary = {
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

const nameParams = { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1 } } } as const;

export const predictSchema = {
  params: nameParams,
  // Digits only (Ajv would coerce "0x1" or "1e0" to 1): the bounds are checked with the body forms' (image-input.ts).
  querystring: { type: 'object', properties: { top_k: { type: 'string', pattern: '^[0-9]+$', description: `labels per image, 1 to ${MAX_TOP_K}` } } },
  // Multipart and raw image bodies are not JSON; only the JSON form is described here (checked in the handler too).
  body: {
    anyOf: [
      {
        type: 'object',
        properties: {
          image: { type: 'string' },
          images: { type: 'array', items: { type: 'string' }, minItems: 1 },
          top_k: { type: 'integer', minimum: 1, maximum: MAX_TOP_K },
        },
      },
      { not: { type: 'object' } },
    ],
  },
  response: {
    200: {
      type: 'object',
      required: ['model'],
      properties: {
        model: { type: 'string' },
        predictions,
        timing_ms: timing,
        results: { type: 'array', items: { type: 'object', required: ['predictions', 'timing_ms'], properties: { predictions, timing_ms: timing } } },
      },
    },
    ...errorReplies,
  },
} as const;

export const listModelsSchema = {
  response: { 200: { type: 'object', required: ['models'], properties: { models: { type: 'array', items: modelSummary } } }, ...errorReplies },
} as const;

export const getModelSchema = { params: nameParams, response: { 200: modelSummary, ...errorReplies } } as const;

export const healthSchema = {
  response: {
    200: { type: 'object', properties: { status: { type: 'string' }, models: { type: 'array', items: { type: 'string' } } } },
    503: { type: 'object', properties: { status: { type: 'string' }, models: { type: 'array', items: { type: 'string' } } } },
  },
} as const;
