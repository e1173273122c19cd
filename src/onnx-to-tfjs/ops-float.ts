import * as tf from '@tensorflow/tfjs';
import { floatAttr, intAttr, intsAttr, stringAttr } from '../onnx/attributes.js';
import { tfPadding, windowPads } from './conv.js';
import type { ImportContext, OpImporter } from './import-context.js';
import { hostBinary, hostConcat } from './ops-shape.js';
import {
  asNhwc,
  asNhwcOperand,
  asOnnx,
  device,
  hostNumbers,
  normaliseAxis,
  rankOf,
  TO_NHWC,
  type HostValue,
  type Value,
} from './values.js';

/*
 * Float operators. Rank-4 results of image ops are stored NHWC; elementwise ops keep whatever layout
 * their image operand has, so a whole CNN runs NHWC with one transpose at the input.
 */

function input(inputs: readonly (Value | undefined)[], index: number, ctx: ImportContext): Value {
  const value = inputs[index];
  if (!value) ctx.fail(`input ${index} ("${ctx.inputName(index)}") has no value`);
  return value;
}

/** A unary op that keeps its input's layout. */
function unary(fn: (x: tf.Tensor, ctx: ImportContext) => tf.Tensor): OpImporter {
  return (ctx) => (inputs) => {
    const x = input(inputs, 0, ctx);
    return [x.kind === 'device' ? device(fn(x.tensor, ctx), x.isNhwc) : device(fn(asOnnx(x), ctx))];
  };
}

export const importRelu = unary((x) => tf.relu(x));
export const importSigmoid = unary((x) => tf.sigmoid(x));
export const importTanh = unary((x) => tf.tanh(x));
export const importLeakyRelu = unary((x, ctx) => tf.leakyRelu(x, floatAttr(ctx.node, 'alpha', 0.01)));
export const importHardSigmoid = unary((x, ctx) =>
  tf.clipByValue(tf.add(tf.mul(x, floatAttr(ctx.node, 'alpha', 0.2)), floatAttr(ctx.node, 'beta', 0.5)), 0, 1),
);
export const importHardSwish = unary((x) => tf.mul(x, tf.clipByValue(tf.add(tf.mul(x, 1 / 6), 0.5), 0, 1)));

/** Clip: bounds are attributes before opset 11 and (constant) inputs from 11 on; absent means unbounded. */
export const importClip: OpImporter = (ctx) => {
  const bound = (index: number, attribute: string, fallback: number): number => {
    if (ctx.opset < 11) return floatAttr(ctx.node, attribute, fallback);
    return ctx.hasInput(index) ? Number(ctx.requireConstant(index, attribute).data[0]) : fallback;
  };
  const lo = bound(1, 'min', -3.4e38);
  const hi = bound(2, 'max', 3.4e38);
  return unary((x) => tf.clipByValue(x, lo, hi))(ctx);
};

/** Tensors of two or more operands in a common layout: NHWC when an image operand is stored NHWC. */
export function alignOperands(values: readonly Value[]): { tensors: tf.Tensor[]; isNhwc: boolean } {
  const outRank = Math.max(...values.map(rankOf));
  const isNhwc = outRank === 4 && values.some((v) => v.kind === 'device' && v.isNhwc);
  return { tensors: values.map((v) => (isNhwc ? asNhwcOperand(v) : asOnnx(v))), isNhwc };
}

function binary(fn: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, hostFn: (a: number, b: number) => number): OpImporter {
  return (ctx) => (inputs) => {
    const a = input(inputs, 0, ctx);
    const b = input(inputs, 1, ctx);
    if (a.kind === 'host' && b.kind === 'host') return [hostBinary(a, b, hostFn)];
    const { tensors, isNhwc } = alignOperands([a, b]);
    return [device(fn(tensors[0]!, tensors[1]!), isNhwc)];
  };
}

