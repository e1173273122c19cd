import { createRequire } from 'node:module';
import type { Ajv as AjvClass, ValidateFunction } from 'ajv';

/** A plain file name inside the model directory: no folder separators, no `..`, not hidden. */
const FILE_NAME = { type: 'string', pattern: '^(?!\\.)[^/\\\\\\u0000]{1,255}$' } as const;
const NAME = { type: 'string', minLength: 1, maxLength: 4096 } as const;
const TRIPLE = { type: 'array', minItems: 3, maxItems: 3, items: { type: 'number' } } as const;

/**
 * What a loader relies on in `graft.json` (the rest is a record for people): the labels, the preprocessing that
 * decodes images, the ONNX file and its tensor names. Checked before anything is used, so a damaged or
 * hand-edited manifest is one clear error, never a crash deep in the decoder or onnxruntime.
 */
const MANIFEST_SCHEMA = {
  type: 'object',
  required: ['format', 'version', 'labels', 'preprocessing', 'files', 'onnx'],
  properties: {
    format: { const: 'graft-model' },
    version: { enum: [1, 2] },
    labels: { type: 'array', minItems: 2, maxItems: 100_000, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 1000 } },
    preprocessing: {
      type: 'object',
      required: ['inputSize', 'resize', 'scale', 'mean', 'std', 'layout'],
      properties: {
        inputSize: { type: 'integer', minimum: 16, maximum: 2048 },
        resize: { enum: ['center-crop', 'stretch'] },
        interpolation: { enum: ['bilinear', 'lanczos3'] },
        scale: { enum: ['imagenet', '-1..1', '0..1'] },
        mean: TRIPLE,
        std: { ...TRIPLE, items: { type: 'number', exclusiveMinimum: 0 } },
        layout: { enum: ['nchw', 'nhwc'] },
        channels: { const: 'rgb' },
      },
    },
    files: { type: 'object', required: ['onnx'], properties: { onnx: FILE_NAME, headWeights: FILE_NAME } },
    onnx: { type: 'object', required: ['input', 'probabilities'], properties: { input: NAME, probabilities: NAME, features: NAME } },
    backbone: { type: 'object', properties: { name: { type: 'string' }, source: { type: 'string' }, format: { type: 'string' }, sha256: { type: 'string' } } },
  },
} as const;

// Loaded and compiled on first use (~70 ms): commands that only write a model directory, such as `graft train`,
// never pay it. ajv is CommonJS, so a synchronous require keeps manifestProblem synchronous.
let compiled: ValidateFunction | undefined;

/** The first problem of a manifest as "<where> <what is wrong>. Received: <value>", or undefined when it is fine. */
export function manifestProblem(value: unknown): string | undefined {
  const validate = (compiled ??= newAjv().compile(MANIFEST_SCHEMA));
  if (validate(value)) return undefined;
  const error = validate.errors?.[0];
  if (!error) return 'is not a valid manifest';
  const where = error.instancePath ? error.instancePath.slice(1).replace(/\//g, '.') : 'the manifest';
  const received = error.instancePath.split('/').slice(1).reduce<unknown>((v, key) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined), value);
  const shown = JSON.stringify(received) ?? 'undefined';
  const what = error.keyword === 'pattern' ? 'must be a plain file name in the model directory' : (error.message ?? 'is invalid');
  return `${where} ${what}${error.params && 'allowedValues' in error.params ? ` (${(error.params.allowedValues as unknown[]).join(', ')})` : ''}. Received: ${shown.length > 80 ? `${shown.slice(0, 80)}...` : shown}`;
}

function newAjv(): AjvClass {
  const { Ajv } = createRequire(import.meta.url)('ajv') as { Ajv: typeof AjvClass };
  return new Ajv({ allErrors: false, strict: false });
}
