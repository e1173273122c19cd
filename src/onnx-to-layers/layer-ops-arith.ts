import * as tf from '@tensorflow/tfjs';
import { floatAttr, intAttr } from '../onnx/attributes.js';
import { normaliseAxis, TO_NHWC, type HostValue } from '../onnx-to-tfjs/values.js';
import { broadcastShape, symbolic, toOnnxOrder, UNBOUNDED, type LayerValue, type SymbolicValue } from './layer-values.js';
import type { NodeConversion } from './node-context.js';
import { type Bounds, floats, type LayerConverter } from './layer-ops-common.js';
import { channelAffine } from './layer-ops-activation.js';

/** Elementwise arithmetic and dense layers (Gemm, MatMul) as Keras layers. See layer-ops.ts for the conventions. */

export type BinaryOp = 'Add' | 'Sub' | 'Mul' | 'Div';

function intervalProduct(a: Bounds, b: Bounds): Bounds {
  const products = [a.lower * b.lower, a.lower * b.upper, a.upper * b.lower, a.upper * b.upper];
  if (products.some(Number.isNaN)) return UNBOUNDED;
  return { lower: Math.min(...products), upper: Math.max(...products) };
}

/** An elementwise op of two values (either may be a constant) as Add/Multiply, Rescaling or a per-channel affine. */
export function binaryValue(nc: NodeConversion, op: BinaryOp, a: LayerValue, c: LayerValue): SymbolicValue {
  if (a.kind === 'symbolic' && c.kind === 'symbolic') return symbolicBinary(nc, op, a, c);
  if (a.kind === 'symbolic' && c.kind === 'host') return constantBinary(nc, op, a, c, false);
  if (a.kind === 'host' && c.kind === 'symbolic') return constantBinary(nc, op, c, a, true);
  return nc.fail('both operands are constants');
}

function symbolicBinary(nc: NodeConversion, op: BinaryOp, a: SymbolicValue, c: SymbolicValue): SymbolicValue {
  if (op === 'Div') nc.fail('division of two computed tensors has no Keras layer');
  const shape = broadcastShape(a.shape, c.shape);
  if (!shape) nc.fail(`shapes [${a.shape.join(', ')}] and [${c.shape.join(', ')}] do not broadcast`);
  if (a.shape.length !== c.shape.length) nc.fail(`operands of different ranks ([${a.shape.join(', ')}] and [${c.shape.join(', ')}]) are not supported`);
  const b = nc.builder;
  const bothPooled = a.layout === 'pooled' && c.layout === 'pooled';
  const stored = (v: SymbolicValue) => (shape.length === 4 ? (bothPooled ? v.tensor : nc.nhwc(v)) : toOnnxOrder(b, v, nc.baseName));
  let right = stored(c);
  let rightBounds: Bounds = c;
  if (op === 'Sub') {
    right = b.apply(tf.layers.rescaling({ scale: -1, offset: 0, name: b.name(nc.baseName, 'negate') }), right);
    rightBounds = { lower: -c.upper, upper: -c.lower };
  }
  const layer = op === 'Mul' ? tf.layers.multiply({ name: b.name(nc.baseName) }) : tf.layers.add({ name: b.name(nc.baseName) });
  const bounds = op === 'Mul' ? intervalProduct(a, c) : { lower: a.lower + rightBounds.lower, upper: a.upper + rightBounds.upper };
  const layout = shape.length === 4 ? (bothPooled ? 'pooled' : 'nhwc') : 'onnx';
  return symbolic(b.apply(layer, [stored(a), right]), shape, layout, Number.isNaN(bounds.lower + bounds.upper) ? UNBOUNDED : bounds);
}

