import * as tf from '@tensorflow/tfjs';
import { convGeometry, type ConvBackpropAttrs } from './conv-geometry.js';
import { heapOffset } from './simd-module.js';
import { upsampleForInputGradient } from './transposed-conv-input.js';
import type { WasmGradKernelsImpl } from './wasm-grad-kernels-impl.js';
import { withWasmKernelScope, type TensorInfo } from './wasm-kernel-scope.js';

interface DepthwiseBackpropInputAttrs extends ConvBackpropAttrs {
  inputShape: [number, number, number, number];
}

/**
 * DepthwiseConv2dNativeBackpropInput for wasm: one stride-1 depthwise conv (XNNPACK) of the (zero-upsampled
 * when strided) dy with the 180°-rotated filter. Strided with multiplier 1 and channels a multiple of 4
 * (MobileNet's stride-2 blocks): Graft's SIMD gather loop instead (simd-module.ts depthwiseInputGather),
 * which skips the upsampled copy and its 3/4 zeros: 60 -> 16 ms at [8,56,56,96] -> [8,112,112,96] (min of 7,
 * same run); at stride 1 XNNPACK's conv is as fast or faster, so it stays.
 *
 * See {@link upsampleForInputGradient} for the upsampling and padding.
 * A channel multiplier m is handled as a depthwise conv over C*m channels followed by a sum over m.
 */
export function makeDepthwiseBackpropInputKernel(owner: WasmGradKernelsImpl): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const a = attrs as unknown as DepthwiseBackpropInputAttrs;
    const [kh, kw, c, multiplier] = filter.shape as [number, number, number, number];
    const g = convGeometry('DepthwiseConv2dNativeBackpropInput', a.inputShape, filter.shape, a.strides, a.pad, {
      dilations: a.dilations, dimRoundingMode: a.dimRoundingMode, depthwise: true,
    });
    const channels = c * multiplier;
    const b = backend as tf.KernelBackend;
    const kernels = owner.simd(b);
    const isStrided = g.strideHeight > 1 || g.strideWidth > 1;
    if (kernels !== undefined && isStrided && multiplier === 1 && c % 4 === 0 && dy.dtype === 'float32' && filter.dtype === 'float32') {
      // One SIMD pass gathering each input pixel's few taps: no zero-upsampled copy of dy, no s^2 extra work.
      const wasm = backend as unknown as { makeOutput(shape: number[], dtype: 'float32'): TensorInfo };
      const out = wasm.makeOutput([...a.inputShape], 'float32');
      kernels.depthwiseInputGather(heapOffset(b, filter), heapOffset(b, dy), heapOffset(b, out), g.batch, g.inHeight, g.inWidth, c,
        g.outHeight, g.outWidth, kh, kw, g.strideHeight, g.strideWidth, g.padTop, g.padLeft);
      return out;
    }
    return withWasmKernelScope(b, (scope) => {
      const { up, pad } = upsampleForInputGradient(scope, dy, g, 'DepthwiseConv2dNativeBackpropInput');
      const rotated = scope.run('Reverse', { x: filter }, { dims: [0, 1] });
      const flatFilter = scope.reshape(rotated, [kh, kw, channels, 1]);
      const dx = scope.run('DepthwiseConv2dNative', { x: up, filter: flatFilter }, { strides: [1, 1], pad, dilations: [1, 1] });
      if (multiplier === 1) return dx;
      const dx5 = scope.reshape(dx, [g.batch, g.inHeight, g.inWidth, c, multiplier]);
      return scope.run('Sum', { x: dx5 }, { axis: [4], keepDims: false });
    });
  };
}
