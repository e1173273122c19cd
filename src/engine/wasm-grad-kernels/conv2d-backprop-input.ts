import * as tf from '@tensorflow/tfjs';
import { convGeometry, type ConvBackpropAttrs } from './conv-geometry.js';
import { upsampleForInputGradient } from './transposed-conv-input.js';
import { withWasmKernelScope, type TensorInfo } from './wasm-kernel-scope.js';

interface Conv2DBackpropInputAttrs extends ConvBackpropAttrs {
  inputShape: [number, number, number, number];
}

/**
 * Conv2DBackpropInput for wasm from XNNPACK kernels; wasm's own kernel is a scalar loop (~10x slower).
 * Pointwise (1x1, stride 1, unpadded; most of MobileNetV2): dx[N*H*W, Ci] = dy[N*H*W, Co] · W[Ci, Co]^T.
 * Otherwise: one stride-1 Conv2D of the zero-upsampled dy with the rotated, channel-swapped filter.
 * NCHW goes to `fallback` (wasm's original kernel).
 */
export function makeConv2DBackpropInputKernel(fallback: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const a = attrs as unknown as Conv2DBackpropInputAttrs;
    const [kh, kw, ci, co] = filter.shape as [number, number, number, number];
    if (a.dataFormat !== undefined && a.dataFormat !== 'NHWC') return fallback(args);
    const g = convGeometry('Conv2DBackpropInput', a.inputShape, filter.shape, a.strides, a.pad, {
      dimRoundingMode: a.dimRoundingMode, depthwise: false, dataFormat: a.dataFormat,
    });
    const isPointwiseGeometry = kh === 1 && kw === 1 && g.strideHeight === 1 && g.strideWidth === 1
      && g.outHeight === g.inHeight && g.outWidth === g.inWidth && g.padTop === 0 && g.padLeft === 0;
    return withWasmKernelScope(backend as tf.KernelBackend, (scope) => {
      if (isPointwiseGeometry) {
        const rows = g.batch * g.inHeight * g.inWidth;
        const dy2d = scope.reshape(dy, [rows, co]);
        // Transpose W explicitly: BatchMatMul's transposeB path is a scalar loop on wasm (50 ms vs 4 ms, Conv_1's shapes).
        const wT = scope.run('Transpose', { x: scope.reshape(filter, [ci, co]) }, { perm: [1, 0] });
        const dx = scope.run('BatchMatMul', { a: dy2d, b: wT }, { transposeA: false, transposeB: false });
        return scope.reshape(dx, a.inputShape);
      }
      // kxk or strided: a stride-1 XNNPACK conv of the upsampled dy with W rotated 180° and its channels
      // swapped ([kh,kw,Ci,Co] -> [kh,kw,Co,Ci]). Measured on MobileNetV2's first conv: wasm's own kernel 52 ms.
      const { up, pad } = upsampleForInputGradient(scope, dy, g, 'Conv2DBackpropInput');
      const rotated = scope.run('Reverse', { x: filter }, { dims: [0, 1] });
      const swapped = scope.run('Transpose', { x: rotated }, { perm: [0, 1, 3, 2] });
      return scope.run('Conv2D', { x: up, filter: swapped }, { strides: [1, 1], pad, dilations: [1, 1], dataFormat: 'NHWC' });
    });
  };
}