function constantBinary(nc: NodeConversion, op: BinaryOp, x: SymbolicValue, constant: HostValue, isConstantFirst: boolean): SymbolicValue {
  const k = floats(constant);
  const b = nc.builder;
  const shape = broadcastShape(x.shape, constant.dims);
  if (!shape || shape.length !== x.shape.length || shape.some((d, i) => d !== x.shape[i])) {
    nc.fail(`a constant of shape [${constant.dims.join(', ')}] would broadcast [${x.shape.join(', ')}] to another shape`);
  }
  if (op === 'Div' && isConstantFirst) nc.fail('dividing a constant by a computed tensor has no Keras layer');
  if (k.length === 1) {
    const v = k[0]!;
    const [scale, offset] = op === 'Add' ? [1, v] : op === 'Sub' ? (isConstantFirst ? [-1, v] : [1, -v]) : op === 'Mul' ? [v, 0] : [1 / v, 0];
    const ends = [x.lower * scale! + offset!, x.upper * scale! + offset!];
    const bounds = ends.some(Number.isNaN) ? UNBOUNDED : { lower: Math.min(...ends), upper: Math.max(...ends) };
    return nc.elementwise(x, tf.layers.rescaling({ scale: scale!, offset: offset!, name: b.name(nc.baseName) }), bounds);
  }
  // Per-channel: every non-1 dim of the constant (right-aligned) must be ONNX axis 1, the channels.
  const padded = [...new Array<number>(x.shape.length - constant.dims.length).fill(1), ...constant.dims];
  const isPerChannel = x.shape.length >= 2 && padded.every((d, i) => d === 1 || i === 1) && padded[1] === x.shape[1];
  if (!isPerChannel) nc.fail(`a constant of shape [${constant.dims.join(', ')}] against [${x.shape.join(', ')}] is neither a scalar nor per-channel, so no Keras layer applies it`);
  const channels = x.shape[1]!;
  const ones = new Float32Array(channels).fill(1);
  const [gamma, beta] =
    op === 'Add'
      ? [ones, k]
      : op === 'Sub'
        ? isConstantFirst
          ? [new Float32Array(channels).fill(-1), k]
          : [ones, k.map((v) => -v)]
        : op === 'Mul'
          ? [k, new Float32Array(channels)]
          : [k.map((v) => 1 / v), new Float32Array(channels)];
  return channelAffine(nc, x, Float32Array.from(gamma), Float32Array.from(beta));
}

export function binary(op: BinaryOp): LayerConverter {
  return (nc: NodeConversion) => {
    const [a, c] = [nc.inputs[0], nc.inputs[1]];
    if (!a || !c) nc.fail('it needs two inputs');
    return [binaryValue(nc, op, a, c)];
  };
}

export const convertConcat: LayerConverter = (nc) => {
  const values = nc.inputs.map((_v, i) => nc.symbolicInput(i, `operand ${i}`));
  const rank = values[0]!.shape.length;
  const axis = normaliseAxis(intAttr(nc.node, 'axis', 0), rank, nc.label);
  if (axis === 0) nc.fail('concatenation along the batch axis is not supported');
  if (values.some((v) => v.shape.length !== rank)) nc.fail('operands of different ranks');
  const shape = [...values[0]!.shape];
  shape[axis] = values.reduce((sum, v) => sum + v.shape[axis]!, 0);
  const b = nc.builder;
  const bounds = { lower: Math.min(...values.map((v) => v.lower)), upper: Math.max(...values.map((v) => v.upper)) };
  const name = b.name(nc.baseName);
  if (rank === 4 && values.every((v) => v.layout === 'pooled') && axis === 1) {
    return [symbolic(b.apply(tf.layers.concatenate({ axis: -1, name }), values.map((v) => v.tensor)), shape, 'pooled', bounds)];
  }
  if (rank === 4) {
    const stored = TO_NHWC.indexOf(axis as 0 | 1 | 2 | 3);
    return [symbolic(b.apply(tf.layers.concatenate({ axis: stored, name }), values.map((v) => nc.nhwc(v))), shape, 'nhwc', bounds)];
  }
  return [symbolic(b.apply(tf.layers.concatenate({ axis, name }), values.map((v) => toOnnxOrder(b, v, nc.baseName))), shape, 'onnx', bounds)];
};

// ---------------------------------------------------------------------------------------------------------
// Dense: Gemm, MatMul (+ Add)
// ---------------------------------------------------------------------------------------------------------

