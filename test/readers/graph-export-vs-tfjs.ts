import * as tf from '@tensorflow/tfjs';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { expect } from 'vitest';
import { extractGraphFeatures, type GraphModelJson } from '../../src/readers/tfjs-graph/index.js';
import { exportGraphModelToOnnx } from '../../src/tfjs-to-onnx/graph-model-to-onnx.js';

/** tfjs `execute` up to `node` vs ORT on the exported graph, on the same NHWC batch (224 x 224): the largest difference, the largest |feature| and the features per image. */
export async function graphExportVsTfjs(model: tf.GraphModel, modelJson: GraphModelJson, weights: Uint8Array, node: string, input: Float32Array, count: number): Promise<{ maxAbsDiff: number; maxAbs: number; dim: number }> {
  const x = tf.tensor4d(input, [count, 224, 224, 3]);
  const featuresTensor = extractGraphFeatures(model, x, node);
  const expected = featuresTensor.dataSync();
  tf.dispose([x, featuresTensor]);
  const onnx = exportGraphModelToOnnx(modelJson, weights, { outputNode: node, inputShape: [224, 224, 3] });
  const session = await InferenceSession.create(onnx, { graphOptimizationLevel: 'all' });
  try {
    expect(session.inputNames).toEqual(['input']);
    expect(session.outputNames).toEqual(['graft_features']);
    const result = await session.run({ input: new Tensor('float32', input, [count, 224, 224, 3]) });
    const actual = result['graft_features']!;
    expect(actual.dims).toEqual([count, expected.length / count]);
    const data = actual.data as Float32Array;
    let maxAbsDiff = 0;
    let maxAbs = 0;
    for (let i = 0; i < data.length; i++) {
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(data[i]! - expected[i]!));
      maxAbs = Math.max(maxAbs, Math.abs(expected[i]!));
    }
    return { maxAbsDiff, maxAbs, dim: expected.length / count };
  } finally {
    await session.release();
  }
}
