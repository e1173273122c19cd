import * as tf from '@tensorflow/tfjs';
import { exportLayersModelToOnnx } from '../../src/tfjs-to-onnx/layers-model-to-onnx.js';
import { onnxVsExpected } from './onnx-vs-expected.js';

/**
 * A layers model's own tfjs output and onnxruntime's output of its ONNX export on the same NHWC batch: the largest
 * difference, the features per image and the largest |feature|. Shared by the fast tests (small and synthetic
 * models) and the slow ones (full-size real models).
 */
export async function layersExportVsTfjs(model: tf.LayersModel, input: Float32Array, count: number): Promise<{ maxAbsDiff: number; dim: number; maxAbs: number }> {
  const [, h, w, c] = model.inputs[0]!.shape as number[];
  const expected = tf.tidy(() => (model.predict(tf.tensor4d(input, [count, h!, w!, c!])) as tf.Tensor).reshape([count, -1]).dataSync());
  return onnxVsExpected(exportLayersModelToOnnx(model), input, [count, h!, w!, c!], expected);
}
