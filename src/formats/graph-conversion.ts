import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from '../core/atomic-write.js';
import { GraftError } from '../core/errors.js';
import { attrShape, dataInputs } from '../readers/tfjs-graph/graph-model-json.js';
import { loadGraphModelFromArtifacts, readGraphModelDir } from '../readers/tfjs-graph/load-graph-model.js';
import { ensureTfjsBackend, warnOnFallback } from '../runtime/tfjs-backend.js';
import { exportGraphModelToOnnx } from '../tfjs-to-onnx/graph-model-to-onnx.js';
import { assertWithin, CHECK_INPUTS, CHECK_SAMPLES, checkInput, maxDiff, outPath, runOnnx } from './conversion-check.js';
import type { ConversionRequest } from './conversion.js';
import type { ConversionReport } from './conversion-report.js';
import { makeDirectory } from '../core/make-directory.js';

/** TF.js graph model -> ONNX: the graph's final output, checked against tfjs's own execution of the graph. */
export async function convertGraphToOnnx(request: ConversionRequest): Promise<ConversionReport> {
  const { path } = request;
  const out = await outPath(request, 'onnx');
  await ensureTfjsBackend(warnOnFallback(request.onProgress));
  const { modelJson, weightBytes } = await readGraphModelDir(dirname(path));
  const nodes = modelJson.modelTopology.node;
  const consumed = new Set(nodes.flatMap((n) => dataInputs(n).map((i) => i.node)));
  const output = [...nodes].reverse().find((n) => !consumed.has(n.name) && n.op !== 'Const' && n.op !== 'Placeholder');
  const placeholder = nodes.find((n) => n.op === 'Placeholder');
  const declared = placeholder ? attrShape(placeholder, 'shape') : undefined;
  const side = declared?.[1] && declared[1] > 0 ? declared[1] : 224;
  if (!output) throw new GraftError('UNSUPPORTED_MODEL', `${path} has no output node`);
  const inputShape = [side, side, declared?.[3] && declared[3] > 0 ? declared[3] : 3];
  const onnx = exportGraphModelToOnnx(modelJson, weightBytes, { outputNode: output.name, inputShape: inputShape as [number, number, number] });
  const dims = [CHECK_SAMPLES, ...inputShape];
  const x = checkInput(dims);
  const model = await loadGraphModelFromArtifacts(modelJson, weightBytes, path);
  let expected: Float32Array;
  let outputShape: number[];
  try {
    const y = tf.tidy(() => model.execute(tf.tensor(x, dims), output.name) as tf.Tensor);
    expected = y.dataSync().slice() as Float32Array;
    outputShape = y.shape.slice(1);
    y.dispose();
  } finally {
    model.dispose();
  }
  const maxAbsDiff = maxDiff(expected, await runOnnx(onnx, x, dims));
  assertWithin(maxAbsDiff, request.tolerance, path);
  // A new folder, as a TF.js output makes its own.
  await makeDirectory(dirname(out));
  await writeFileAtomic(out, onnx);
  return {
    read: { path, format: 'tfjs-graph', inputShape, outputShape },
    wrote: { path: out, format: 'onnx', bytes: onnx.byteLength },
    check: { inputs: CHECK_INPUTS, samples: CHECK_SAMPLES, maxAbsDiff, tolerance: request.tolerance },
    seconds: (performance.now() - request.started) / 1000,
  };
}
