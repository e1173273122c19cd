import * as tf from '@tensorflow/tfjs';
import { intAttr, intsAttr } from '../onnx/attributes.js';
import { windowPads } from '../onnx-to-tfjs/conv.js';
import { hostNumbers, normaliseAxis, type HostValue } from '../onnx-to-tfjs/values.js';
import { BATCH, kerasDims, symbolic, type SymbolicValue } from './layer-values.js';
import type { NodeConversion } from './node-context.js';
import { floats, type LayerConverter } from './layer-ops-common.js';

/** Convolutions and pooling as Keras layers (NHWC). See layer-ops.ts for the conventions. */

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
