import * as tf from '@tensorflow/tfjs';
import { floatAttr, intAttr } from '../onnx/attributes.js';
import { isFloatType, normaliseAxis } from '../onnx-to-tfjs/values.js';
import { symbolic, toOnnxOrder, type SymbolicValue } from './layer-values.js';
import type { NodeConversion } from './node-context.js';
import { type Bounds, clampValue, floats, type LayerConverter } from './layer-ops-common.js';

/** Normalization and activations as Keras layers. See layer-ops.ts for the conventions. */

/** The tensor of a value with its channels (ONNX axis 1) last, as BatchNormalization(axis=-1) needs. */
function channelsLast(nc: NodeConversion, x: SymbolicValue): tf.SymbolicTensor {
  if (x.shape.length === 4) return x.layout === 'pooled' ? x.tensor : nc.nhwc(x);
  if (x.shape.length === 2) return toOnnxOrder(nc.builder, x, nc.baseName);
  return nc.fail(`per-channel operations on rank-${x.shape.length} tensors are not supported (rank 2 and 4 are)`);
}

function channelLayout(x: SymbolicValue): 'nhwc' | 'pooled' | 'onnx' {
  return x.shape.length === 4 ? (x.layout === 'pooled' ? 'pooled' : 'nhwc') : 'onnx';
}

/**
 * x * gamma + beta per channel, as a BatchNormalization layer with mean 0, variance 1 and epsilon 0 (exact:
 * the normalization divides by sqrt(1 + 0) = 1).
 */
export function channelAffine(nc: NodeConversion, x: SymbolicValue, gamma: Float32Array, beta: Float32Array): SymbolicValue {
  const b = nc.builder;
  const c = gamma.length;
  const layer = tf.layers.batchNormalization({
    axis: -1,
    epsilon: 0,
    weights: [b.weight(gamma, [c]), b.weight(beta, [c]), b.weight(new Float32Array(c), [c]), b.weight(new Float32Array(c).fill(1), [c])],
    name: b.name(nc.baseName, 'affine'),
  });
  return symbolic(b.apply(layer, channelsLast(nc, x)), x.shape, channelLayout(x));
}

export const convertBatchNormalization: LayerConverter = (nc) => {
  if (nc.ctx.usesExtraOutputs() || intAttr(nc.node, 'training_mode', 0) === 1) nc.fail('training-mode BatchNormalization is not supported');
  const x = nc.symbolicInput(0);
  const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) => floats(nc.constantInput(i, ['', 'scale', 'bias', 'mean', 'variance'][i]!)));
  const b = nc.builder;
  const c = scale!.length;
  const layer = tf.layers.batchNormalization({
    axis: -1,
    epsilon: floatAttr(nc.node, 'epsilon', 1e-5),
    weights: [scale!, bias!, mean!, variance!].map((d) => b.weight(d, [c])),
    name: b.name(nc.baseName),
  });
  return [symbolic(b.apply(layer, channelsLast(nc, x)), x.shape, channelLayout(x))];
};

export const convertRelu: LayerConverter = (nc) => {
  const x = nc.symbolicInput(0);
  return [nc.elementwise(x, tf.layers.reLU({ name: nc.builder.name(nc.baseName) }), { lower: Math.max(0, x.lower), upper: Math.max(0, x.upper) })];
};

export const convertClip: LayerConverter = (nc) => {
  const x = nc.symbolicInput(0);
  const bound = (index: number, attribute: string, fallback: number): number => {
    if (nc.ctx.opset < 11) return floatAttr(nc.node, attribute, fallback);
    return nc.ctx.hasInput(index) ? Number(nc.constantInput(index, attribute).data[0]) : fallback;
  };
  return [clampValue(nc, x, bound(1, 'min', -Infinity), bound(2, 'max', Infinity))];
};

export const convertLeakyRelu: LayerConverter = (nc) => [
  nc.elementwise(nc.symbolicInput(0), tf.layers.leakyReLU({ alpha: floatAttr(nc.node, 'alpha', 0.01), name: nc.builder.name(nc.baseName) })),
];

function activation(name: 'sigmoid' | 'tanh', bounds: Bounds): LayerConverter {
  return (nc) => [nc.elementwise(nc.symbolicInput(0), tf.layers.activation({ activation: name, name: nc.builder.name(nc.baseName) }), bounds)];
}

export const convertSigmoid = activation('sigmoid', { lower: 0, upper: 1 });
export const convertTanh = activation('tanh', { lower: -1, upper: 1 });

/** clip(alpha * x + beta, 0, 1) as Rescaling + ReLU(max_value=1): exact for any alpha/beta (Keras's hard_sigmoid differs across versions). */
function hardSigmoid(nc: NodeConversion, x: SymbolicValue, alpha: number, beta: number, suffix: string): SymbolicValue {
  const b = nc.builder;
  const scaled = nc.elementwise(x, tf.layers.rescaling({ scale: alpha, offset: beta, name: b.name(nc.baseName, `${suffix}scale`) }));
  return nc.elementwise(scaled, tf.layers.reLU({ maxValue: 1, name: b.name(nc.baseName, `${suffix}clip`) }), { lower: 0, upper: 1 });
}

export const convertHardSigmoid: LayerConverter = (nc) => [hardSigmoid(nc, nc.symbolicInput(0), floatAttr(nc.node, 'alpha', 0.2), floatAttr(nc.node, 'beta', 0.5), '')];

export const convertHardSwish: LayerConverter = (nc) => {
  const x = nc.symbolicInput(0);
  const gate = hardSigmoid(nc, x, 1 / 6, 0.5, 'gate_');
  const b = nc.builder;
  return [symbolic(b.apply(tf.layers.multiply({ name: b.name(nc.baseName) }), [x.tensor, gate.tensor]), x.shape, x.layout)];
};

export const convertSoftmax: LayerConverter = (nc) => {
  const x = nc.symbolicInput(0);
  const rank = x.shape.length;
  const axis = normaliseAxis(intAttr(nc.node, 'axis', nc.ctx.opset < 13 ? 1 : -1), rank, nc.label);
  // Before opset 13 Softmax flattens from `axis` on; that is the last axis only when axis is the last one.
  const isLastOnnx = axis === rank - 1;
  const isLastStored = (isLastOnnx && x.layout === 'onnx') || (axis === 1 && (x.layout === 'nhwc' || x.layout === 'pooled'));
  if (!isLastStored) nc.fail(`softmax over axis ${axis} of [${x.shape.join(', ')}] is not supported (only the channel/last axis)`);
  return [nc.elementwise(x, tf.layers.softmax({ axis: -1, name: nc.builder.name(nc.baseName) }), { lower: 0, upper: 1 })];
};

export const convertPassThrough: LayerConverter = (nc) => {
  if (nc.node.opType === 'Dropout' && nc.ctx.usesExtraOutputs()) nc.fail('the mask output is not supported');
  return [nc.symbolicInput(0)];
};

export const convertCast: LayerConverter = (nc) => {
  const to = intAttr(nc.node, 'to', 1);
  if (!isFloatType(to)) nc.fail(`casting image data to ONNX type ${to} is not supported (Keras layers stay float)`);
  return [nc.symbolicInput(0)];
};
