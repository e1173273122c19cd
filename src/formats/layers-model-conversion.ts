import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from '../core/atomic-write.js';
import { FEATURE_OUTPUT } from '../onnx/feature-output.js';
import { disposeLayersModel } from '../readers/dispose-layers-model.js';
import { saveLayersModelToDir } from '../readers/save-layers-model.js';
import { loadLayersModelFromDir } from '../readers/tfjs-layers.js';
import { ensureTfjsBackend, warnOnFallback } from '../runtime/tfjs-backend.js';
import { exportLayersModelToOnnx } from '../tfjs-to-onnx/layers-model-to-onnx.js';
import type { ModelFormat } from '../core/model-format.js';
import { assertWithin, CHECK_INPUTS, CHECK_SAMPLES, checkInput, concatenated, maxDiff, outPath, runOnnx } from './conversion-check.js';
import type { ConversionRequest, Converter } from './conversion.js';
import type { ConversionReport, ConvertTarget } from './conversion-report.js';
import { makeDirectory } from '../core/make-directory.js';

/** Loads a format's model as a tfjs layers model; `notes` collects what the report should say about it. */
export type LayersModelLoader = (request: ConversionRequest, notes: string[]) => Promise<tf.LayersModel>;

/**
 * The converters of a format that loads as a tfjs layers model (TF.js layers, Keras .h5): to ONNX (checked in
 * onnxruntime against tfjs) and to a TF.js layers folder (written, reloaded and checked against the source).
 */
export function layersModelConverters(format: ModelFormat, load: LayersModelLoader): Record<ConvertTarget, Converter> {
  return { onnx: (request) => convertLayersModel(format, load, request), tfjs: (request) => convertLayersModel(format, load, request) };
}

async function convertLayersModel(format: ModelFormat, load: LayersModelLoader, request: ConversionRequest): Promise<ConversionReport> {
  await ensureTfjsBackend(warnOnFallback(request.onProgress));
  const notes: string[] = [];
  const out = await outPath(request, request.to);
  const model = await load(request, notes);
  try {
    const inputShape = model.inputs[0]!.shape.slice(1).map((d) => d ?? 224);
    const outputShape = model.outputs[0]!.shape.slice(1).map((d) => d ?? -1);
    const dims = [CHECK_SAMPLES, ...inputShape];
    const x = checkInput(dims);
    const expected = predictAll(model, x, dims);
    let bytes: number;
    let maxAbsDiff: number;
    if (request.to === 'onnx') {
      // One output keeps Graft's feature name; several (Graft's TF.js export: probabilities, features) keep their own.
      const outputNames = model.outputs.length === 1 ? [FEATURE_OUTPUT] : uniqueNames(model.outputs.map((t) => t.sourceLayer.name));
      const onnx = exportLayersModelToOnnx(model, { outputNames });
      if (outputNames.length > 1) notes.push(`${outputNames.length} outputs, each flattened: ${outputNames.map((name, i) => `${name} [${model.outputs[i]!.shape.slice(1).join(', ')}]`).join(', ')}`);
      maxAbsDiff = maxDiff(expected, await runOnnx(onnx, x, dims));
      assertWithin(maxAbsDiff, request.tolerance, request.path);
      // A new folder, as a TF.js output makes its own.
      await makeDirectory(dirname(out));
      await writeFileAtomic(out, onnx);
      bytes = onnx.byteLength;
    } else {
      const staged = await saveLayersModelToDir(model, out);
      const reloaded = await loadLayersModelFromDir(out);
      const actual = predictAll(reloaded, x, dims);
      disposeLayersModel(reloaded);
      maxAbsDiff = maxDiff(expected, actual);
      bytes = staged.bytes;
    }
    return {
      read: { path: request.path, format, inputShape, outputShape },
      wrote: { path: out, format: request.to, bytes },
      check: { inputs: CHECK_INPUTS, samples: CHECK_SAMPLES, maxAbsDiff, tolerance: request.tolerance },
      ...(notes.length > 0 ? { notes } : {}),
      seconds: (performance.now() - request.started) / 1000,
    };
  } finally {
    disposeLayersModel(model);
  }
}

/** Every output of `model` on `x`, flattened and laid end to end in output order (as runOnnx gives the ONNX model's). */
function predictAll(model: tf.LayersModel, x: Float32Array, dims: number[]): Float32Array {
  return tf.tidy(() => {
    const y = model.predict(tf.tensor(x, dims));
    return concatenated((Array.isArray(y) ? y : [y]).map((t) => t.dataSync()));
  });
}

/** `names`, a repeated one suffixed _1, _2... (a layer can be an output twice, once per call). */
function uniqueNames(names: readonly string[]): string[] {
  const seen = new Set<string>();
  return names.map((base) => {
    let name = base;
    for (let i = 1; seen.has(name); i++) name = `${base}_${i}`;
    seen.add(name);
    return name;
  });
}
