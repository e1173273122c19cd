import * as tf from '@tensorflow/tfjs';
import { conv2DBackpropFilterKernel } from './conv2d-backprop-filter.js';
import { makeConv2DBackpropInputKernel } from './conv2d-backprop-input.js';
import { depthwiseBackpropFilterKernel } from './depthwise-backprop-filter.js';
import { depthwiseBackpropInputKernel } from './depthwise-backprop-input.js';
import { makeTileKernel } from './tile.js';

export { WasmKernelScope, withWasmKernelScope } from './wasm-kernel-scope.js';

/** The kernels {@link registerWasmGradKernels} adds or wraps on the 'wasm' backend. */
export const wasmGradKernelNames = [
  'Conv2DBackpropFilter',
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  'Conv2DBackpropInput',
  'Tile',
] as const;

/** Marks our kernelFuncs so that a second registration can recognise them. */
const graftKernels = new WeakSet<tf.KernelFunc>();

/**
 * Registers the gradient kernels that tfjs-backend-wasm 4.22 lacks, so that conv and depthwise-conv
 * layers can train on wasm (DESIGN.md: without them training throws "Kernel 'Conv2DBackpropFilter'
 * not registered for backend 'wasm'").
 *
 * Added: Conv2DBackpropFilter (im2col + one GEMM), DepthwiseConv2dNativeBackpropFilter (one
 * depthwise conv with dy as a dilated filter, batch folded into channels), and
 * DepthwiseConv2dNativeBackpropInput (one depthwise conv of the upsampled dy with the rotated filter).
 * Wrapped, keeping wasm's own kernel for every other case: Conv2DBackpropInput gets a GEMM path for
 * 1x1 convs, Tile a broadcast path (FusedBatchNorm's gradient uses it). Supported: NHWC, dilation 1,
 * any stride, 'same' / 'valid' / explicit padding; anything else throws with the value received.
 *
 * Opt-in and idempotent: nothing registers on import; calling it again does nothing. It can run
 * before or after the wasm backend is initialised.
 *
 * @example
 * registerWasmGradKernels();
 * await ensureTfjsBackend();               // 'wasm'
 * const grads = tf.grads((x) => tf.conv2d(x, w, 1, 'same').sum())([x]);
 */
export function registerWasmGradKernels(): void {
  const register = (kernelName: string, kernelFunc: tf.KernelFunc, setupFunc?: tf.KernelConfig['setupFunc']): void => {
    const existing = tf.getKernel(kernelName, 'wasm');
    if (existing !== undefined) {
      if (graftKernels.has(existing.kernelFunc)) return;
      tf.unregisterKernel(kernelName, 'wasm');
    }
    graftKernels.add(kernelFunc);
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc, ...(setupFunc === undefined ? {} : { setupFunc }) });
  };
  register('Conv2DBackpropFilter', conv2DBackpropFilterKernel);
  register('DepthwiseConv2dNativeBackpropFilter', depthwiseBackpropFilterKernel);
  register('DepthwiseConv2dNativeBackpropInput', depthwiseBackpropInputKernel);
  const wrap = (kernelName: string, make: (fallback: tf.KernelFunc) => tf.KernelFunc): void => {
    const original = tf.getKernel(kernelName, 'wasm');
    if (original === undefined || graftKernels.has(original.kernelFunc)) return;
    // Keep wasm's setupFunc: it binds the fallback's C function when the backend initialises later.
    register(kernelName, make(original.kernelFunc), original.setupFunc);
  };
  wrap('Conv2DBackpropInput', makeConv2DBackpropInputKernel);
  wrap('Tile', makeTileKernel);
}
