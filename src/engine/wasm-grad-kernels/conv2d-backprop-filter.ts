import * as tf from '@tensorflow/tfjs';
import { convGeometry, type FilterGradAttrs } from './conv-geometry.js';
import { extractPatchesChannelMajor, extractTaps } from './extract-patches.js';
import { withWasmKernelScope, type TensorInfo } from './wasm-kernel-scope.js';

/**
 * Conv2DBackpropFilter for wasm as im2col plus one matMul: dW[kh,kw,Ci,Co] = patches^T · dy.
 *
 * kxk: the patches [N*Ho*Wo, Ci*kh*kw] come from one depthwise conv with a one-hot filter
 * ({@link extractPatchesChannelMajor}; per-tap StridedSlices + Concat cost 15x more on MobileNetV2's first
 * conv), go through XNNPACK's GEMM with dy [N*Ho*Wo, Co], and the small [Ci, T, Co] result is reordered to
 * the filter's layout. 1x1: x itself (or its one strided view) is the patch matrix, so stride 1 copies nothing.
 */
export const conv2DBackpropFilterKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a = attrs as unknown as FilterGradAttrs;
  const g = convGeometry('Conv2DBackpropFilter', x.shape, a.filterShape, a.strides, a.pad, {
    dimRoundingMode: a.dimRoundingMode, depthwise: false, dataFormat: a.dataFormat,
  });
  const [kh, kw, ci, co] = a.filterShape;
  const rows = g.batch * g.outHeight * g.outWidth;
  return withWasmKernelScope(backend as tf.KernelBackend, (scope) => {
    const taps = kh * kw;
    const k = taps * ci;
    const isPointwise = taps === 1;
    // Pointwise: x itself (or its strided view); kxk: channel-major patches [rows, Ci*T] from one depthwise conv.
    const patches = isPointwise ? extractTaps(scope, x, g)[0]! : extractPatchesChannelMajor(scope, x, g);
    const patches2d = scope.reshape(patches, [rows, k]);
    const dy2d = scope.reshape(dy, [rows, co]);
    // patches^T · dy through BatchMatMul with transposeA: Graft's BatchMatMul (registered with this kernel) picks
    // the route, an explicit transpose + XNNPACK GEMM, the streaming SIMD loop for small [Ci*T, Co] results (MobileNetV2's
    // first conv: [100352,27]^T·[100352,32]), or the native GEMM when enabled.
    const product = scope.run('BatchMatMul', { a: patches2d, b: dy2d }, { transposeA: true, transposeB: false }); // [Ci*T, Co]
    if (isPointwise) return scope.reshape(product, [kh, kw, ci, co]);
    // Channel-major [Ci, T, Co] to the filter's tap-major [T, Ci, Co] = [kh, kw, Ci, Co].
    const reordered = scope.run('Transpose', { x: scope.reshape(product, [ci, taps, co]) }, { perm: [1, 0, 2] });
    return scope.reshape(reordered, [kh, kw, ci, co]);
  });
};
