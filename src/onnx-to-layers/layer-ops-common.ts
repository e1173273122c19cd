import * as tf from '@tensorflow/tfjs';
import type { HostValue } from '../onnx-to-tfjs/values.js';
import { symbolic, type LayerValue, type SymbolicValue } from './layer-values.js';
import type { NodeConversion } from './node-context.js';

/*
 * ONNX operators as Keras layers (NHWC). Each converter turns one node into zero or more layers applied to
 * symbolic tensors; weights are converted once, at conversion. Layers that only reorder data (Permute,
 * Reshape) are added only where a consumer needs the other order, as onnx-to-tfjs does with its values.
 */

/** Converts one node; returns its output values in ONNX output order. */
export type LayerConverter = (nc: NodeConversion) => LayerValue[];

export interface Bounds {
  readonly lower: number;
  readonly upper: number;
}

export function floats(value: HostValue): Float32Array {
  return value.data instanceof Float32Array ? value.data : Float32Array.from(value.data, Number);
}

export function product(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

// ---------------------------------------------------------------------------------------------------------
// Clamps: ReLU / ReLU(max_value) / Clip and the ranges of quantized tensors
// ---------------------------------------------------------------------------------------------------------

/**
 * clip(x, lo, hi) as Keras layers, exactly: ReLU(max_value=hi) when lo is 0 (Relu, Relu6, a uint8 range with
 * zero point 0); otherwise Maximum/Minimum with a constant tensor made by Rescaling(scale=0, offset=bound),
 * since Keras has no clip layer and shifting by lo around a ReLU would round. A clamp that the value's known
 * bounds already satisfy adds nothing.
 */
export function clampValue(nc: NodeConversion, value: SymbolicValue, lo: number, hi: number): SymbolicValue {
  const bounds = { lower: Math.max(value.lower, lo), upper: Math.min(value.upper, hi) };
  const needsLower = value.lower < lo;
  const needsUpper = value.upper > hi;
  if (!needsLower && !needsUpper) return value;
  const b = nc.builder;
  if (lo === 0 || (!needsLower && lo <= 0 && value.lower >= 0)) {
    return nc.elementwise(value, tf.layers.reLU({ ...(needsUpper && Number.isFinite(hi) ? { maxValue: hi } : {}), name: b.name(nc.baseName, 'relu') }), bounds);
  }
  let tensor = value.tensor;
  const bound = (kind: 'maximum' | 'minimum', limit: number) => {
    // A full-size constant: broadcasting a [N, 1, 1, 1] one is 2-3x slower in tfjs-wasm's Maximum.
    const constant = b.apply(tf.layers.rescaling({ scale: 0, offset: limit, name: b.name(nc.baseName, kind === 'maximum' ? 'lo' : 'hi') }), value.tensor);
    const layer = kind === 'maximum' ? tf.layers.maximum({ name: b.name(nc.baseName, 'max') }) : tf.layers.minimum({ name: b.name(nc.baseName, 'min') });
    tensor = b.apply(layer, [tensor, constant]);
  };
  if (needsLower) bound('maximum', lo);
  if (needsUpper && Number.isFinite(hi)) bound('minimum', hi);
  return symbolic(tensor, value.shape, value.layout, bounds);
}

/** A linear layer (Conv, Dense) followed by clip(lo, hi) when `range` is given. */
export function linearThenClamp(nc: NodeConversion, range: Bounds | undefined, build: () => SymbolicValue): SymbolicValue {
  const y = build();
  return range ? clampValue(nc, y, range.lower, range.upper) : y;
}
