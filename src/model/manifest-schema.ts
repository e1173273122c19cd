import type { ErrorObject } from 'ajv';
import { validate as validateGenerated } from './manifest-validate.generated.js';

/**
 * What a loader relies on in `graft.json` (the rest is a record for people): the labels, the preprocessing that
 * decodes images, the ONNX file and its tensor names. Checked before anything is used, so a damaged or
 * hand-edited manifest is one clear error, never a crash deep in the decoder or onnxruntime.
 *
 * The schema is manifest-schema.json; scripts/generate.mjs compiles it with ajv into standalone code at build time,
 * so no command loads or compiles ajv (that took ~90 ms of every `graft predict`, `eval` and `serve` start).
 */
const validateManifest = validateGenerated as ((value: unknown) => boolean) & { errors?: ErrorObject[] | null };

/** The first problem of a manifest as "<where> <what is wrong>. Received: <value>", or undefined when it is fine. */
export function manifestProblem(value: unknown): string | undefined {
  if (validateManifest(value)) return undefined;
  const error = validateManifest.errors?.[0];
  if (!error) return 'is not a valid manifest';
  const where = error.instancePath ? error.instancePath.slice(1).replace(/\//g, '.') : 'the manifest';
  const received = error.instancePath.split('/').slice(1).reduce<unknown>((v, key) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined), value);
  const shown = JSON.stringify(received) ?? 'undefined';
  const what = error.keyword === 'pattern' ? 'must be a plain file name in the model directory' : (error.message ?? 'is invalid');
  return `${where} ${what}${error.params && 'allowedValues' in error.params ? ` (${(error.params.allowedValues as unknown[]).join(', ')})` : ''}. Received: ${shown.length > 80 ? `${shown.slice(0, 80)}...` : shown}`;
}

