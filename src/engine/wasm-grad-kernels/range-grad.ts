import * as tf from '@tensorflow/tfjs';
import { heapOffset } from './simd-module.js';
import type { WasmGradKernelsImpl } from './wasm-grad-kernels-impl.js';
import type { TensorInfo } from './wasm-kernel-scope.js';

/** Name of the kernel that {@link registerWasmGradKernels} adds: the gradient of a clamp in one pass. */
export const RANGE_GRAD = 'GraftRangeGrad';

/** Attributes of {@link RANGE_GRAD}: dy passes where lo < x (lo <= x unless strictLo) and x <= hi. */
export interface RangeGradAttrs {
  lo: number;
  hi: number;
  strictLo: boolean;
}

/**
 * GraftRangeGrad for wasm: dx = dy where x is inside [lo, hi] (or (lo, hi]) and 0 elsewhere, in one SIMD pass
 * over x and dy. tfjs builds ClipByValue's gradient from five full-size kernels (GreaterEqual, LessEqual,
 * LogicalAnd, ZerosLike, Select) and Relu6's from five (LessEqual, Step, Multiply, Cast, Multiply): the
 * clamp of every quantized activation made them ~15% of an imported int8 MobileNetV2's training step.
 * Measured (clipByValue forward + gradient, min of 7): 238 -> 93 ms at [8,112,112,96], 7.9 -> 1.8 ms at [8,7,7,960].
 */
export function makeRangeGradKernel(owner: WasmGradKernelsImpl): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const { lo, hi, strictLo } = attrs as unknown as RangeGradAttrs;
    const kernels = owner.simd(backend as tf.KernelBackend);
    const size = x.shape.reduce((p, d) => p * d, 1);
    if (kernels === undefined || x.dtype !== 'float32' || dy.dtype !== 'float32' || size !== dy.shape.reduce((p, d) => p * d, 1)) {
      throw new Error(`${RANGE_GRAD} needs float32 x and dy of one size and WebAssembly SIMD. Received: ${x.dtype} [${x.shape}], ${dy.dtype} [${dy.shape}]`);
    }
    const wasm = backend as unknown as { makeOutput(shape: number[], dtype: 'float32'): TensorInfo };
    const out = wasm.makeOutput([...dy.shape], 'float32');
    const b = backend as tf.KernelBackend;
    kernels.rangeGrad(heapOffset(b, x), heapOffset(b, dy), heapOffset(b, out), size, lo, hi, strictLo ? 1 : 0);
    return out;
  };
}
