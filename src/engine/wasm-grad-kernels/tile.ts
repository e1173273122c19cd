import type * as tf from '@tensorflow/tfjs';
import { withWasmKernelScope, type TensorInfo } from './wasm-kernel-scope.js';

/**
 * Tile for wasm with a broadcast fast path: when every tiled axis has size 1 (FusedBatchNorm's gradient
 * tiles its per-channel [1,1,1,C] factors to [N,H,W,C] this way), tiling is a broadcast, done as
 * zeros + x by wasm's broadcasting Add. Measured at [8,7,7,336]: wasm's Tile 8.9 ms, a broadcast op ~0.3 ms;
 * Tile was the third-largest kernel of a MobileNetV2 suffix's training step. Other tiles go to `fallback`.
 */
export function makeTileKernel(fallback: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { x } = inputs as { x: TensorInfo };
    const reps = (attrs as { reps: number[] }).reps;
    const isBroadcast = x.dtype === 'float32' && reps.length === x.shape.length
      && x.shape.every((size, axis) => size === 1 || reps[axis] === 1);
    if (!isBroadcast) return fallback(args);
    const outShape = x.shape.map((size, axis) => size * reps[axis]!);
    return withWasmKernelScope(backend as tf.KernelBackend, (scope) => {
      const zeros = scope.run('Fill', {}, { shape: outShape, value: 0, dtype: 'float32' });
      return scope.run('Add', { a: zeros, b: x });
    });
  };
}
