import * as tf from '@tensorflow/tfjs';
import { extractGraphFeatures, type GraphModelJson } from '../../src/readers/tfjs-graph/index.js';
import { exportGraphModelToOnnx } from '../../src/tfjs-to-onnx/graph-model-to-onnx.js';
import { onnxVsExpected } from '../tfjs-to-onnx/onnx-vs-expected.js';

/** tfjs `execute` up to `node` vs ORT on the exported graph, on the same NHWC batch (224 x 224): the largest difference, the largest |feature| and the features per image. */
export async function graphExportVsTfjs(model: tf.GraphModel, modelJson: GraphModelJson, weights: Uint8Array, node: string, input: Float32Array, count: number): Promise<{ maxAbsDiff: number; maxAbs: number; dim: number }> {
  const x = tf.tensor4d(input, [count, 224, 224, 3]);
  const featuresTensor = extractGraphFeatures(model, x, node);
  const expected = featuresTensor.dataSync();
  tf.dispose([x, featuresTensor]);
  const onnx = exportGraphModelToOnnx(modelJson, weights, { outputNode: node, inputShape: [224, 224, 3] });
  return onnxVsExpected(onnx, input, [count, 224, 224, 3], expected);
}
