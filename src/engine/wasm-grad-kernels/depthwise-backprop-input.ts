import * as tf from '@tensorflow/tfjs';
import { convGeometry, type ConvBackpropAttrs } from './conv-geometry.js';
import { upsampleForInputGradient } from './transposed-conv-input.js';
import { withWasmKernelScope, type TensorInfo } from './wasm-kernel-scope.js';

interface DepthwiseBackpropInputAttrs extends ConvBackpropAttrs {
  inputShape: [number, number, number, number];
}

/**
 * DepthwiseConv2dNativeBackpropInput for wasm: one stride-1 depthwise conv (XNNPACK) of the
 * zero-upsampled dy with the 180°-rotated filter.
 *
 * See {@link upsampleForInputGradient} for the upsampling and padding.
 * A channel multiplier m is handled as a depthwise conv over C*m channels followed by a sum over m.
 */
export const depthwiseBackpropInputKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const a = attrs as unknown as DepthwiseBackpropInputAttrs;
  const [kh, kw, c, multiplier] = filter.shape as [number, number, number, number];
  const g = convGeometry('DepthwiseConv2dNativeBackpropInput', a.inputShape, filter.shape, a.strides, a.pad, {
    dilations: a.dilations, dimRoundingMode: a.dimRoundingMode, depthwise: true,
  });
  const channels = c * multiplier;
  return withWasmKernelScope(backend as tf.KernelBackend, (scope) => {
    const { up, pad } = upsampleForInputGradient(scope, dy, g, 'DepthwiseConv2dNativeBackpropInput');
    const rotated = scope.run('Reverse', { x: filter }, { dims: [0, 1] });
    const flatFilter = scope.reshape(rotated, [kh, kw, channels, 1]);
    const dx = scope.run('DepthwiseConv2dNative', { x: up, filter: flatFilter }, { strides: [1, 1], pad, dilations: [1, 1] });
    if (multiplier === 1) return dx;
    const dx5 = scope.reshape(dx, [g.batch, g.inHeight, g.inWidth, c, multiplier]);
    return scope.run('Sum', { x: dx5 }, { axis: [4], keepDims: false });
  });
};
