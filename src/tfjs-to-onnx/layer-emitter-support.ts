import type * as tf from '@tensorflow/tfjs';
import { GraftError } from '../core/errors.js';
import type { OnnxGraphBuilder, OnnxValue } from '../onnx/graph-builder.js';

/*
 * What every layer emitter shares: its signature, and reading a layer's weights and config with the message that
 * names the layer when something does not fit.
 */

/** A Keras shape, batch first (null where not static). */
export type Shape = readonly (number | null)[];

/**
 * Emits one layer: takes the layer's input values and returns its output value; `outShape` is the Keras output shape
 * tfjs inferred, used to check our arithmetic and to carry static shapes forward.
 */
export type Emitter = (b: OnnxGraphBuilder, layer: tf.layers.Layer, inputs: readonly OnnxValue[], outShape: Shape) => OnnxValue;

/** A layer's config as tfjs serialises it (camelCase keys). */
type Config = Readonly<Record<string, unknown>>;

/** A layer's weight by its Keras role (`kernel`, `bias`, `gamma`, ...), matched on the variable name. */
export function weight(layer: tf.layers.Layer, role: string): tf.Tensor {
  const variable = layer.weights.find((w) => w.originalName === role || w.originalName.endsWith(`/${role}`));
  if (!variable) throw unsupported(layer, `weight "${role}" not found (weights: ${layer.weights.map((w) => w.originalName).join(', ')})`);
  return variable.read();
}

export function weightData(layer: tf.layers.Layer, role: string): Float32Array {
  return Float32Array.from(weight(layer, role).dataSync());
}

export function single(inputs: readonly OnnxValue[]): OnnxValue {
  if (inputs.length !== 1) throw new GraftError('UNSUPPORTED_MODEL', `Expected one input, got ${inputs.length}.`);
  return inputs[0]!;
}

export function str(layer: tf.layers.Layer, key: string): string {
  const value = layer.getConfig()[key];
  return typeof value === 'string' ? value : String(value ?? 'linear');
}

export function pair(layer: tf.layers.Layer, key: string): number[] {
  const value: unknown = layer.getConfig()[key];
  const list = typeof value === 'number' ? [value, value] : Array.isArray(value) ? value.map(Number) : [];
  if (list.length !== 2 || list.some((n) => !Number.isInteger(n) || n < 1)) throw unsupported(layer, `${key} ${JSON.stringify(value)} is not a pair of positive integers`);
  return list;
}

export function requireChannelsLast(layer: tf.layers.Layer): void {
  const format = (layer.getConfig() as Config)['dataFormat'];
  if (format !== undefined && format !== 'channelsLast') throw unsupported(layer, `dataFormat "${String(format)}" is not supported (only channelsLast)`);
}

export function unsupported(layer: tf.layers.Layer, why: string): GraftError {
  return new GraftError('UNSUPPORTED_MODEL', `Cannot export ${layer.getClassName()} layer "${layer.name}" to ONNX: ${why}.`, {
    hint: 'export a model truncated before this layer (truncateAt), or convert the model with tf2onnx in Python',
  });
}
