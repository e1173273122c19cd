import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../core/errors.js';
import type { HostValue } from '../onnx-to-tfjs/values.js';

/**
 * The batch size that ONNX shapes are evaluated with while a graph is turned into Keras layers. Keras
 * models take any batch, so the batch axis is never a real number; shape arithmetic (Shape -> Gather ->
 * Concat -> Reshape, as torchvision exports flatten) runs on it, and every Reshape must keep it first.
 */
export const BATCH = 1;

/**
 * How a Keras tensor stores an ONNX value (the Keras tensor always has the batch first):
 * - `onnx`: in ONNX axis order.
 * - `nhwc`: a rank-4 ONNX [N, C, H, W] value stored [N, H, W, C] (Keras convolutions and pools are NHWC).
 * - `pooled`: an ONNX [N, C, 1, 1] value (GlobalAveragePool's output) stored [N, C], as Keras's global pools
 *   return it; the same memory as [N, C, 1, 1] in either order.
 */
export type StoredLayout = 'onnx' | 'nhwc' | 'pooled';

/** A value computed from the model input: a Keras symbolic tensor plus what it means in ONNX terms. */
export interface SymbolicValue {
  readonly kind: 'symbolic';
  readonly tensor: tf.SymbolicTensor;
  /** The ONNX shape, with {@link BATCH} as the batch. */
  readonly shape: readonly number[];
  readonly layout: StoredLayout;
  /** Static bounds of every element (from ReLUs and quantization ranges), used to drop clamps that cannot act. */
  readonly lower: number;
  readonly upper: number;
  /** Layout conversions made so far, so a value read in another layout by several nodes is converted once. */
  readonly converted: { nhwc?: tf.SymbolicTensor; onnx?: tf.SymbolicTensor };
}

/** A value during conversion: import-time data (weights, shapes, folded constants) or a symbolic tensor. */
export type LayerValue = HostValue | SymbolicValue;

export const UNBOUNDED = { lower: -Infinity, upper: Infinity } as const;

export function symbolic(
  tensor: tf.SymbolicTensor,
  shape: readonly number[],
  layout: StoredLayout,
  bounds: { readonly lower: number; readonly upper: number } = UNBOUNDED,
): SymbolicValue {
  return { kind: 'symbolic', tensor, shape, layout, lower: bounds.lower, upper: bounds.upper, converted: {} };
}

/** Names, weights and bookkeeping of the Keras model being built. */
export class LayerBuilder {
  private readonly names = new Set<string>();
  private readonly weights: tf.Tensor[] = [];
  private readonly layers: tf.layers.Layer[] = [];
  layerCount = 0;

  /** A unique Keras layer name from an ONNX node or tensor name (Keras names allow [A-Za-z0-9_.-]). */
  name(base: string, suffix?: string): string {
    let clean = `${base}${suffix ? `_${suffix}` : ''}`.replace(/[^A-Za-z0-9_.-]/g, '_');
    if (!/^[A-Za-z]/.test(clean)) clean = `onnx_${clean}`;
    let name = clean;
    for (let i = 1; this.names.has(name); i++) name = `${clean}_${i}`;
    this.names.add(name);
    return name;
  }

  /** A float32 tensor holding a layer's initial weights; disposed by {@link dispose} once the model is built. */
  weight(data: Float32Array, shape: readonly number[]): tf.Tensor {
    const tensor = tf.tensor(data, [...shape], 'float32');
    this.weights.push(tensor);
    return tensor;
  }

  apply(layer: tf.layers.Layer, input: tf.SymbolicTensor | tf.SymbolicTensor[]): tf.SymbolicTensor {
    this.layerCount++;
    this.layers.push(layer);
    const out = layer.apply(input);
    if (Array.isArray(out) || !(out instanceof tf.SymbolicTensor)) {
      throw new GraftError('INTERNAL', `Keras layer "${layer.name}" did not return one symbolic tensor.`);
    }
    return out;
  }

  /** Frees the weights of every layer applied so far (after a failed conversion: no model owns them). */
  disposeLayers(): void {
    for (const layer of this.layers) {
      try {
        layer.dispose();
      } catch {
        // a layer that was never built has nothing to free
      }
    }
  }

  /** Frees the initial-weight tensors (the layers' variables hold their own references). */
  dispose(): void {
    for (const t of this.weights) t.dispose();
    this.weights.length = 0;
  }
}

