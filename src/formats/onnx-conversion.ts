import * as tf from '@tensorflow/tfjs';
import { writeDirectoryStaged } from '../core/atomic-write.js';
import { GraftError } from '../core/errors.js';
import { LAYERS_DIR_OUTPUT } from '../core/replaceable-output.js';
import { encodeOnnxModel, readOnnxModel } from '../onnx/onnx-model.js';
import { convertOnnxToLayers, toKerasLayout } from '../onnx-to-layers/index.js';
import { importOnnxToTfjs } from '../onnx-to-tfjs/index.js';
import { disposeLayersModel } from '../readers/dispose-layers-model.js';
import { saveLayersModelToDir } from '../readers/save-layers-model.js';
import { loadLayersModelFromDir } from '../readers/tfjs-layers.js';
import { ensureTfjsBackend, warnOnFallback } from '../runtime/tfjs-backend.js';
import { assertWithin, CHECK_INPUTS, CHECK_SAMPLES, checkInput, maxDiff, outPath, runOnnxOutput } from './conversion-check.js';
import type { ConversionRequest } from './conversion.js';
import type { ConversionReport } from './conversion-report.js';

/**
 * ONNX -> TF.js layers model. The converted model runs on seeded inputs (transposed to its NHWC input) against
 * onnxruntime; for a quantized source, whose float conversion cannot match integer kernels to 1e-4, the gate is
 * the float import of the same graph (importOnnxToTfjs, same semantics) and onnxruntime's difference and top-1
 * agreement are reported. The model is written to a staging folder, reloaded, checked again, and swapped in.
 */
export async function convertOnnxToTfjs(request: ConversionRequest): Promise<ConversionReport> {
  const { path, tolerance } = request;
  await ensureTfjsBackend(warnOnFallback(request.onProgress));
  // External data is read from beside the model into it, so the conversion and onnxruntime's check see every weight.
  const proto = await readOnnxModel(path);
  const bytes = encodeOnnxModel(proto);
  const out = await outPath(request, 'tfjs');
  const conversion = convertOnnxToLayers(proto, { source: path });
  try {
    const onnxDims = [CHECK_SAMPLES, ...(conversion.onnxInputShape.slice(1) as number[])];
    const kerasDims = [CHECK_SAMPLES, ...(conversion.inputShape.slice(1) as number[])];
    const output = conversion.outputs[0]!;
    const x = checkInput(onnxDims);
    const xKeras = toKerasLayout(x, onnxDims, conversion.inputPerm);
    const predict = (model: tf.LayersModel) => tf.tidy(() => firstOutput(model.predict(tf.tensor(xKeras, kerasDims))).dataSync().slice() as Float32Array);
    const actual = predict(conversion.model);
    const ort = await runOnnxOutput(bytes, conversion.inputName, output.name, x, onnxDims);
    const ortDiff = maxDiff(actual, toKerasLayout(ort.data, ort.dims, output.perm));
    let maxAbsDiff = ortDiff;
    let reference: string | undefined;
    let onnxruntime: { maxAbsDiff: number } | undefined;
    if (conversion.isQuantized) {
      const graph = importOnnxToTfjs(proto, { source: path, outputs: [output.name] });
      let imported: { data: Float32Array; dims: number[] };
      try {
        imported = tf.tidy(() => {
          const y = graph.predict(tf.tensor(x, onnxDims));
          return { data: y.dataSync().slice() as Float32Array, dims: y.shape };
        });
      } finally {
        graph.dispose();
      }
      maxAbsDiff = maxDiff(actual, toKerasLayout(imported.data, imported.dims, output.perm));
      reference = 'the float import of the quantized graph (importOnnxToTfjs: same dequantized weights and range clamps)';
      // Top-1 agreement on two noise inputs says nothing (near ties); real-image agreement is in the tests (15/16).
      onnxruntime = { maxAbsDiff: ortDiff };
    }
    assertWithin(maxAbsDiff, tolerance, path);
    // Made by saveLayersModelToDir, reloaded and checked there before it is swapped in.
    const written = await writeDirectoryStaged(
      out,
      'converting',
      async (staging) => {
        const { bytes } = await saveLayersModelToDir(conversion.model, staging);
        const reloaded = await loadLayersModelFromDir(staging);
        let reloadDiff: number;
        try {
          reloadDiff = maxDiff(actual, predict(reloaded));
        } finally {
          disposeLayersModel(reloaded);
        }
        if (reloadDiff !== 0) throw new GraftError('INTERNAL', `The TF.js model written for ${path} does not reproduce the converted model (max abs diff ${reloadDiff}); nothing was written`);
        return bytes;
      },
      { create: false, owns: LAYERS_DIR_OUTPUT.owns },
    );
    const notes: string[] = [];
    const shape = (dims: readonly (number | null)[]) => `[${dims.map((d) => d ?? 1).join(',')}]`;
    if (conversion.inputPerm.some((a, i) => a !== i)) notes.push(`input is NHWC ${shape(conversion.inputShape)}; ONNX was NCHW ${shape(conversion.onnxInputShape)}`);
    if (output.perm.some((a, i) => a !== i)) notes.push(`output is NHWC ${shape(output.shape)}; ONNX was NCHW ${shape(output.onnxShape)}`);
    if (conversion.isQuantized) notes.push('quantized operators became float layers with dequantized weights (activations are not re-quantized)');
    notes.push(`${conversion.layerCount} Keras layers`);
    return {
      read: { path, format: 'onnx', inputShape: conversion.onnxInputShape.slice(1) as number[], outputShape: output.onnxShape.slice(1) as number[] },
      wrote: { path: out, format: 'tfjs', bytes: written, inputShape: conversion.inputShape.slice(1) as number[], outputShape: output.shape.slice(1) as number[] },
      check: {
        inputs: CHECK_INPUTS,
        samples: CHECK_SAMPLES,
        maxAbsDiff,
        tolerance,
        ...(reference ? { reference } : {}),
        ...(onnxruntime ? { onnxruntime } : {}),
      },
      notes,
      seconds: (performance.now() - request.started) / 1000,
    };
  } finally {
    disposeLayersModel(conversion.model);
  }
}

function firstOutput(y: tf.Tensor | tf.Tensor[]): tf.Tensor {
  return Array.isArray(y) ? y[0]! : y;
}
