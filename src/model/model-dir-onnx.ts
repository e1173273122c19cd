import { readFile } from 'node:fs/promises';
import { GraftError } from '../core/errors.js';
import { hasMirrorTta, unwrapMirrorTta } from '../onnx/mirror-tta.js';
import { decodeOnnxModel, encodeOnnxModel, graphInputs, graphOf, valueShape, type ModelProto } from '../onnx/onnx-model.js';
import type { ModelManifest } from './manifest.js';

/** What a model directory's files are called, for the messages. */
interface ModelDirFiles {
  readonly manifestPath: string;
  readonly onnxPath: string;
}

const OUT_OF_STEP_HINT = 'graft.json and model.onnx come from different trainings, or one was edited; copy the whole model directory again, or train again';

/**
 * model.onnx decoded and checked against what graft.json says of it: its input and probabilities output by name, one
 * probability per label, the layout and side of its input, and its mirror test-time augmentation. Exports that rebuild the model from these facts
 * read it here, so that a directory edited by hand (or half copied) fails naming its files, before anything is
 * converted or written, instead of deep in a conversion of a working copy or as a model that answers differently.
 *
 * @throws GraftError INVALID_MODEL_DIR naming model.onnx (and graft.json when the two disagree).
 */
export async function readModelDirOnnx(manifest: ModelManifest, files: ModelDirFiles): Promise<{ bytes: Uint8Array; model: ModelProto }> {
  const { onnxPath, manifestPath } = files;
  const bytes = await readFile(onnxPath);
  let model: ModelProto;
  try {
    model = decodeOnnxModel(bytes, onnxPath);
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new GraftError('INVALID_MODEL_DIR', why, { cause, hint: 'the model directory was damaged (a truncated copy?); copy it again, or train again' });
  }
  const graph = graphOf(model);
  const disagree = (what: string): GraftError => new GraftError('INVALID_MODEL_DIR', `${onnxPath} does not match ${manifestPath}: ${what}`, { hint: OUT_OF_STEP_HINT });
  const io = manifest.onnx;
  const input = graphInputs(graph).find((v) => v.name === io.input);
  if (!input) throw disagree(`graft.json names the input "${io.input}"; model.onnx's inputs are ${names(graphInputs(graph))}`);
  const probabilities = (graph.output ?? []).find((v) => v.name === io.probabilities);
  if (!probabilities) throw disagree(`graft.json names the output "${io.probabilities}"; model.onnx's outputs are ${names(graph.output ?? [])}`);
  // A label more or less would shift or drop classes in whatever names outputs by labels (the exports' metadata).
  const classes = valueShape(probabilities)?.[1];
  if (classes !== undefined && classes !== null && classes !== manifest.labels.length) {
    throw disagree(`model.onnx outputs ${classes} probabilities but graft.json lists ${manifest.labels.length} labels (${manifest.labels.map((l) => JSON.stringify(l)).join(', ')})`);
  }
  const pre = manifest.preprocessing;
  const shape = valueShape(input);
  if (shape?.length === 4) {
    const [channels, height, width] = pre.layout === 'nchw' ? [shape[1], shape[2], shape[3]] : [shape[3], shape[1], shape[2]];
    if (channels !== null && channels !== 3) throw disagree(`its input is ${describeShape(shape)}, which is not ${pre.layout.toUpperCase()} RGB as graft.json's layout says`);
    for (const side of [height, width]) {
      if (side !== null && side !== pre.inputSize) throw disagree(`its input is ${describeShape(shape)} but graft.json's inputSize is ${pre.inputSize}`);
    }
  }
  const mirrored = hasMirrorTta(model);
  if (mirrored !== (io.tta === 'mirror')) {
    throw disagree(mirrored ? 'model.onnx averages each image with its mirror image, which graft.json does not record (onnx.tta)' : 'graft.json records a mirror test-time augmentation (onnx.tta) that model.onnx does not have');
  }
  return { bytes, model };
}

/**
 * The classifier a layers model can hold: model.onnx's bytes without its mirror test-time augmentation (as they are
 * when it has none), for an export that rebuilds the mirror itself (the Teachable Machine export builds it behind its
 * own input layers).
 */
export function classifierOnnxBytes(onnx: { readonly bytes: Uint8Array; readonly model: ModelProto }, io: ModelManifest['onnx']): Uint8Array {
  return io.tta === 'mirror' ? encodeOnnxModel(unwrapMirrorTta(onnx.model, io)) : onnx.bytes;
}

function names(values: readonly { name?: string | null }[]): string {
  return values.map((v) => JSON.stringify(v.name ?? '')).join(', ') || 'none';
}

function describeShape(shape: readonly (number | null)[]): string {
  return `[${shape.map((d) => d ?? '?').join(', ')}]`;
}
