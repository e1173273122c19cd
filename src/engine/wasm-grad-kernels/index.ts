import * as tf from '@tensorflow/tfjs';
import { makeBatchMatMulKernel } from './batch-mat-mul.js';
import { makeSumKernel } from './column-sum.js';
import { conv2DBackpropFilterKernel } from './conv2d-backprop-filter.js';
import { makeConv2DBackpropInputKernel } from './conv2d-backprop-input.js';
import { makeDepthwiseBackpropFilterKernel } from './depthwise-backprop-filter.js';
import { makeDepthwiseBackpropInputKernel } from './depthwise-backprop-input.js';
import { registerGradientOverrides } from './gradient-overrides.js';
import { makeCastKernel, makeIdentityKernel } from './identity.js';
import { OWNER, ownerOf, type Owned } from './kernel-owner.js';
import { makeRangeGradKernel, RANGE_GRAD } from './range-grad.js';
import { makeTileKernel } from './tile.js';
import type { WasmGradKernelOptions, WasmGradKernels } from './wasm-grad-kernels.js';
import { WasmGradKernelsImpl } from './wasm-grad-kernels-impl.js';

export { WasmKernelScope, withWasmKernelScope } from './wasm-kernel-scope.js';
export { isNativeGemmAvailable } from './native-gemm.js';
export type { WasmGradKernelOptions, WasmGradKernels, WasmGradKernelWarning, WasmGradKernelWarningCode } from './wasm-grad-kernels.js';

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

/**
 * Registers the gradient kernels that tfjs-backend-wasm 4.22 lacks, so that conv and depthwise-conv
 * layers can train on wasm (ARCHITECTURE.md decision 2: without them training throws "Kernel 'Conv2DBackpropFilter'
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
 * the value received. The SIMD loops are WebAssembly (simd-kernels.wat, assembled at build time) sharing
 * tfjs-wasm's memory; without WebAssembly SIMD access every kernel takes its XNNPACK composition, and a
 * SIMD_UNAVAILABLE `warning` event says why.
 *
 * Opt-in and idempotent: nothing registers on import; calling it again registers nothing new and returns the
 * same {@link WasmGradKernels}, with `options` applied (tfjs's kernel registry is process-wide, so one
 * registration serves the process). It can run before or after the wasm backend is initialised.
 *
 * @returns the registration's state: its options, the warnings raised, `configure()` to change them.
 * @example
 * const kernels = registerWasmGradKernels({ nativeGemm: true, onProgress: (e) => console.log(e) });
 * await ensureTfjsBackend();               // 'wasm'
 * const grads = tf.grads((x) => tf.conv2d(x, w, 1, 'same').sum())([x]);
 * kernels.warnings;                        // [] where SIMD and the native GEMM loaded
 */
export function registerWasmGradKernels(options: WasmGradKernelOptions = {}): WasmGradKernels {
  const existing = wasmGradKernelNames.map((name) => ownerOf(tf.getKernel(name, 'wasm')?.kernelFunc)).find((o) => o !== undefined);
  const owner = existing?.configure(options) ?? new WasmGradKernelsImpl(options);
  const register = (kernelName: string, kernelFunc: tf.KernelFunc, setupFunc?: tf.KernelConfig['setupFunc']): void => {
    const current = tf.getKernel(kernelName, 'wasm');
    if (current !== undefined) {
      if (ownerOf(current.kernelFunc) !== undefined) return;
      tf.unregisterKernel(kernelName, 'wasm');
    }
    // A fresh function per registration carries the owner: nothing is written onto shared module-level functions.
    const owned: Owned<tf.KernelFunc> = Object.assign((args: Parameters<tf.KernelFunc>[0]) => kernelFunc(args), { [OWNER]: owner });
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: owned, ...(setupFunc === undefined ? {} : { setupFunc }) });
  };
  register('Conv2DBackpropFilter', conv2DBackpropFilterKernel);
  register('DepthwiseConv2dNativeBackpropFilter', makeDepthwiseBackpropFilterKernel(owner));
  register('DepthwiseConv2dNativeBackpropInput', makeDepthwiseBackpropInputKernel(owner));
  register(RANGE_GRAD, makeRangeGradKernel(owner));
  const wrap = (kernelName: string, make: (fallback: tf.KernelFunc) => tf.KernelFunc): void => {
    const original = tf.getKernel(kernelName, 'wasm');
    if (original === undefined || ownerOf(original.kernelFunc) !== undefined) return;
    // Keep wasm's setupFunc: it binds the fallback's C function when the backend initialises later.
    register(kernelName, make(original.kernelFunc), original.setupFunc);
  };
  wrap('Conv2DBackpropInput', makeConv2DBackpropInputKernel);
  wrap('Tile', makeTileKernel);
  wrap('BatchMatMul', (fallback) => makeBatchMatMulKernel(owner, fallback));
  wrap('Sum', (fallback) => makeSumKernel(owner, fallback));
  wrap('Identity', makeIdentityKernel);
  wrap('Cast', makeCastKernel);
  registerGradientOverrides(owner);
  return owner;
}

/**
 * Switches Graft's SIMD loops off (every kernel then takes its XNNPACK composition) or back on.
 * @deprecated Pass `simdLoops` to {@link registerWasmGradKernels} or to the returned handle's `configure()`;
 *   this is `registerWasmGradKernels({ simdLoops: on })`.
 */
export function setWasmSimdLoops(on: boolean): void {
  registerWasmGradKernels({ simdLoops: on });
}

/**
 * Switches the ClipByValue/Relu6/Relu gradient overrides off (tfjs's own gradients) or back on.
 * @deprecated Pass `gradientOverrides` to {@link registerWasmGradKernels} or to the returned handle's
 *   `configure()`; this is `registerWasmGradKernels({ gradientOverrides: on })`.
 */
export function setWasmGradOverrides(on: boolean): void {
  registerWasmGradKernels({ gradientOverrides: on });
}
