import { InferenceSession, Tensor } from 'onnxruntime-node';
import { expect } from 'vitest';

/**
 * onnxruntime's output of an exported feature model (input `input`, output `graft_features`) on an NHWC batch
 * against the features tfjs computed for it: the largest difference, the largest |feature| and the features per
 * image. Shared by the layers and graph exporters' comparisons.
 */
export async function onnxVsExpected(onnx: Uint8Array, input: Float32Array, inputDims: readonly number[], expected: ArrayLike<number>): Promise<{ maxAbsDiff: number; maxAbs: number; dim: number }> {
  const count = inputDims[0]!;
  const session = await InferenceSession.create(onnx, { graphOptimizationLevel: 'all' });
  try {
    expect(session.inputNames).toEqual(['input']);
    expect(session.outputNames).toEqual(['graft_features']);
    const result = await session.run({ input: new Tensor('float32', input, [...inputDims]) });
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
