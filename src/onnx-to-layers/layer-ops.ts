import * as tf from '@tensorflow/tfjs';
import { ONNX_INT64 } from '../onnx/onnx-model.js';
import { floatAttr, intAttr, intsAttr, stringAttr } from '../onnx/attributes.js';
import { windowPads } from '../onnx-to-tfjs/conv.js';
import { reshapeDims } from '../onnx-to-tfjs/ops-shape.js';
import { hostNumbers, hostValue, isFloatType, normaliseAxis, TO_NHWC, type HostValue } from '../onnx-to-tfjs/values.js';
import { BATCH, broadcastShape, kerasDims, reshapeValue, symbolic, toOnnxOrder, UNBOUNDED, type LayerValue, type SymbolicValue } from './layer-values.js';
import type { NodeConversion } from './node-context.js';

/*
 * ONNX operators as Keras layers (NHWC). Each converter turns one node into zero or more layers applied to
 * symbolic tensors; weights are converted once, at conversion. Layers that only reorder data (Permute,
 * Reshape) are added only where a consumer needs the other order, as onnx-to-tfjs does with its values.
 */

/** Converts one node; returns its output values in ONNX output order. */
export type LayerConverter = (nc: NodeConversion) => LayerValue[];

interface Bounds {
  readonly lower: number;
  readonly upper: number;
}

function floats(value: HostValue): Float32Array {
  return value.data instanceof Float32Array ? value.data : Float32Array.from(value.data, Number);
}

