import * as tf from '@tensorflow/tfjs';
import { convGeometry, type ConvBackpropAttrs } from './conv-geometry.js';
import { extractPatchesChannelMajor, extractTaps } from './extract-patches.js';
import { withWasmKernelScope, type TensorInfo } from './wasm-kernel-scope.js';

interface Conv2DBackpropFilterAttrs extends ConvBackpropAttrs {
  filterShape: [number, number, number, number];
}

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
  const a = attrs as unknown as Conv2DBackpropFilterAttrs;
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
    // wasm's BatchMatMul with transposeA/transposeB leaves XNNPACK for a scalar loop (~15-20x slower,
    // measured: 79 ms vs 4.2 ms for [392,112]^T·[392,1280]); an explicit Transpose of the smaller operand is cheap.
    let product: TensorInfo; // [Ci*T, Co], rows channel-major for kxk
    if (k <= co) {
      const patchesT = scope.run('Transpose', { x: patches2d }, { perm: [1, 0] });
      product = scope.run('BatchMatMul', { a: patchesT, b: dy2d }, { transposeA: false, transposeB: false });
    } else {
      const dyT = scope.run('Transpose', { x: dy2d }, { perm: [1, 0] });
      const productT = scope.run('BatchMatMul', { a: dyT, b: patches2d }, { transposeA: false, transposeB: false });
      product = scope.run('Transpose', { x: scope.reshape(productT, [co, k]) }, { perm: [1, 0] });
    }
    if (isPointwise) return scope.reshape(product, [kh, kw, ci, co]);
    // Channel-major [Ci, T, Co] to the filter's tap-major [T, Ci, Co] = [kh, kw, Ci, Co].
    const reordered = scope.run('Transpose', { x: scope.reshape(product, [ci, taps, co]) }, { perm: [1, 0, 2] });
    return scope.reshape(reordered, [kh, kw, ci, co]);
  });
};
