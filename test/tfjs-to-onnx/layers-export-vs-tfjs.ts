import * as tf from '@tensorflow/tfjs';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { expect } from 'vitest';
import { exportLayersModelToOnnx } from '../../src/tfjs-to-onnx/layers-model-to-onnx.js';

/**
 * A layers model's own tfjs output and onnxruntime's output of its ONNX export on the same NHWC batch: the largest
 * difference, the features per image and the largest |feature|. Shared by the fast tests (small and synthetic
 * models) and the slow ones (full-size real models).
 */
export async function layersExportVsTfjs(model: tf.LayersModel, input: Float32Array, count: number): Promise<{ maxAbsDiff: number; dim: number; maxAbs: number }> {
  const [, h, w, c] = model.inputs[0]!.shape as number[];
  const expected = tf.tidy(() => (model.predict(tf.tensor4d(input, [count, h!, w!, c!])) as tf.Tensor).reshape([count, -1]).dataSync());
  const session = await InferenceSession.create(exportLayersModelToOnnx(model), { graphOptimizationLevel: 'all' });
  try {
    expect(session.inputNames).toEqual(['input']);
    expect(session.outputNames).toEqual(['graft_features']);
    const result = await session.run({ input: new Tensor('float32', input, [count, h!, w!, c!]) });
    const actual = result['graft_features']!;
    expect(actual.dims).toEqual([count, expected.length / count]);
    const data = actual.data as Float32Array;
    let maxAbsDiff = 0;
    let maxAbs = 0;
    for (let i = 0; i < data.length; i++) {
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(data[i]! - expected[i]!));
      maxAbs = Math.max(maxAbs, Math.abs(expected[i]!));
    }
    return { maxAbsDiff, dim: expected.length / count, maxAbs };
  } finally {
    await session.release();
  }
}