function product(dims: readonly number[]): number {
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

// ---------------------------------------------------------------------------------------------------------
// Convolutions and pooling
// ---------------------------------------------------------------------------------------------------------

type PaddingChoice = { readonly padding: 'valid' | 'same' } | { readonly padding: 'valid'; readonly explicit: [[number, number], [number, number]] };

/**
 * The Keras padding for explicit ONNX pads [top, left, bottom, right]: 'valid' for none, 'same' when they are
 * exactly TensorFlow's SAME pads for this size (extra pixel at the end), otherwise explicit ZeroPadding2D.
 */
function kerasPadding(pads: readonly number[], inHW: readonly number[], kernel: readonly number[], stride: readonly number[], dilation: readonly number[]): PaddingChoice {
  if (pads.every((p) => p === 0)) return { padding: 'valid' };
  const isSame = [0, 1].every((i) => {
    const out = Math.ceil(inHW[i]! / stride[i]!);
    const total = Math.max((out - 1) * stride[i]! + (kernel[i]! - 1) * dilation[i]! + 1 - inHW[i]!, 0);
    const begin = Math.floor(total / 2);
    return pads[i] === begin && pads[i + 2] === total - begin;
  });
  if (isSame) return { padding: 'same' };
  return { padding: 'valid', explicit: [[pads[0]!, pads[2]!], [pads[1]!, pads[3]!]] };
}

/** The NHWC input of a window op, zero-padded when its pads are neither 'valid' nor 'same'. */
function paddedInput(nc: NodeConversion, x: SymbolicValue, choice: PaddingChoice): tf.SymbolicTensor {
  const input = nc.nhwc(x);
  if (!('explicit' in choice)) return input;
  return nc.builder.apply(tf.layers.zeroPadding2d({ padding: choice.explicit, name: nc.builder.name(nc.baseName, 'pad') }), input);
}

function checkOutputSize(nc: NodeConversion, y: tf.SymbolicTensor, x: SymbolicValue, pads: readonly number[], kernel: readonly number[], stride: readonly number[], dilation: readonly number[]): void {
  const expected = [0, 1].map((i) => Math.floor((x.shape[2 + i]! + pads[i]! + pads[i + 2]! - ((kernel[i]! - 1) * dilation[i]! + 1)) / stride[i]!) + 1);
  const actual = kerasDims(y).slice(0, 2);
  if (actual[0] !== expected[0] || actual[1] !== expected[1]) {
    nc.fail(`the Keras layer gives a ${actual.join('x')} output where ONNX gives ${expected.join('x')}`);
  }
}

/**
 * A 2-D convolution with float ONNX weights [O, I/group, kH, kW] (and bias [O]) as Conv2D (group 1) or
 * DepthwiseConv2D (group == input channels), with ZeroPadding2D in front when the pads are not 'same'.
 */
export function convLayer(nc: NodeConversion, x: SymbolicValue, weight: HostValue, bias: Float32Array | undefined): SymbolicValue {
  const node = nc.node;
  if (weight.dims.length !== 4) nc.fail(`only 2-D convolutions are supported (weight shape [${weight.dims.join(', ')}])`);
  if (x.shape.length !== 4) nc.fail(`only 2-D convolutions are supported (input shape [${x.shape.join(', ')}])`);
  const [outChannels, groupChannels, kH, kW] = weight.dims as [number, number, number, number];
  const group = intAttr(node, 'group', 1);
  const stride = intsAttr(node, 'strides') ?? [1, 1];
  const dilation = intsAttr(node, 'dilations') ?? [1, 1];
  const inChannels = x.shape[1]!;
  if (groupChannels * group !== inChannels) nc.fail(`weight [${weight.dims.join(', ')}] with group ${group} does not fit ${inChannels} input channels`);
  const isDepthwise = group > 1 && groupChannels === 1 && group === inChannels;
  if (group > 1 && !isDepthwise) nc.fail(`a grouped convolution (group ${group} over ${inChannels} channels) has no TF.js Keras layer; only group 1 and depthwise (group == channels) do`);
  if (stride.some((s) => s > 1) && dilation.some((d) => d > 1)) nc.fail('TF.js convolutions cannot combine strides > 1 with dilations > 1');
  const pads = windowPads(nc.ctx, x.shape.slice(2), [kH, kW], stride, dilation);
  const choice = kerasPadding(pads, x.shape.slice(2), [kH, kW], stride, dilation);
  const input = paddedInput(nc, x, choice);
  const w = floats(weight);
  const kernel = new Float32Array(w.length);
  if (isDepthwise) {
    // [C * m, 1, kH, kW] -> [kH, kW, C, m]
    const multiplier = outChannels / group;
    for (let o = 0; o < outChannels; o++) {
      const [c, m] = [Math.floor(o / multiplier), o % multiplier];
      for (let i = 0; i < kH * kW; i++) kernel[(i * group + c) * multiplier + m] = w[o * kH * kW + i]!;
    }
  } else {
    // [O, I, kH, kW] -> [kH, kW, I, O]
    for (let o = 0; o < outChannels; o++) {
      for (let c = 0; c < groupChannels; c++) {
        for (let i = 0; i < kH * kW; i++) kernel[(i * groupChannels + c) * outChannels + o] = w[(o * groupChannels + c) * kH * kW + i]!;
      }
    }
  }
  const biasData = bias;
  const b = nc.builder;
  const kernelTensor = b.weight(kernel, isDepthwise ? [kH, kW, inChannels, outChannels / group] : [kH, kW, inChannels, outChannels]);
  const weights = biasData ? [kernelTensor, b.weight(biasData, [outChannels])] : [kernelTensor];
  const common = {
    kernelSize: [kH, kW] as [number, number],
    strides: stride as [number, number],
    padding: choice.padding,
    dilationRate: dilation as [number, number],
    useBias: biasData !== undefined,
    biasInitializer: 'zeros' as const,
    weights,
    name: b.name(nc.baseName),
  };
  const layer = isDepthwise
    ? tf.layers.depthwiseConv2d({ ...common, depthMultiplier: outChannels / group, depthwiseInitializer: 'zeros' })
    : tf.layers.conv2d({ ...common, filters: outChannels, kernelInitializer: 'zeros' });
  const y = b.apply(layer, input);
  checkOutputSize(nc, y, x, pads, [kH, kW], stride, dilation);
  const [oh, ow] = kerasDims(y);
  return symbolic(y, [BATCH, outChannels, oh!, ow!], 'nhwc');
}

export const convertConv: LayerConverter = (nc) => {
  const x = nc.symbolicInput(0);
  const weight = nc.constantInput(1, 'weight');
  const bias = nc.ctx.hasInput(2) ? floats(nc.constantInput(2, 'bias')) : undefined;
  return [convLayer(nc, x, weight, bias)];
};

function poolGeometry(nc: NodeConversion) {
  const kernel = intsAttr(nc.node, 'kernel_shape') ?? [];
  if (kernel.length !== 2) nc.fail(`only 2-D pooling is supported (kernel_shape [${kernel.join(', ')}])`);
  const stride = intsAttr(nc.node, 'strides') ?? [1, 1];
  if ((intsAttr(nc.node, 'dilations') ?? [1, 1]).some((d) => d !== 1)) nc.fail('dilated pooling is not supported');
  return { kernel, stride, isCeil: intAttr(nc.node, 'ceil_mode', 0) === 1 };
}

/**
 * The least extra end padding that makes floor-mode output sizes equal ceil_mode's (ONNX drops a last window
 * that would start inside the end padding). Often it turns the pads into TensorFlow's 'same' pads.
 */
function ceilExtra(inHW: readonly number[], pads: readonly number[], kernel: readonly number[], stride: readonly number[]): number[] {
  return [0, 1].map((i) => {
    const padded = inHW[i]! + pads[i]! + pads[i + 2]!;
    let ceilOut = Math.ceil((padded - kernel[i]!) / stride[i]!) + 1;
    if ((ceilOut - 1) * stride[i]! >= inHW[i]! + pads[i]!) ceilOut--;
    return Math.max(0, (ceilOut - 1) * stride[i]! + kernel[i]! - padded);
  });
}

export const convertMaxPool: LayerConverter = (nc) => {
  if (nc.ctx.usesExtraOutputs()) nc.fail('the Indices output is not supported');
  const x = nc.symbolicInput(0);
  if (x.shape.length !== 4) nc.fail('only rank-4 inputs are supported');
  const { kernel, stride, isCeil } = poolGeometry(nc);
  const inHW = x.shape.slice(2);
  const pads = windowPads(nc.ctx, inHW, kernel, stride, [1, 1]);
  if (isCeil) {
    const extra = ceilExtra(inHW, pads, kernel, stride);
    pads[2]! += extra[0]!;
    pads[3]! += extra[1]!;
  }
  const choice = kerasPadding(pads, inHW, kernel, stride, [1, 1]);
  // Zero padding equals ONNX's -inf padding only when no real value is below zero (the input of a ReLU's pool).
  if ('explicit' in choice && x.lower < 0) {
    nc.fail(`pads [${pads.join(', ')}] are not TensorFlow 'same' pads and the input may be negative, so zero padding would change the maximum`);
  }
  const b = nc.builder;
  const y = b.apply(tf.layers.maxPooling2d({ poolSize: kernel as [number, number], strides: stride as [number, number], padding: choice.padding, name: b.name(nc.baseName) }), paddedInput(nc, x, choice));
  checkOutputSize(nc, y, x, pads, kernel, stride, [1, 1]);
  const [oh, ow] = kerasDims(y);
  return [symbolic(y, [BATCH, x.shape[1]!, oh!, ow!], 'nhwc', { lower: Math.min(x.lower, 'explicit' in choice ? 0 : x.lower), upper: x.upper })];
};

export const convertAveragePool: LayerConverter = (nc) => {
  const x = nc.symbolicInput(0);
  if (x.shape.length !== 4) nc.fail('only rank-4 inputs are supported');
  const { kernel, stride, isCeil } = poolGeometry(nc);
  const inHW = x.shape.slice(2);
  const pads = windowPads(nc.ctx, inHW, kernel, stride, [1, 1]);
  if (isCeil && ceilExtra(inHW, pads, kernel, stride).some((e) => e !== 0)) nc.fail('ceil_mode that changes the output size is not supported');
  const isCountingPads = intAttr(nc.node, 'count_include_pad', 0) === 1;
  let choice = kerasPadding(pads, inHW, kernel, stride, [1, 1]);
  // Keras 'same' average pooling leaves the padding out of the count, like count_include_pad=0.
  if (isCountingPads && choice.padding === 'same') choice = { padding: 'valid', explicit: [[pads[0]!, pads[2]!], [pads[1]!, pads[3]!]] };
  if (!isCountingPads && 'explicit' in choice) nc.fail(`pads [${pads.join(', ')}] excluded from the average are not TensorFlow 'same' pads`);
  const b = nc.builder;
  const y = b.apply(tf.layers.averagePooling2d({ poolSize: kernel as [number, number], strides: stride as [number, number], padding: choice.padding, name: b.name(nc.baseName) }), paddedInput(nc, x, choice));
  checkOutputSize(nc, y, x, pads, kernel, stride, [1, 1]);
  const [oh, ow] = kerasDims(y);
  const padded = 'explicit' in choice;
  return [symbolic(y, [BATCH, x.shape[1]!, oh!, ow!], 'nhwc', { lower: padded ? Math.min(x.lower, 0) : x.lower, upper: padded ? Math.max(x.upper, 0) : x.upper })];
};

/** GlobalAveragePool / GlobalMaxPool: [N, C, H, W] -> [N, C, 1, 1], stored [N, C] as Keras's global pools return it. */
export function globalPool(kind: 'average' | 'max'): LayerConverter {
  return (nc) => {
    const x = nc.symbolicInput(0);
    if (x.shape.length !== 4) nc.fail('only rank-4 inputs are supported');
    return [globalPoolValue(nc, x, kind)];
  };
}

function globalPoolValue(nc: NodeConversion, x: SymbolicValue, kind: 'average' | 'max'): SymbolicValue {
  if (x.layout === 'pooled') return x;
  const b = nc.builder;
  const layer = kind === 'average' ? tf.layers.globalAveragePooling2d({ name: b.name(nc.baseName) }) : tf.layers.globalMaxPooling2d({ name: b.name(nc.baseName) });
  return symbolic(b.apply(layer, nc.nhwc(x)), [BATCH, x.shape[1]!, 1, 1], 'pooled', x);
}

/** ReduceMean / ReduceMax over H and W of a rank-4 value: global pooling (keepdims 0 gives [N, C]). */
function reduceSpatial(kind: 'average' | 'max'): LayerConverter {
  return (nc) => {
    const x = nc.symbolicInput(0);
    const keepDims = intAttr(nc.node, 'keepdims', 1) === 1;
    const fromInput = nc.ctx.hasInput(1) ? hostNumbers(nc.constantInput(1, 'axes')) : undefined;
    const axes = (intsAttr(nc.node, 'axes') ?? fromInput ?? []).map((a) => normaliseAxis(a, x.shape.length, nc.label)).sort();
    if (x.shape.length !== 4 || axes.join(',') !== '2,3') nc.fail(`only a reduction over H and W (axes [2, 3]) of a rank-4 tensor is supported; axes [${axes.join(', ')}] of [${x.shape.join(', ')}] is not`);
    const pooled = globalPoolValue(nc, x, kind);
    return [keepDims ? pooled : symbolic(pooled.tensor, [BATCH, x.shape[1]!], 'onnx', pooled)];
  };
}

export const convertReduceMean = reduceSpatial('average');
export const convertReduceMax = reduceSpatial('max');

// ---------------------------------------------------------------------------------------------------------
// Normalization, activations
// ---------------------------------------------------------------------------------------------------------

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
function channelAffine(nc: NodeConversion, x: SymbolicValue, gamma: Float32Array, beta: Float32Array): SymbolicValue {
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

// ---------------------------------------------------------------------------------------------------------
// Elementwise arithmetic
// ---------------------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------------------
// Shapes and data movement
// ---------------------------------------------------------------------------------------------------------

export const convertFlatten: LayerConverter = (nc) => {
  const x = nc.symbolicInput(0);
  const axis = normaliseAxis(intAttr(nc.node, 'axis', 1), x.shape.length + 1, nc.label);
  const dims = [product(x.shape.slice(0, axis)), product(x.shape.slice(axis))];
  if (dims[0] !== BATCH || axis === 0) nc.fail(`flattening at axis ${axis} would merge the batch axis of [${x.shape.join(', ')}]`);
  return [reshapeValue(nc.builder, x, dims, nc.baseName)];
};

export const convertReshape: LayerConverter = (nc) => {
  const x = nc.symbolicInput(0);
  const target = hostNumbers(nc.constantInput(1, 'shape'));
  const dims = reshapeDims(x.shape, target, intAttr(nc.node, 'allowzero', 0) === 1, nc.ctx);
  if (dims[0] !== BATCH) nc.fail(`reshaping [${x.shape.join(', ')}] to [${target.join(', ')}] changes the batch axis`);
  return [reshapeValue(nc.builder, x, dims, nc.baseName)];
};

function axesOf(nc: NodeConversion, rank: number): number[] | undefined {
  const raw = intsAttr(nc.node, 'axes') ?? (nc.ctx.hasInput(1) ? hostNumbers(nc.constantInput(1, 'axes')) : undefined);
  return raw?.map((a) => normaliseAxis(a, rank, nc.label));
}

export const convertSqueeze: LayerConverter = (nc) => {
  const x = nc.symbolicInput(0);
  const axes = axesOf(nc, x.shape.length) ?? x.shape.flatMap((d, i) => (d === 1 && i > 0 ? [i] : []));
  if (axes.includes(0) || axes.some((a) => x.shape[a] !== 1)) nc.fail(`cannot squeeze axes [${axes.join(', ')}] of [${x.shape.join(', ')}]`);
  return [reshapeValue(nc.builder, x, x.shape.filter((_d, i) => !axes.includes(i)), nc.baseName)];
};

export const convertUnsqueeze: LayerConverter = (nc) => {
  const x = nc.symbolicInput(0);
  const count = (intsAttr(nc.node, 'axes') ?? hostNumbers(nc.constantInput(1, 'axes'))).length;
  const rank = x.shape.length + count;
  const axes = axesOf(nc, rank) ?? [];
  if (axes.includes(0)) nc.fail('inserting an axis before the batch is not supported');
  const dims: number[] = [];
  for (let i = 0, j = 0; i < rank; i++) dims.push(axes.includes(i) ? 1 : x.shape[j++]!);
  return [reshapeValue(nc.builder, x, dims, nc.baseName)];
};

export const convertTranspose: LayerConverter = (nc) => {
  const x = nc.symbolicInput(0);
  const rank = x.shape.length;
  const perm = intsAttr(nc.node, 'perm') ?? [...Array(rank).keys()].reverse();
  if (perm[0] !== 0) nc.fail(`moving the batch axis (perm [${perm.join(', ')}]) is not supported`);
  const shape = perm.map((a) => x.shape[a]!);
  // Moving only size-1 axes is a reshape ([N, C, 1, 1] <-> [N, 1, 1, C] is the same memory).
  const nonUnit = (axes: readonly number[]) => axes.filter((a) => x.shape[a] !== 1);
  if (nonUnit(perm).join(',') === nonUnit([...x.shape.keys()]).join(',')) return [reshapeValue(nc.builder, x, shape, nc.baseName)];
  const tensor = x.layout === 'pooled' ? toOnnxOrder(nc.builder, x, nc.baseName) : x.tensor;
  const storedPerm = x.layout === 'nhwc' ? [0, 2, 3, 1] : [...Array(rank).keys()];
  // Stored axis i holds old ONNX axis storedPerm[i], which is new ONNX axis inverse[storedPerm[i]].
  const inverse = perm.map((_a, i) => perm.indexOf(i));
  const composed = storedPerm.map((a) => inverse[a]!);
  if (composed.every((a, i) => a === i)) return [symbolic(tensor, shape, 'onnx', x)];
  if (rank === 4 && composed.join(',') === '0,2,3,1') return [symbolic(tensor, shape, 'nhwc', x)];
  // Permute so the stored order is the new ONNX order: output axis j reads the stored axis holding new axis j.
  const dims = [...Array(rank).keys()].slice(1).map((j) => composed.indexOf(j));
  const b = nc.builder;
  return [symbolic(b.apply(tf.layers.permute({ dims, name: b.name(nc.baseName) }), tensor), shape, 'onnx', x)];
};

export const convertPad: LayerConverter = (nc) => {
  const x = nc.symbolicInput(0);
  const mode = stringAttr(nc.node, 'mode', 'constant');
  if (mode !== 'constant') nc.fail(`pad mode "${mode}" has no Keras layer (constant zero padding does)`);
  if (nc.ctx.opset >= 11 && nc.ctx.hasInput(3)) nc.fail('the axes input is not supported');
  const pads = nc.ctx.opset < 11 ? intsAttr(nc.node, 'pads') ?? [] : hostNumbers(nc.constantInput(1, 'pads'));
  const fill = nc.ctx.opset < 11 ? floatAttr(nc.node, 'value', 0) : nc.ctx.hasInput(2) ? Number(nc.constantInput(2, 'constant value').data[0] ?? 0) : 0;
  if (fill !== 0) nc.fail(`padding with ${fill} is not supported (ZeroPadding2D pads with 0)`);
  if (x.shape.length !== 4 || pads.length !== 8) nc.fail(`only rank-4 padding is supported (pads [${pads.join(', ')}])`);
  if ([0, 1, 4, 5].some((i) => pads[i] !== 0) || pads.some((p) => p < 0)) nc.fail(`pads [${pads.join(', ')}] touch the batch or channel axes or crop`);
  const b = nc.builder;
  const layer = tf.layers.zeroPadding2d({ padding: [[pads[2]!, pads[6]!], [pads[3]!, pads[7]!]], name: b.name(nc.baseName) });
  const shape = x.shape.map((d, i) => d + pads[i]! + pads[i + 4]!);
  return [symbolic(b.apply(layer, nc.nhwc(x)), shape, 'nhwc', { lower: Math.min(x.lower, 0), upper: Math.max(x.upper, 0) })];
};

/** Shape of a computed tensor: its static ONNX shape, with {@link BATCH} as the batch. */
export const convertShape: LayerConverter = (nc) => {
  const x = nc.symbolicInput(0);
  const start = intAttr(nc.node, 'start', 0);
  const end = (nc.node.attribute ?? []).some((a) => a.name === 'end') ? intAttr(nc.node, 'end', 0) : undefined;
  const dims = x.shape.slice(start, end);
  return [hostValue([dims.length], dims, ONNX_INT64)];
};