export const importAdd = binary((a, b) => tf.add(a, b), (a, b) => a + b);
export const importSub = binary((a, b) => tf.sub(a, b), (a, b) => a - b);
export const importMul = binary((a, b) => tf.mul(a, b), (a, b) => a * b);
// Integer Div truncates (hostBinary truncates integer results); float Div is exact.
export const importDiv = binary((a, b) => tf.div(a, b), (a, b) => a / b);

export const importConcat: OpImporter = (ctx) => (inputs) => {
  const values = inputs.filter((v): v is Value => v !== undefined);
  const axis = intAttr(ctx.node, 'axis', 0);
  if (values.every((v) => v.kind === 'host')) return [hostConcat(values as HostValue[], axis)];
  const rank = rankOf(values[0]!);
  const a = normaliseAxis(axis, rank, ctx.label);
  const { tensors, isNhwc } = alignOperands(values);
  return [device(tf.concat(tensors, isNhwc ? TO_NHWC.indexOf(a as 0 | 1 | 2 | 3) : a), isNhwc)];
};

/** BatchNormalization in inference form; scale/B train, the running statistics are non-trainable variables. */
export const importBatchNormalization: OpImporter = (ctx) => {
  if (ctx.usesExtraOutputs() || intAttr(ctx.node, 'training_mode', 0) === 1) ctx.fail('training-mode BatchNormalization is not supported');
  const epsilon = floatAttr(ctx.node, 'epsilon', 1e-5);
  const param = (index: number, isTrainable: boolean) => {
    const value = ctx.requireConstant(index, ['', 'scale', 'bias', 'mean', 'variance'][index]!);
    return ctx.variable(ctx.inputName(index), () => tf.tensor1d(Float32Array.from(value.data, Number)), isTrainable) as tf.Variable<tf.Rank.R1>;
  };
  const [scale, bias, mean, variance] = [param(1, true), param(2, true), param(3, false), param(4, false)];
  // Inference-mode BatchNormalization is a per-channel affine map, y = x * a + b with a = scale / sqrt(variance + eps)
  // and b = bias - mean * a, computed from the variables on [C] each run. Two broadcast ops instead of tfjs's
  // batchNorm, whose wasm kernel is ~10x slower than a plain multiply and whose gradient runs ~10 full-size ops
  // (it subtracts the mean and tiles the factors on the whole tensor): the affine form's gradient is one multiply
  // for x and a multiply plus two channel sums for scale and bias.
  const affine = (t: tf.Tensor): tf.Tensor => {
    const a = tf.mul(scale, tf.rsqrt(tf.add(variance, epsilon)));
    const b = tf.sub(bias, tf.mul(mean, a));
    return tf.add(tf.mul(t, a), b);
  };
  // Training mode: normalize with the batch's statistics and move the running ones towards them (the update is a
  // variable write, outside the gradient).
  const batchStatistics = (t: tf.Tensor, momentum: number): tf.Tensor => {
    const axes = t.rank === 4 ? [0, 1, 2] : [0];
    const { mean: batchMean, variance: batchVariance } = tf.moments(t, axes);
    tf.tidy(() => {
      mean.assign(tf.add(tf.mul(mean, momentum), tf.mul(batchMean, 1 - momentum)));
      variance.assign(tf.add(tf.mul(variance, momentum), tf.mul(batchVariance, 1 - momentum)));
    });
    return tf.add(tf.mul(tf.mul(tf.sub(t, batchMean), tf.rsqrt(tf.add(batchVariance, epsilon))), scale), bias);
  };
  return (inputs, run) => {
    const x = input(inputs, 0, ctx);
    const rank = rankOf(x);
    const normalize = (t: tf.Tensor): tf.Tensor => (run.isTraining && run.batchNormMomentum !== undefined ? batchStatistics(t, run.batchNormMomentum) : affine(t));
    // Channels are the last stored axis for NHWC images and for [N, C]; other ranks would need reshaping.
    if (rank === 4) return [device(normalize(asNhwc(x, ctx.label)), true)];
    if (rank === 2) return [device(normalize(asOnnx(x)))];
    return ctx.fail(`rank-${rank} inputs are not supported`);
  };
};

