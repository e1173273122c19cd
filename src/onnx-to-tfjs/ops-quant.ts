import * as tf from '@tensorflow/tfjs';
import { ONNX_FLOAT, ONNX_INT8, ONNX_UINT8 } from '../onnx/onnx-model.js';
import { intAttr } from '../onnx/attributes.js';
import { convKernel } from './conv.js';
import type { ImportContext, OpImporter } from './import-context.js';
import { alignOperands } from './ops-float.js';
import { asNhwc, asOnnx, device, hostNumbers, hostValue, isFloatType, rankOf, type HostValue, type Value } from './values.js';

/*
 * Quantized operators become float operators. Weights and biases are dequantized once, at import, into
 * float variables (trainable like any other weight). Activations are carried as real float values and
 * are NOT rounded to the quantization grid (no fake quantization), so results differ from onnxruntime's
 * integer arithmetic by up to about one quantization step per layer. What IS kept is each quantized
 * output's representable range, as a clamp: quantizers fold Relu/Relu6 into a zero point and scale
 * (uint8 with zero point 0 cannot hold negatives), so dropping the clamp would drop the activation.
 */

/** A per-tensor quantization grid: real = (q - zeroPoint) * scale, q in [qMin, qMax]. */
interface QuantGrid {
  readonly scale: number;
  readonly zeroPoint: number;
  readonly qMin: number;
  readonly qMax: number;
  readonly isRounding: boolean;
}

function quantGrid(ctx: ImportContext, scaleIndex: number, zeroPointIndex: number): QuantGrid {
  const scale = ctx.requireConstant(scaleIndex, 'scale');
  if (scale.data.length !== 1) ctx.fail('per-axis quantization of activations is not supported');
  const zeroPoint = ctx.hasInput(zeroPointIndex) ? ctx.requireConstant(zeroPointIndex, 'zero point') : undefined;
  const [qMin, qMax] = integerRange(ctx, zeroPoint?.dataType ?? ONNX_UINT8);
  return { scale: Number(scale.data[0]), zeroPoint: zeroPoint ? Number(zeroPoint.data[0]) : 0, qMin, qMax, isRounding: ctx.isRoundingActivations };
}

/**
 * Rounds x to the grid in the forward pass; the gradient passes straight through inside the range and
 * is zero where the value saturated (the usual fake-quantization estimator).
 */
function roundToGrid(grid: QuantGrid): (x: tf.Tensor) => tf.Tensor {
  const [lo, hi] = [(grid.qMin - grid.zeroPoint) * grid.scale, (grid.qMax - grid.zeroPoint) * grid.scale];
  const forward = (...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor;
    (args[1] as tf.GradSaveFunc)([x]);
    const q = tf.clipByValue(tf.add(tf.round(tf.div(x, grid.scale)), grid.zeroPoint), grid.qMin, grid.qMax);
    return {
      value: tf.mul(tf.sub(q, grid.zeroPoint), grid.scale),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, tf.cast(tf.logicalAnd(tf.greaterEqual(saved[0]!, lo), tf.lessEqual(saved[0]!, hi)), 'float32')),
    };
  };
  return tf.customGrad(forward) as (x: tf.Tensor) => tf.Tensor;
}

function integerRange(ctx: ImportContext, dataType: number): [number, number] {
  if (dataType === ONNX_UINT8) return [0, 255];
  if (dataType === ONNX_INT8) return [-128, 127];
  return ctx.fail(`quantized type ${dataType} is not supported (uint8 and int8 are)`);
}

/**
 * (q - zeroPoint) * scale for a constant, per tensor or per `axis` (scale and zero point of length
 * dims[axis]). Float input (already real, e.g. folded from QuantizeLinear) is returned as is.
 */
