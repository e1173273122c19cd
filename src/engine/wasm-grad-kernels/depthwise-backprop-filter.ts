import * as tf from '@tensorflow/tfjs';
import { convGeometry, type ConvGeometry, type FilterGradAttrs } from './conv-geometry.js';
import { concatChannels, extractTaps } from './extract-patches.js';
import { heapOffset } from './simd-module.js';
import type { WasmGradKernelsImpl } from './wasm-grad-kernels-impl.js';
import { withWasmKernelScope, type TensorInfo, type WasmKernelScope } from './wasm-kernel-scope.js';

/**
 * DepthwiseConv2dNativeBackpropFilter for wasm: dW[i,j,c,q] = sum over (n,h,w) of tap(i,j)[n,h,w,c] * dy[n,h,w,c*m+q].
 *
 * Multiplier 1 with channels a multiple of 4 (MobileNet's case) is one pass of Graft's SIMD loop
 * (simd-module.ts depthwiseFilterGrad), 8-16x faster than the conv below (min of 7): 87 -> 10 ms at [8,112,112,32],
 * 97 -> 6 ms at [8,112,112,96] stride 2, 7.6 -> 0.65 ms at [8,7,7,960].
 * Without WebAssembly SIMD access, multiplier 1 is one XNNPACK depthwise conv: for each (c, n) pair,
 * dW[i,j,c] gets sum_{h,w} xPadded[n, h*s+i, w*s+j, c] * dy[n,h,w,c], which is a valid correlation of
 * x with dy as the filter, dilated by the stride. Moving the batch into channels ([N,H,W,C] to
 * [1,H,W,C*N]) makes it one depthwise conv with C*N channels, followed by a sum over N (the innermost axis).
 * Other multipliers use per-tap slices, multiplies and one GEMV reduction ({@link depthwiseFilterGradByTaps}).
 * Measured against im2col (one-hot depthwise patches x dy, GEMV): 2.6 vs 12.9 ms at [8,7,7,336], 35 vs 224 ms at
 * [8,112,112,16]; XNNPACK is slow with such large filters (~0.4 GMAC/s at 112x112), so the high-resolution
 * layers remain the expensive ones.
 */
export function makeDepthwiseBackpropFilterKernel(owner: WasmGradKernelsImpl): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const a = attrs as unknown as FilterGradAttrs;
    const g = convGeometry('DepthwiseConv2dNativeBackpropFilter', x.shape, a.filterShape, a.strides, a.pad, {
      dilations: a.dilations, dimRoundingMode: a.dimRoundingMode, depthwise: true,
    });
    const b = backend as tf.KernelBackend;
    const kernels = owner.simd(b);
    if (kernels !== undefined && a.filterShape[3] === 1 && g.inChannels % 4 === 0 && x.dtype === 'float32' && dy.dtype === 'float32') {
      // One SIMD pass: every dy pixel adds x * dy to the kh*kw taps it touched.
      const wasm = backend as unknown as { makeOutput(shape: number[], dtype: 'float32'): TensorInfo };
      const out = wasm.makeOutput([...a.filterShape], 'float32');
      kernels.depthwiseFilterGrad(heapOffset(b, x), heapOffset(b, dy), heapOffset(b, out), g.batch, g.inHeight, g.inWidth, g.inChannels,
        g.outHeight, g.outWidth, g.filterHeight, g.filterWidth, g.strideHeight, g.strideWidth, g.padTop, g.padLeft);
      return out;
    }
    return withWasmKernelScope(b, (scope) => a.filterShape[3] === 1
      ? depthwiseFilterGradByConv(scope, x, dy, g)
      : depthwiseFilterGradByTaps(scope, x, dy, g, a.filterShape));
  };
}

function depthwiseFilterGradByConv(scope: WasmKernelScope, x: TensorInfo, dy: TensorInfo, g: ConvGeometry): TensorInfo {
  const { batch: n, inChannels: c, filterHeight: kh, filterWidth: kw } = g;
  const xT = scope.reshape(scope.run('Transpose', { x }, { perm: [1, 2, 3, 0] }), [1, g.inHeight, g.inWidth, c * n]);
  const dyT = scope.reshape(scope.run('Transpose', { x: dy }, { perm: [1, 2, 3, 0] }), [g.outHeight, g.outWidth, c * n, 1]);
  // The forward conv read rows padTop .. (Ho-1)*s+kh-1 of the padded input; pad (or over-pad, then crop) to that.
  const bottom = (g.outHeight - 1) * g.strideHeight + kh - g.inHeight - g.padTop;
  const right = (g.outWidth - 1) * g.strideWidth + kw - g.inWidth - g.padLeft;
  let grad = scope.run('DepthwiseConv2dNative', { x: xT, filter: dyT }, {
    strides: [1, 1], dilations: [g.strideHeight, g.strideWidth],
    pad: [[0, 0], [g.padTop, Math.max(bottom, 0)], [g.padLeft, Math.max(right, 0)], [0, 0]],
  });
  if (grad.shape[1] !== kh || grad.shape[2] !== kw) {
    grad = scope.run('Slice', { x: grad }, { begin: [0, 0, 0, 0], size: [1, kh, kw, c * n] });
  }
  const perBatch = scope.reshape(grad, [kh, kw, c, n]);
  const summed = n === 1 ? perBatch : scope.run('Sum', { x: perBatch }, { axis: [3], keepDims: false });
  return scope.reshape(summed, [kh, kw, c, 1]);
}

/**
 * The general path: each tap's product with dy is one Multiply; the products are concatenated to
 * [N*Ho*Wo, kh*kw*C*m] and reduced over rows in one GEMV with a ones vector (ones as the left operand
 * keeps XNNPACK's fast path: 0.16 ms vs 2.1 ms for Sum over axis 0 at [392, 3024]).
 */
function depthwiseFilterGradByTaps(
  scope: WasmKernelScope, x: TensorInfo, dy: TensorInfo, g: ConvGeometry, filterShape: [number, number, number, number],
): TensorInfo {
  const [kh, kw, c, multiplier] = filterShape;
  const rows = g.batch * g.outHeight * g.outWidth;
  const taps = extractTaps(scope, x, g);
  // With a channel multiplier m, tap channel c pairs with dy channels c*m .. c*m+m-1.
  const dyPerTap = multiplier === 1 ? dy : scope.reshape(dy, [rows, c, multiplier]);
  const products = taps.map((tap) => {
    if (multiplier === 1) return scope.run('Multiply', { a: tap, b: dy });
    const product = scope.run('Multiply', { a: scope.reshape(tap, [rows, c, 1]), b: dyPerTap });
    return scope.reshape(product, [g.batch, g.outHeight, g.outWidth, c * multiplier]);
  });
  const stacked = products.length === 1 ? products[0]! : concatChannels(scope, products);
  const stacked3d = scope.reshape(stacked, [1, rows, kh * kw * c * multiplier]);
  const ones = scope.run('Fill', {}, { shape: [1, 1, rows], value: 1, dtype: 'float32' });
  const summed = scope.run('BatchMatMul', { a: ones, b: stacked3d }, { transposeA: false, transposeB: false });
  return scope.reshape(summed, filterShape);
}