function poolGeometry(ctx: ImportContext) {
  const kernel = intsAttr(ctx.node, 'kernel_shape') ?? [];
  if (kernel.length !== 2) ctx.fail(`only 2-D pooling is supported (kernel_shape [${kernel.join(', ')}])`);
  const stride = intsAttr(ctx.node, 'strides') ?? [1, 1];
  const dilation = intsAttr(ctx.node, 'dilations') ?? [1, 1];
  if (dilation.some((d) => d !== 1)) ctx.fail('dilated pooling is not supported');
  const isCeil = intAttr(ctx.node, 'ceil_mode', 0) === 1;
  return { kernel: kernel as [number, number], stride: stride as [number, number], isCeil };
}

/** Extra end padding that makes floor-mode output sizes equal ceil_mode's. */
function ceilExtra(inHW: readonly number[], pads: readonly number[], kernel: readonly number[], stride: readonly number[]): number[] {
  return [0, 1].map((i) => {
    const span = inHW[i]! + pads[i]! + pads[i + 2]! - kernel[i]!;
    const floorOut = Math.floor(span / stride[i]!) + 1;
    let ceilOut = Math.ceil(span / stride[i]!) + 1;
    // ONNX drops a last window that would start inside the end padding.
    if ((ceilOut - 1) * stride[i]! >= inHW[i]! + pads[i]!) ceilOut--;
    return (ceilOut - floorOut) * stride[i]!;
  });
}

export const importMaxPool: OpImporter = (ctx) => {
  if (ctx.usesExtraOutputs()) ctx.fail('the Indices output is not supported');
  const { kernel, stride, isCeil } = poolGeometry(ctx);
  return (inputs) => {
    const x = asNhwc(input(inputs, 0, ctx), ctx.label);
    const inHW = x.shape.slice(1, 3);
    const pads = windowPads(ctx, inHW, kernel, stride, [1, 1]);
    if (isCeil) {
      const extra = ceilExtra(inHW, pads, kernel, stride);
      pads[2]! += extra[0]!;
      pads[3]! += extra[1]!;
    }
    return [device(tf.maxPool(x, kernel, stride, tfPadding(pads)), true)];
  };
};

export const importAveragePool: OpImporter = (ctx) => {
  const { kernel, stride, isCeil } = poolGeometry(ctx);
  const isCountingPads = intAttr(ctx.node, 'count_include_pad', 0) === 1;
  return (inputs) => {
    const x = asNhwc(input(inputs, 0, ctx), ctx.label);
    const inHW = x.shape.slice(1, 3);
    const pads = windowPads(ctx, inHW, kernel, stride, [1, 1]);
    if (isCeil && ceilExtra(inHW, pads, kernel, stride).some((e) => e !== 0)) ctx.fail('ceil_mode that changes the output size is not supported');
    if (pads.every((p) => p === 0)) return [device(tf.avgPool(x, kernel, stride, 'valid'), true)];
    const padding: [number, number][] = [[0, 0], [pads[0]!, pads[2]!], [pads[1]!, pads[3]!], [0, 0]];
    const summed = tf.avgPool(tf.pad(x, padding), kernel, stride, 'valid');
    if (isCountingPads) return [device(summed, true)];
    // Mean over real pixels only: divide by the fraction of each window that is not padding.
    const coverage = tf.avgPool(tf.pad(tf.ones([1, inHW[0]!, inHW[1]!, 1]) as tf.Tensor4D, padding), kernel, stride, 'valid');
    return [device(tf.div(summed, coverage), true)];
  };
};

export const importGlobalAveragePool: OpImporter = (ctx) => (inputs) => {
  const x = input(inputs, 0, ctx);
  if (rankOf(x) === 4) return [device(tf.mean(asNhwc(x, ctx.label), [1, 2], true), true)];
  const t = asOnnx(x);
  return [device(tf.mean(t, [...Array(t.rank).keys()].slice(2), true))];
};

