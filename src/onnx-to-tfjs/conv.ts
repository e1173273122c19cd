import * as tf from '@tensorflow/tfjs';
import { intAttr, intsAttr, stringAttr } from '../onnx/attributes.js';
import type { ImportContext, Kernel } from './import-context.js';
import { asNhwc, device, type HostValue } from './values.js';

/** Explicit [top, left, bottom, right] pads of a 2-D window op, from `pads` or `auto_pad`. */
export function windowPads(ctx: ImportContext, inHW: readonly number[], kernel: readonly number[], stride: readonly number[], dilation: readonly number[]): number[] {
  const autoPad = stringAttr(ctx.node, 'auto_pad', 'NOTSET');
  if (autoPad === 'NOTSET') {
    const pads = intsAttr(ctx.node, 'pads') ?? [0, 0, 0, 0];
    if (pads.length !== 4) ctx.fail(`pads [${pads.join(', ')}] are not 2-D`);
    return pads;
  }
  if (autoPad === 'VALID') return [0, 0, 0, 0];
  const begin: number[] = [];
  const end: number[] = [];
  for (let i = 0; i < 2; i++) {
    const out = Math.ceil(inHW[i]! / stride[i]!);
    const total = Math.max(0, (out - 1) * stride[i]! + (kernel[i]! - 1) * dilation[i]! + 1 - inHW[i]!);
    const small = Math.floor(total / 2);
    begin.push(autoPad === 'SAME_LOWER' ? total - small : small);
    end.push(autoPad === 'SAME_LOWER' ? small : total - small);
  }
  return [begin[0]!, begin[1]!, end[0]!, end[1]!];
}

/** tfjs padding argument for explicit ONNX pads. */
export function tfPadding(pads: readonly number[]): 'valid' | [[number, number], [number, number], [number, number], [number, number]] {
  if (pads.every((p) => p === 0)) return 'valid';
  return [[0, 0], [pads[0]!, pads[2]!], [pads[1]!, pads[3]!], [0, 0]];
}

/**
 * A 2-D convolution with float ONNX weights `weight` [O, I/group, kH, kW] (and `bias` [O]), as tfjs NHWC ops.
 * The weight becomes one variable in tfjs layout at import: [kH, kW, I/group, O] for plain and grouped
 * convolutions, [kH, kW, C, multiplier] for depthwise ones. Used by Conv and QLinearConv.
 */
export function convKernel(ctx: ImportContext, weight: HostValue, bias: HostValue | undefined, weightKey: string, biasKey: string): (x: tf.Tensor4D) => tf.Tensor4D {
  const node = ctx.node;
  if (weight.dims.length !== 4) ctx.fail(`only 2-D convolutions are supported (weight shape [${weight.dims.join(', ')}])`);
  const [outChannels, groupChannels, kH, kW] = weight.dims as [number, number, number, number];
  const group = intAttr(node, 'group', 1);
  const stride = intsAttr(node, 'strides') ?? [1, 1];
  const dilation = intsAttr(node, 'dilations') ?? [1, 1];
  const isDepthwise = group > 1 && groupChannels === 1 && outChannels % group === 0;
  const multiplier = outChannels / group;
  const filter = ctx.variable(weightKey, () =>
    tf.tidy(() => {
      const w = tf.tensor4d(weight.data as Float32Array, [outChannels, groupChannels, kH, kW]);
      return isDepthwise ? tf.transpose(tf.reshape(w, [group, multiplier, kH, kW]), [2, 3, 0, 1]) : tf.transpose(w, [2, 3, 1, 0]);
    }),
  ) as tf.Variable<tf.Rank.R4>;
  const biasVariable = bias ? ctx.variable(biasKey, () => tf.tensor1d(bias.data as Float32Array)) : undefined;
  // A 1x1 stride-1 convolution is a matMul over pixels: same result, and matMul has gradient kernels on
  // tfjs-wasm, where Conv2DBackpropFilter is missing (ARCHITECTURE.md), so pointwise layers stay trainable there.
  const isPointwise = group === 1 && kH === 1 && kW === 1 && stride.every((s) => s === 1);

  // tfjs refuses strides > 1 together with dilations > 1: convolve at stride 1 and keep every stride-th output.
  const isSubsampled = stride.some((s) => s > 1) && dilation.some((d) => d > 1);
  const convStride = (isSubsampled ? [1, 1] : stride) as [number, number];

  return (x) => {
    const pads = windowPads(ctx, x.shape.slice(1, 3), [kH, kW], stride, dilation);
    const padding = tfPadding(pads);
    let y: tf.Tensor4D;
    if (isPointwise && padding === 'valid') {
      const [n, h, w, c] = x.shape;
      y = tf.reshape(tf.matMul(tf.reshape(x, [n * h * w, c]), tf.reshape(filter, [c, outChannels])), [n, h, w, outChannels]);
    } else if (group === 1) {
      y = tf.conv2d(x, filter, convStride, padding, 'NHWC', dilation as [number, number]);
    } else if (isDepthwise) {
      y = tf.depthwiseConv2d(x, filter, convStride, padding, 'NHWC', dilation as [number, number]);
    } else {
      const xs = tf.split(x, group, 3);
      const fs = tf.split(filter, group, 3);
      y = tf.concat(xs.map((xi, g) => tf.conv2d(xi as tf.Tensor4D, fs[g] as tf.Tensor4D, convStride, padding, 'NHWC', dilation as [number, number])), 3) as tf.Tensor4D;
    }
    if (isSubsampled) y = tf.stridedSlice(y, [0, 0, 0, 0], y.shape, [1, stride[0]!, stride[1]!, 1]) as tf.Tensor4D;
    return biasVariable ? tf.add(y, biasVariable) : y;
  };
}

/** ONNX Conv (2-D; groups, depthwise, pads/auto_pad, strides, dilations). */
export function importConv(ctx: ImportContext): Kernel {
  const weight = ctx.requireConstant(1, 'weight');
  const bias = ctx.hasInput(2) ? ctx.requireConstant(2, 'bias') : undefined;
  const conv = convKernel(ctx, weight, bias, ctx.inputName(1), ctx.inputName(2));
  return (inputs) => [device(conv(asNhwc(inputs[0]!, ctx.label)), true)];
}