/** Dense(units) on the last ONNX axis with kernel [K, M] (row-major) and optional bias [M]. */
export function denseLayer(nc: NodeConversion, x: SymbolicValue, kernel: Float32Array, dims: readonly [number, number], bias: Float32Array | undefined): SymbolicValue {
  const [k, m] = dims;
  if (x.shape[x.shape.length - 1] !== k) nc.fail(`a [${dims.join(', ')}] weight does not fit an input of shape [${x.shape.join(', ')}]`);
  const input = x.shape.length === 4 && x.layout === 'pooled' ? nc.fail('a MatMul over the last axis of a pooled [N, C, 1, 1] tensor is not supported') : toOnnxOrder(nc.builder, x, nc.baseName);
  const biasData = bias;
  const b = nc.builder;
  const weights = [b.weight(kernel, [k, m]), ...(biasData ? [b.weight(biasData, [m])] : [])];
  const layer = tf.layers.dense({ units: m, useBias: biasData !== undefined, kernelInitializer: 'zeros', biasInitializer: 'zeros', weights, name: b.name(nc.baseName) });
  return symbolic(b.apply(layer, input), [...x.shape.slice(0, -1), m], 'onnx');
}

/** A [M], [1, M] or scalar constant as a bias of M values, or undefined when it has another shape. */
function asBias(value: HostValue, m: number): Float32Array | undefined {
  const data = floats(value);
  if (data.length === m && value.dims.filter((d) => d !== 1).length <= 1 && (value.dims[value.dims.length - 1] ?? 1) === m) return data;
  if (data.length === 1) return new Float32Array(m).fill(data[0]!);
  return undefined;
}

export const convertGemm: LayerConverter = (nc: NodeConversion) => {
  const x = nc.symbolicInput(0);
  if (intAttr(nc.node, 'transA', 0) === 1) nc.fail('transA=1 is not supported');
  if (x.shape.length !== 2) nc.fail(`Gemm needs a rank-2 input, got [${x.shape.join(', ')}]`);
  const weight = nc.constantInput(1, 'weight');
  if (weight.dims.length !== 2) nc.fail(`weight shape [${weight.dims.join(', ')}] is not 2-D`);
  const alpha = floatAttr(nc.node, 'alpha', 1);
  const beta = floatAttr(nc.node, 'beta', 1);
  const isTransposed = intAttr(nc.node, 'transB', 0) === 1;
  const [k, m] = (isTransposed ? [weight.dims[1], weight.dims[0]] : weight.dims) as [number, number];
  const w = floats(weight);
  const kernel = new Float32Array(k * m);
  for (let i = 0; i < k; i++) for (let j = 0; j < m; j++) kernel[i * m + j] = alpha * (isTransposed ? w[j * k + i]! : w[i * m + j]!);
  let bias: Float32Array | undefined;
  if (nc.ctx.hasInput(2)) {
    const c = asBias(nc.constantInput(2, 'bias'), m);
    if (!c) nc.fail(`bias of shape [${nc.constantInput(2, 'bias').dims.join(', ')}] is not [${m}]`);
    bias = c.map((v) => v * beta);
  }
  return [denseLayer(nc, x, kernel, [k, m], bias)];
};

/** MatMul by a constant [K, M] matrix; a following Add of a [M] constant (the usual exported Linear) becomes the bias. */
export const convertMatMul: LayerConverter = (nc) => {
  const x = nc.symbolicInput(0);
  const weight = nc.constantInput(1, 'weight (the second operand)');
  if (weight.dims.length !== 2) nc.fail(`weight shape [${weight.dims.join(', ')}] is not 2-D`);
  const [k, m] = weight.dims as [number, number];
  const add = nc.soleConsumer();
  if (add?.opType === 'Add' && (add.domain ?? '') === '') {
    const other = (add.input ?? []).find((name) => name !== (nc.node.output ?? [])[0]);
    const constant = other ? nc.constantNamed(other) : undefined;
    const bias = constant ? asBias(constant, m) : undefined;
    if (bias) {
      const fused = denseLayer(nc, x, floats(weight), [k, m], bias);
      nc.fuseInto(add, fused);
      return [fused];
    }
  }
  return [denseLayer(nc, x, floats(weight), [k, m], undefined)];
};