export const importGlobalMaxPool: OpImporter = (ctx) => (inputs) => {
  const x = input(inputs, 0, ctx);
  if (rankOf(x) === 4) return [device(tf.max(asNhwc(x, ctx.label), [1, 2], true), true)];
  const t = asOnnx(x);
  return [device(tf.max(t, [...Array(t.rank).keys()].slice(2), true))];
};

function reduce(fn: (x: tf.Tensor, axes: number[], keepDims: boolean) => tf.Tensor): OpImporter {
  return (ctx) => (inputs) => {
    const x = input(inputs, 0, ctx);
    const rank = rankOf(x);
    const keepDims = intAttr(ctx.node, 'keepdims', 1) === 1;
    const axesInput = ctx.hasInput(1) ? inputs[1] : undefined;
    if (axesInput && axesInput.kind !== 'host') ctx.fail('axes computed from image data are not supported');
    const raw = intsAttr(ctx.node, 'axes') ?? (axesInput?.kind === 'host' ? hostNumbers(axesInput) : undefined);
    if (raw && raw.length === 0 && intAttr(ctx.node, 'noop_with_empty_axes', 0) === 1) return [x];
    const axes = (raw && raw.length > 0 ? raw : [...Array(rank).keys()]).map((a) => normaliseAxis(a, rank, ctx.label));
    if (x.kind === 'device' && x.isNhwc) {
      const stored = axes.map((a) => TO_NHWC.indexOf(a as 0 | 1 | 2 | 3));
      const remaining = TO_NHWC.filter((a) => !axes.includes(a));
      // Reducing H and W leaves [N, C] in ONNX order already; other cases go back to NCHW first.
      if (keepDims) return [device(fn(x.tensor, stored, true), true)];
      if (remaining.every((a, i) => i === 0 || a > remaining[i - 1]!)) return [device(fn(x.tensor, stored, false))];
    }
    return [device(fn(asOnnx(x), axes, keepDims))];
  };
}

export const importReduceMean = reduce((x, axes, keepDims) => tf.mean(x, axes, keepDims));
export const importReduceSum = reduce((x, axes, keepDims) => tf.sum(x, axes, keepDims));
export const importReduceMax = reduce((x, axes, keepDims) => tf.max(x, axes, keepDims));

/** A constant operand of a matrix op as a trainable variable, or the run-time operand. */
function matrixOperand(ctx: ImportContext, index: number): ((inputs: readonly (Value | undefined)[]) => tf.Tensor) {
  const constant = ctx.constant(index);
  if (constant) {
    const variable = ctx.variable(ctx.inputName(index), () => tf.tensor(Float32Array.from(constant.data, Number), [...constant.dims]));
    return () => variable;
  }
  return (inputs) => asOnnx(input(inputs, index, ctx));
}

/** Gemm: alpha * A' B' + beta * C, with A'/B' optionally transposed; constant B and C become variables. */
export const importGemm: OpImporter = (ctx) => {
  const alpha = floatAttr(ctx.node, 'alpha', 1);
  const beta = floatAttr(ctx.node, 'beta', 1);
  const transA = intAttr(ctx.node, 'transA', 0) === 1;
  const transB = intAttr(ctx.node, 'transB', 0) === 1;
  const a = matrixOperand(ctx, 0);
  const b = matrixOperand(ctx, 1);
  const c = ctx.hasInput(2) ? matrixOperand(ctx, 2) : undefined;
  return (inputs) => {
    let y: tf.Tensor = tf.matMul(a(inputs) as tf.Tensor2D, b(inputs) as tf.Tensor2D, transA, transB);
    if (alpha !== 1) y = tf.mul(y, alpha);
    if (c) y = tf.add(y, beta === 1 ? c(inputs) : tf.mul(c(inputs), beta));
    return [device(y)];
  };
};