export function dequantizeConstant(q: HostValue, scale: HostValue, zeroPoint: HostValue | undefined, axis: number, ctx: ImportContext): HostValue {
  if (isFloatType(q.dataType)) return q;
  const scales = hostNumbers(scale);
  const zeroPoints = zeroPoint ? hostNumbers(zeroPoint) : [0];
  const out = new Float32Array(q.data.length);
  if (scales.length === 1) {
    const [s, zp] = [scales[0]!, zeroPoints[0] ?? 0];
    for (let i = 0; i < out.length; i++) out[i] = (Number(q.data[i]) - zp) * s;
  } else {
    const a = axis < 0 ? axis + q.dims.length : axis;
    if (q.dims[a] !== scales.length) ctx.fail(`${scales.length} scales do not match axis ${axis} of shape [${q.dims.join(', ')}]`);
    const inner = q.dims.slice(a + 1).reduce((p, d) => p * d, 1);
    for (let i = 0; i < out.length; i++) {
      const c = Math.floor(i / inner) % scales.length;
      out[i] = (Number(q.data[i]) - (zeroPoints[c] ?? zeroPoints[0] ?? 0)) * scales[c]!;
    }
  }
  return hostValue(q.dims, out, ONNX_FLOAT);
}

/** A quantized op's output: clamped to the grid's range, and rounded to it when the import asks for that. */
function clampValue(value: { tensor: tf.Tensor; isNhwc: boolean }, grid: QuantGrid): Value {
  if (grid.isRounding) return device(roundToGrid(grid)(value.tensor), value.isNhwc);
  const [lo, hi] = [(grid.qMin - grid.zeroPoint) * grid.scale, (grid.qMax - grid.zeroPoint) * grid.scale];
  return device(tf.clipByValue(value.tensor, lo, hi), value.isNhwc);
}

function deviceInput(inputs: readonly (Value | undefined)[], ctx: ImportContext, index = 0) {
  const value = inputs[index];
  if (!value) ctx.fail(`input ${index} ("${ctx.inputName(index)}") has no value`);
  return value.kind === 'device' ? value : device(asOnnx(value));
}