/** Keras dims of a symbolic tensor without the batch axis (all static here). */
export function kerasDims(tensor: tf.SymbolicTensor): number[] {
  return tensor.shape.slice(1).map((d) => d ?? -1);
}

/** The value stored NHWC (rank-4 ONNX values only): a Permute, a Reshape of a pooled value, or nothing. */
export function toNhwc(b: LayerBuilder, value: SymbolicValue, baseName: string): tf.SymbolicTensor {
  if (value.shape.length !== 4) throw new GraftError('INTERNAL', `toNhwc needs a rank-4 value, got [${value.shape.join(', ')}]`);
  if (value.layout === 'nhwc') return value.tensor;
  if (value.converted.nhwc) return value.converted.nhwc;
  const [, c, h, w] = value.shape as [number, number, number, number];
  const out =
    value.layout === 'pooled' || (h === 1 && w === 1)
      ? b.apply(tf.layers.reshape({ targetShape: [h, w, c], name: b.name(baseName, 'nhwc') }), value.tensor)
      : b.apply(tf.layers.permute({ dims: [2, 3, 1], name: b.name(baseName, 'nhwc') }), value.tensor);
  value.converted.nhwc = out;
  return out;
}

/** The value stored in ONNX axis order. */
export function toOnnxOrder(b: LayerBuilder, value: SymbolicValue, baseName: string): tf.SymbolicTensor {
  if (value.layout === 'onnx') return value.tensor;
  if (value.converted.onnx) return value.converted.onnx;
  const [, c, h, w] = value.shape as [number, number, number, number];
  const out =
    value.layout === 'pooled' || (h === 1 && w === 1)
      ? b.apply(tf.layers.reshape({ targetShape: [c, h, w], name: b.name(baseName, 'nchw') }), value.tensor)
      : b.apply(tf.layers.permute({ dims: [3, 1, 2], name: b.name(baseName, 'nchw') }), value.tensor);
  value.converted.onnx = out;
  return out;
}

/**
 * The value reshaped to the ONNX shape `dims` (batch first and unchanged). Moves between [N, C, 1, 1] and
 * [N, C] cost nothing or one Flatten; anything else reshapes the ONNX-ordered tensor.
 */
export function reshapeValue(b: LayerBuilder, value: SymbolicValue, dims: readonly number[], baseName: string): SymbolicValue {
  const bounds = { lower: value.lower, upper: value.upper };
  if (dims.length === value.shape.length && dims.every((d, i) => d === value.shape[i])) return value;
  const isPooledShape = (s: readonly number[]) => s.length === 4 && s[2] === 1 && s[3] === 1;
  // [N, C] <-> [N, C, 1, 1]: the pooled layout is exactly this.
  if (value.shape.length === 2 && isPooledShape(dims) && dims[1] === value.shape[1] && value.layout === 'onnx') {
    return symbolic(value.tensor, dims, 'pooled', bounds);
  }
  if (dims.length === 2 && isPooledShape(value.shape) && dims[1] === value.shape[1]) {
    if (value.layout === 'pooled') return symbolic(value.tensor, dims, 'onnx', bounds);
    return symbolic(b.apply(tf.layers.flatten({ name: b.name(baseName, 'flatten') }), value.tensor), dims, 'onnx', bounds);
  }
  const ordered = toOnnxOrder(b, value, baseName);
  const layer =
    dims.length === 2 && ordered.shape.length > 2
      ? tf.layers.flatten({ name: b.name(baseName, 'flatten') })
      : tf.layers.reshape({ targetShape: dims.slice(1), name: b.name(baseName, 'reshape') });
  return symbolic(b.apply(layer, ordered), dims, 'onnx', bounds);
}

/** ONNX broadcast shape of two shapes (numpy rules). */
export function broadcastShape(a: readonly number[], b: readonly number[]): number[] | undefined {
  const rank = Math.max(a.length, b.length);
  const pa = [...new Array<number>(rank - a.length).fill(1), ...a];
  const pb = [...new Array<number>(rank - b.length).fill(1), ...b];
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    if (pa[i] === pb[i] || pb[i] === 1) out.push(pa[i]!);
    else if (pa[i] === 1) out.push(pb[i]!);
    else return undefined;
  }
  return out;
}
