import * as tf from '@tensorflow/tfjs';
import { RANGE_GRAD, type RangeGradAttrs } from './range-grad.js';
import { simdKernels } from './simd-module.js';

/**
 * Gradients that {@link registerWasmGradKernels} replaces so that they run as one Graft kernel on wasm.
 * tfjs keeps one gradient per kernel name for all backends, so each override calls tfjs's own gradient
 * whenever its kernel cannot run: another backend is active, a dtype is not float32, WebAssembly SIMD is
 * unavailable (or switched off by setWasmSimdLoops), or the overrides are switched off ({@link setWasmGradOverrides}, for benchmarks comparing both in one process).
 */
const overrides = new WeakSet<tf.GradConfig>();
let isEnabled = true;

/** Switches the gradient overrides off (tfjs's own gradients) or back on. They are on once registered. */
export function setWasmGradOverrides(on: boolean): void {
  isEnabled = on;
}

function canUse(kernelName: string): boolean {
  return isEnabled && tf.getBackend() === 'wasm' && tf.getKernel(kernelName, 'wasm') !== undefined && simdKernels(tf.backend()) !== undefined;
}

/** The gradient of a clamp-like unary op: dy masked to where x is in the range `rangeOf` gives. */
function overrideRangeGradient(kernelName: string, rangeOf: (attrs: tf.NamedAttrMap) => RangeGradAttrs): void {
  const original = tf.getGradient(kernelName);
  if (original === undefined || overrides.has(original)) return;
  const config: tf.GradConfig = {
    kernelName,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const x = saved[0]!;
      const upstream = dy as tf.Tensor;
      if (!canUse(RANGE_GRAD) || x.dtype !== 'float32' || upstream.dtype !== 'float32') return original.gradFunc(dy, saved, attrs);
      const range = rangeOf(attrs);
      return { x: () => tf.engine().runKernel(RANGE_GRAD, { x, dy: upstream }, { ...range }) as tf.Tensor };
    },
  };
  overrides.add(config);
  tf.registerGradient(config);
}

/** Registers the overrides (idempotent). */
export function registerGradientOverrides(): void {
  // tfjs: where(x >= min && x <= max, dy, 0).
  overrideRangeGradient('ClipByValue', (attrs) => ({ lo: attrs['clipValueMin'] as number, hi: attrs['clipValueMax'] as number, strictLo: false }));
  // tfjs: dy * (x <= 6) * step(x), step(x) = x > 0.
  overrideRangeGradient('Relu6', () => ({ lo: 0, hi: 6, strictLo: true }));
  // tfjs: dy * step(x).
  overrideRangeGradient('Relu', () => ({ lo: 0, hi: Infinity, strictLo: true }));
}