/** QuantizeLinear: a constant is rounded to the grid at import (weights keep their quantization error); activations are clamped. */
export const importQuantizeLinear: OpImporter = (ctx) => {
  const constant = ctx.constant(0);
  if (constant) {
    const scale = ctx.requireConstant(1, 'scale');
    const zeroPoint = ctx.constant(2);
    const [qMin, qMax] = integerRange(ctx, zeroPoint?.dataType ?? ONNX_UINT8);
    const axis = intAttr(ctx.node, 'axis', 1);
    const scales = hostNumbers(scale);
    const zps = zeroPoint ? hostNumbers(zeroPoint) : [0];
    const inner = scales.length === 1 ? 1 : constant.dims.slice(axis + 1).reduce((p, d) => p * d, 1);
    const q = Array.from(constant.data, (v, i) => {
      const c = scales.length === 1 ? 0 : Math.floor(i / inner) % scales.length;
      // Round half to even, as ONNX specifies.
      const r = Math.round(Number(v) / scales[c]!);
      const even = Math.abs(Number(v) / scales[c]! % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
      return Math.min(qMax, Math.max(qMin, even + (zps[c] ?? 0)));
    });
    const folded = dequantizeConstant(hostValue(constant.dims, q, zeroPoint?.dataType ?? ONNX_UINT8), scale, zeroPoint, axis, ctx);
    return () => [folded];
  }
  const range = quantGrid(ctx, 1, 2);
  return (inputs) => [clampValue(deviceInput(inputs, ctx), range)];
};

/** DequantizeLinear: a constant is dequantized at import; an activation is already real-valued. */
export const importDequantizeLinear: OpImporter = (ctx) => {
  const constant = ctx.constant(0);
  if (constant) {
    const folded = dequantizeConstant(constant, ctx.requireConstant(1, 'scale'), ctx.constant(2), intAttr(ctx.node, 'axis', 1), ctx);
    return () => [folded];
  }
  return (inputs) => [inputs[0]!];
};

/** QLinearConv(x, xs, xzp, w, ws, wzp, ys, yzp, B): a float Conv with dequantized weights; bias scale = xs * ws. */
export const importQLinearConv: OpImporter = (ctx) => {
  const weight = dequantizeConstant(ctx.requireConstant(3, 'weight'), ctx.requireConstant(4, 'weight scale'), ctx.constant(5), 0, ctx);
  let bias: HostValue | undefined;
  if (ctx.hasInput(8)) {
    const b = ctx.requireConstant(8, 'bias');
    const xScale = Number(ctx.requireConstant(1, 'input scale').data[0]);
    const wScales = hostNumbers(ctx.requireConstant(4, 'weight scale'));
    bias = hostValue(b.dims, Float32Array.from(b.data, (v, i) => Number(v) * xScale * (wScales[i] ?? wScales[0]!)), ONNX_FLOAT);
  }
  const conv = convKernel(ctx, weight, bias, ctx.inputName(3), ctx.inputName(8));
  const range = quantGrid(ctx, 6, 7);
  return (inputs) => [clampValue(device(conv(asNhwc(deviceInput(inputs, ctx), ctx.label)), true), range)];
};

/** QLinearMatMul(a, as, azp, b, bs, bzp, ys, yzp) with a constant b (per-tensor or per-column scales). */
export const importQLinearMatMul: OpImporter = (ctx) => {
  const b = ctx.requireConstant(3, 'weight');
  const weight = dequantizeConstant(b, ctx.requireConstant(4, 'weight scale'), ctx.constant(5), -1, ctx);
  const variable = ctx.variable(ctx.inputName(3), () => tf.tensor(weight.data as Float32Array, [...weight.dims]));
  const range = quantGrid(ctx, 6, 7);
  return (inputs) => {
    const a = asOnnx(deviceInput(inputs, ctx));
    if (a.rank !== 2 || variable.rank !== 2) ctx.fail('only 2-D QLinearMatMul is supported');
    return [clampValue(device(tf.matMul(a as tf.Tensor2D, variable as tf.Variable<tf.Rank.R2>)), range)];
  };
};

/** QLinearAdd / QLinearMul (com.microsoft): A, As, Azp, B, Bs, Bzp, Cs, Czp; a constant operand becomes a variable. */
function qLinearBinary(fn: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): OpImporter {
  return (ctx) => {
    const operand = (index: number): ((inputs: readonly (Value | undefined)[]) => Value) => {
      const constant = ctx.constant(index);
      if (!constant) return (inputs) => deviceInput(inputs, ctx, index);
      const real = dequantizeConstant(constant, ctx.requireConstant(index + 1, 'scale'), ctx.constant(index + 2), 0, ctx);
      const variable = ctx.variable(ctx.inputName(index), () => tf.tensor(real.data as Float32Array, [...real.dims]));
      return () => device(variable);
    };
    const a = operand(0);
    const b = operand(3);
    const range = quantGrid(ctx, 6, 7);
    return (inputs) => {
      const { tensors, isNhwc } = alignOperands([a(inputs), b(inputs)]);
      return [clampValue(device(fn(tensors[0]!, tensors[1]!), isNhwc), range)];
    };
  };
}

export const importQLinearAdd = qLinearBinary((a, b) => tf.add(a, b));
export const importQLinearMul = qLinearBinary((a, b) => tf.mul(a, b));

/** QLinearGlobalAveragePool (com.microsoft): x, xs, xzp, ys, yzp; channels_last picks the layout of x. */
export const importQLinearGlobalAveragePool: OpImporter = (ctx) => {
  const isChannelsLast = intAttr(ctx.node, 'channels_last', 0) === 1;
  const range = quantGrid(ctx, 3, 4);
  return (inputs) => {
    const x = deviceInput(inputs, ctx);
    if (isChannelsLast) return [clampValue(device(tf.mean(asOnnx(x), [1, 2], true)), range)];
    if (rankOf(x) !== 4) ctx.fail('only rank-4 inputs are supported');
    return [clampValue(device(tf.mean(asNhwc(x, ctx.label), [1, 2], true), true), range)];
  };
};
