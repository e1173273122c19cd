import * as tf from '@tensorflow/tfjs';
import { RANGE_GRAD, type RangeGradAttrs } from './range-grad.js';
import { OWNER, ownerOf, type Owned } from './kernel-owner.js';
import type { WasmGradKernelsImpl } from './wasm-grad-kernels-impl.js';

/**
 * Gradients that {@link registerWasmGradKernels} replaces so that they run as one Graft kernel on wasm.
 * tfjs keeps one gradient per kernel name for all backends, so each override calls tfjs's own gradient
 * whenever its kernel cannot run: another backend is active, a dtype is not float32, the SIMD loops are
 * unavailable or switched off, or the overrides are switched off (`gradientOverrides: false`, for benchmarks
 * comparing both in one process).
 */
function canUse(owner: WasmGradKernelsImpl, kernelName: string): boolean {
  return owner.areGradientOverridesEnabled && tf.getBackend() === 'wasm' && tf.getKernel(kernelName, 'wasm') !== undefined && owner.simd(tf.backend()) !== undefined;
}

/** The gradient of a clamp-like unary op: dy masked to where x is in the range `rangeOf` gives. */
function overrideRangeGradient(owner: WasmGradKernelsImpl, kernelName: string, rangeOf: (attrs: tf.NamedAttrMap) => RangeGradAttrs): void {
  const original = tf.getGradient(kernelName);
  if (original === undefined || ownerOf(original) !== undefined) return;
  const config: Owned<tf.GradConfig> = {
    kernelName,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const x = saved[0]!;
      const upstream = dy as tf.Tensor;
      if (!canUse(owner, RANGE_GRAD) || x.dtype !== 'float32' || upstream.dtype !== 'float32') return original.gradFunc(dy, saved, attrs);
      const range = rangeOf(attrs);
      return { x: () => tf.engine().runKernel(RANGE_GRAD, { x, dy: upstream }, { ...range }) as tf.Tensor };
    },
    [OWNER]: owner,
  };
  tf.registerGradient(config);
}

/** Registers the overrides, reading `owner`'s settings (idempotent: a gradient Graft registered stays). */
export function registerGradientOverrides(owner: WasmGradKernelsImpl): void {
  // tfjs: where(x >= min && x <= max, dy, 0).
  overrideRangeGradient(owner, 'ClipByValue', (attrs) => ({ lo: attrs['clipValueMin'] as number, hi: attrs['clipValueMax'] as number, strictLo: false }));
  // tfjs: dy * (x <= 6) * step(x), step(x) = x > 0.
  overrideRangeGradient(owner, 'Relu6', () => ({ lo: 0, hi: 6, strictLo: true }));
  // tfjs: dy * step(x).
  overrideRangeGradient(owner, 'Relu', () => ({ lo: 0, hi: Infinity, strictLo: true }));
}
