import type * as tf from '@tensorflow/tfjs';
import type { OnnxGraphBuilder, OnnxValue } from '../onnx/graph-builder.js';
import { unsupported, type Emitter, type Shape } from './layer-emitter-support.js';

/** ONNX emitters for the Keras merge layers: several same-shaped inputs, one output. */
export const MERGE_EMITTERS: Readonly<Record<string, Emitter>> = {
  Add: (b, layer, inputs, outShape) => emitElementwise(b, layer, inputs, outShape, 'Add'),
  Multiply: (b, layer, inputs, outShape) => emitElementwise(b, layer, inputs, outShape, 'Mul'),
  Maximum: (b, layer, inputs, outShape) => emitElementwise(b, layer, inputs, outShape, 'Max'),
  Minimum: (b, layer, inputs, outShape) => emitElementwise(b, layer, inputs, outShape, 'Min'),
  Average: emitAverage,
  Subtract: emitSubtract,
  Concatenate: emitConcatenate,
};

/** Add / Multiply / Maximum / Minimum of same-shaped inputs (Keras merge layers do not broadcast). */
function emitElementwise(b: OnnxGraphBuilder, layer: tf.layers.Layer, inputs: readonly OnnxValue[], outShape: Shape, op: 'Add' | 'Mul' | 'Max' | 'Min'): OnnxValue {
  if (inputs.length < 2) throw unsupported(layer, `${layer.getClassName()} needs at least 2 inputs, got ${inputs.length}`);
  const aligned = alignLayouts(b, inputs);
  let acc = aligned[0]!;
  for (let i = 1; i < aligned.length; i++) {
    acc = { name: b.node(op, [acc.name, aligned[i]!.name], layer.name), shape: outShape, isNchw: acc.isNchw };
  }
  return acc;
}

/** Average: the inputs summed in order, then times 1 / n, as tfjs and Keras compute it (the same float32 steps). */
function emitAverage(b: OnnxGraphBuilder, layer: tf.layers.Layer, inputs: readonly OnnxValue[], outShape: Shape): OnnxValue {
  const sum = emitElementwise(b, layer, inputs, outShape, 'Add');
  const scale = b.floatConst(`${layer.name}/scale`, [], Float32Array.of(1 / inputs.length));
  return { ...sum, name: b.node('Mul', [sum.name, scale], layer.name) };
}

/** Subtract: its first input minus its second (Keras takes exactly two). */
function emitSubtract(b: OnnxGraphBuilder, layer: tf.layers.Layer, inputs: readonly OnnxValue[], outShape: Shape): OnnxValue {
  if (inputs.length !== 2) throw unsupported(layer, `Subtract needs exactly 2 inputs, got ${inputs.length}`);
  const [x, y] = alignLayouts(b, inputs) as [OnnxValue, OnnxValue];
  return { name: b.node('Sub', [x.name, y.name], layer.name), shape: outShape, isNchw: x.isNchw };
}

/** Operands must share a layout: rank-4 ones go NCHW, the rest are already in Keras order. */
function alignLayouts(b: OnnxGraphBuilder, inputs: readonly OnnxValue[]): OnnxValue[] {
  return inputs.map((v) => (v.shape.length === 4 ? b.toNchw(v) : b.toKeras(v)));
}

/** Concatenate along a Keras (NHWC) axis; on NCHW values the channel axis -1/3 becomes 1, H 2, W 3. */
function emitConcatenate(b: OnnxGraphBuilder, layer: tf.layers.Layer, inputs: readonly OnnxValue[], outShape: Shape): OnnxValue {
  if (inputs.length < 2) throw unsupported(layer, `Concatenate needs at least 2 inputs, got ${inputs.length}`);
  const rank = outShape.length;
  const configured = Number(layer.getConfig()['axis'] ?? -1);
  const axis = configured < 0 ? rank + configured : configured;
  if (!Number.isInteger(axis) || axis < 1 || axis >= rank) throw unsupported(layer, `Concatenate axis ${configured} of a rank-${rank} tensor is not supported`);
  const isNchw = rank === 4;
  const aligned = alignLayouts(b, inputs);
  const onnxAxis = isNchw ? [0, 2, 3, 1][axis]! : axis;
  return { name: b.node('Concat', aligned.map((v) => v.name), layer.name, { axis: { int: onnxAxis } }), shape: outShape, isNchw };
}
