import * as tf from '@tensorflow/tfjs';
import { conv2DBackpropFilterKernel } from './conv2d-backprop-filter.js';
import { makeConv2DBackpropInputKernel } from './conv2d-backprop-input.js';
import { depthwiseBackpropFilterKernel } from './depthwise-backprop-filter.js';
import { depthwiseBackpropInputKernel } from './depthwise-backprop-input.js';
import { makeTileKernel } from './tile.js';
import { makeBatchMatMulKernel } from './batch-mat-mul.js';
import { makeSumKernel } from './column-sum.js';
import { registerGradientOverrides } from './gradient-overrides.js';
import { makeCastKernel, makeIdentityKernel } from './identity.js';
import { setNativeGemmThreads } from './native-gemm.js';
import { RANGE_GRAD, rangeGradKernel } from './range-grad.js';

export { WasmKernelScope, withWasmKernelScope } from './wasm-kernel-scope.js';
export { setWasmGradOverrides } from './gradient-overrides.js';
export { setWasmSimdLoops } from './simd-module.js';
export { isNativeGemmAvailable } from './native-gemm.js';

/** Options of {@link registerWasmGradKernels}. */
export interface WasmGradKernelOptions {
  /**
   * Run matrix products of at least 2^20 multiply-adds (1x1 convs, dense layers, and their gradients) in
   * onnxruntime's native CPU GEMM (Node only; onnxruntime-node is a dependency) instead of XNNPACK's wasm SIMD:
   * `true` for one intra-op thread, a number for that many, `false`/0 to switch it back off. Results match
   * within float rounding (the native GEMM uses FMA). Left as it was when omitted; off by default.
   */
  readonly nativeGemm?: boolean | number;
}

/** The kernels {@link registerWasmGradKernels} adds or wraps on the 'wasm' backend. */
export const wasmGradKernelNames = [
  'Conv2DBackpropFilter',
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  'Conv2DBackpropInput',
  'Tile',
  'BatchMatMul',
  'Sum',
  'Identity',
  'Cast',
  RANGE_GRAD,
] as const;

/** Marks our kernelFuncs so that a second registration can recognise them. */
const graftKernels = new WeakSet<tf.KernelFunc>();

/**
 * Registers the gradient kernels that tfjs-backend-wasm 4.22 lacks, so that conv and depthwise-conv
 * layers can train on wasm (DESIGN.md: without them training throws "Kernel 'Conv2DBackpropFilter'
 * not registered for backend 'wasm'"), and faster versions of the kernels a training step spends its time in.
 *
 * Added: Conv2DBackpropFilter (im2col + one GEMM), DepthwiseConv2dNativeBackpropFilter and
 * DepthwiseConv2dNativeBackpropInput (SIMD loops for multiplier 1; XNNPACK compositions otherwise), and
 * GraftRangeGrad (the one-pass gradient of a clamp). Wrapped, keeping wasm's own kernel for every other
 * case: Conv2DBackpropInput gets a GEMM path for 1x1 convs, Tile a broadcast path, BatchMatMul explicit
 * transposes instead of wasm's scalar loop (and the native GEMM, see {@link WasmGradKernelOptions}), Sum a
 * SIMD sum over leading axes, Identity and same-dtype Cast share data instead of copying it.
 * Gradients overridden (on wasm only; tfjs's own elsewhere): ClipByValue, Relu6 and Relu run GraftRangeGrad.
 * Supported: NHWC, dilation 1, any stride, 'same' / 'valid' / explicit padding; anything else throws with
 * the value received. The SIMD loops are hand-assembled WebAssembly sharing tfjs-wasm's memory
 * (simd-module.ts); without WebAssembly SIMD access every kernel takes its XNNPACK composition.
 *
 * Opt-in and idempotent: nothing registers on import; calling it again registers nothing new (it only
 * applies `options`). It can run before or after the wasm backend is initialised.
 *
 * @example
 * registerWasmGradKernels();
 * await ensureTfjsBackend();               // 'wasm'
 * const grads = tf.grads((x) => tf.conv2d(x, w, 1, 'same').sum())([x]);
 */
export function registerWasmGradKernels(options: WasmGradKernelOptions = {}): void {
  if (options.nativeGemm !== undefined) setNativeGemmThreads(options.nativeGemm === true ? 1 : options.nativeGemm === false ? 0 : options.nativeGemm);
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
  register(RANGE_GRAD, rangeGradKernel);
  const wrap = (kernelName: string, make: (fallback: tf.KernelFunc) => tf.KernelFunc): void => {
    const original = tf.getKernel(kernelName, 'wasm');
    if (original === undefined || graftKernels.has(original.kernelFunc)) return;
    // Keep wasm's setupFunc: it binds the fallback's C function when the backend initialises later.
    register(kernelName, make(original.kernelFunc), original.setupFunc);
  };
  wrap('Conv2DBackpropInput', makeConv2DBackpropInputKernel);
  wrap('Tile', makeTileKernel);
  wrap('BatchMatMul', makeBatchMatMulKernel);
  wrap('Sum', makeSumKernel);
  wrap('Identity', makeIdentityKernel);
  wrap('Cast', makeCastKernel);
  registerGradientOverrides();
}