export const importMatMul: OpImporter = (ctx) => {
  const a = matrixOperand(ctx, 0);
  const b = matrixOperand(ctx, 1);
  return (inputs) => {
    const x = a(inputs);
    const w = b(inputs);
    if (x.rank < 2 || w.rank < 2) ctx.fail('1-D MatMul operands are not supported');
    if (w.rank === 2 && x.rank > 2) {
      // [..., K] x [K, M]: fold the leading axes into one so tfjs runs a single 2-D matMul.
      const lead = x.shape.slice(0, -1);
      const flat = tf.reshape(x, [-1, x.shape[x.rank - 1]!]) as tf.Tensor2D;
      return [device(tf.reshape(tf.matMul(flat, w as tf.Tensor2D), [...lead, w.shape[1]!]))];
    }
    return [device(tf.matMul(x, w))];
  };
};

export const importPad: OpImporter = (ctx) => {
  const mode = stringAttr(ctx.node, 'mode', 'constant');
  if (mode !== 'constant' && mode !== 'reflect') ctx.fail(`pad mode "${mode}" is not supported (constant and reflect are)`);
  if (ctx.hasInput(3)) ctx.fail('the axes input is not supported');
  return (inputs) => {
    const x = input(inputs, 0, ctx);
    const padsValue = ctx.opset < 11 ? intsAttr(ctx.node, 'pads') : ctx.hasInput(1) ? inputs[1] : undefined;
    const pads = Array.isArray(padsValue) ? padsValue : padsValue?.kind === 'host' ? hostNumbers(padsValue) : ctx.fail('pads must be a constant');
    const valueInput = ctx.opset >= 11 && ctx.hasInput(2) ? inputs[2] : undefined;
    const fill = ctx.opset < 11 ? floatAttr(ctx.node, 'value', 0) : valueInput?.kind === 'host' ? Number(valueInput.data[0] ?? 0) : 0;
    const rank = rankOf(x);
    let pairs = [...Array(rank).keys()].map((a) => [pads[a]!, pads[a + rank]!] as [number, number]);
    const isNhwc = x.kind === 'device' && x.isNhwc;
    if (isNhwc) pairs = TO_NHWC.map((a) => pairs[a]!);
    const t = isNhwc ? (x as { tensor: tf.Tensor }).tensor : asOnnx(x);
    return [device(mode === 'reflect' ? tf.mirrorPad(t, pairs, 'reflect') : tf.pad(t, pairs, fill), isNhwc)];
  };
};

/** Softmax: before opset 13 it flattens to 2-D at `axis` (default 1); from 13 it is per-axis (default -1). */
export const importSoftmax: OpImporter = (ctx) => (inputs) => {
  const x = asOnnx(input(inputs, 0, ctx));
  const shape = x.shape;
  if (ctx.opset < 13) {
    const axis = normaliseAxis(intAttr(ctx.node, 'axis', 1), shape.length, ctx.label);
    const rows = shape.slice(0, axis).reduce((p, d) => p * d, 1);
    return [device(tf.reshape(tf.softmax(tf.reshape(x, [rows, -1])), shape))];
  }
  const axis = normaliseAxis(intAttr(ctx.node, 'axis', -1), shape.length, ctx.label);
  if (axis === shape.length - 1) return [device(tf.softmax(x))];
  const perm = [...Array(shape.length).keys()];
  perm[axis] = shape.length - 1;
  perm[shape.length - 1] = axis;
  return [device(tf.transpose(tf.softmax(tf.transpose(x, perm)), perm))];
};

/** Dropout drops only in `predict(x, { training: true })`; the ratio is an attribute before opset 12, an input after. */
export const importDropout: OpImporter = (ctx) => {
  if (ctx.usesExtraOutputs()) ctx.fail('the mask output is not supported');
  const ratio = ctx.opset < 12 ? floatAttr(ctx.node, 'ratio', 0.5) : ctx.hasInput(1) ? Number(ctx.requireConstant(1, 'ratio').data[0]) : 0.5;
  return (inputs, run) => {
    const x = input(inputs, 0, ctx);
    if (!run.isTraining || ratio === 0 || x.kind === 'host') return [x];
    return [device(tf.dropout(x.tensor, ratio), x.isNhwc)];
  };
};

