import type { OnnxGraphBuilder, OnnxValue } from '../onnx/graph-builder.js';
import { attrFloat, attrInts, attrString, attrStrings, attrBool, type GraphNodeDef } from '../readers/tfjs-graph/graph-model-json.js';
import { unsupported, type ConstInitializers, type ConstOperand, type Operand } from './graph-operand.js';

/** What op emitters share: the graph being built and the Const initializer cache. */
export interface OpContext {
  readonly builder: OnnxGraphBuilder;
  readonly consts: ConstInitializers;
}

/**
 * Conv2D, DepthwiseConv2dNative and their fused forms (_FusedConv2D, FusedDepthwiseConv2dNative with
 * fused_ops BiasAdd then Relu/Relu6/Elu/Sigmoid/LeakyRelu). The filter (HWIO, or HW·C·multiplier for
 * depthwise) becomes an OIHW initializer; SAME padding becomes explicit pads from the static shapes,
 * the extra pixel at the bottom/right as TF puts it.
 */
export function emitConv(ctx: OpContext, node: GraphNodeDef, inputs: readonly Operand[], isDepthwise: boolean): OnnxValue {
  const x = valueInput(node, inputs, 0);
  const filter = constInput(node, inputs, 1, 'filter');
  requireNhwc(node);
  if (filter.shape.length !== 4) throw unsupported(node, `filter of shape [${filter.shape.join(', ')}]; expected rank 4`);
  const [kh, kw, ci, co] = filter.shape as [number, number, number, number];
  const data = filter.data instanceof Float32Array ? filter.data : Float32Array.from(filter.data);
  const outChannels = isDepthwise ? ci * co : co;
  const weights = isDepthwise ? depthwiseToOihw(data, kh, kw, ci, co) : hwioToOihw(data, kh, kw, ci, co);
  const wName = ctx.builder.floatConst(`${filter.name}_oihw`, [outChannels, isDepthwise ? 1 : ci, kh, kw], weights);
  const strides = spatial(node, attrInts(node, 'strides') ?? [1, 1, 1, 1]);
  const dilations = spatial(node, attrInts(node, 'dilations') ?? [1, 1, 1, 1]);
  const nchw = ctx.builder.toNchw(x);
  const geometry = windowGeometry(node, x, [kh, kw], strides, dilations);
  const { bias, activations } = fusedArgs(node, inputs, outChannels);
  const convInputs = [nchw.name, wName];
  if (bias) convInputs.push(ctx.builder.floatConst(`${bias.name}_bias`, [outChannels], toFloat(bias)));
  let out = ctx.builder.node('Conv', convInputs, node.name, {
    kernel_shape: { ints: [kh, kw] },
    strides: { ints: strides },
    dilations: { ints: dilations },
    pads: { ints: geometry.pads },
    group: { int: isDepthwise ? ci : 1 },
  });
  out = emitActivations(ctx, node, out, activations);
  return { name: out, shape: [x.shape[0] ?? null, geometry.outH, geometry.outW, outChannels], isNchw: true };
}

/** AvgPool and MaxPool (NHWC, 2-D). TF's SAME average excludes the padding, as count_include_pad=0 does. */
export function emitPool(ctx: OpContext, node: GraphNodeDef, inputs: readonly Operand[], kind: 'AveragePool' | 'MaxPool'): OnnxValue {
  const x = valueInput(node, inputs, 0);
  requireNhwc(node);
  const [kh, kw] = spatial(node, attrInts(node, 'ksize') ?? []);
  const strides = spatial(node, attrInts(node, 'strides') ?? [1, 1, 1, 1]);
  const geometry = windowGeometry(node, x, [kh!, kw!], strides, [1, 1]);
  const attributes = { kernel_shape: { ints: [kh!, kw!] }, strides: { ints: strides }, pads: { ints: geometry.pads } };
  const out = ctx.builder.node(kind, [ctx.builder.toNchw(x).name], node.name, kind === 'AveragePool' ? { ...attributes, count_include_pad: { int: 0 } } : attributes);
  return { name: out, shape: [x.shape[0] ?? null, geometry.outH, geometry.outW, x.shape[3] ?? null], isNchw: true };
}

/** MatMul and _FusedMatMul (rank 2, transpose_a/transpose_b; fused BiasAdd and activations). */
export function emitMatMul(ctx: OpContext, node: GraphNodeDef, inputs: readonly Operand[]): OnnxValue {
  const a = ctx.builder.toKeras(valueInput(node, inputs, 0));
  const b = inputs[1];
  if (a.shape.length !== 2) throw unsupported(node, `input of shape [${a.shape.join(', ')}]; MatMul export needs rank 2`);
  const transposeA = attrBool(node, 'transpose_a');
  const transposeB = attrBool(node, 'transpose_b');
  const aName = transposeA ? ctx.builder.node('Transpose', [a.name], `${node.name}/a_t`, { perm: { ints: [1, 0] } }) : a.name;
  let bName: string;
  let units: number | null;
  if (b?.kind === 'const') {
    if (b.shape.length !== 2) throw unsupported(node, `weight of shape [${b.shape.join(', ')}]`);
    const [rows, cols] = b.shape as [number, number];
    const data = toFloat(b);
    const kn = transposeB ? transpose2d(data, rows, cols) : data;
    units = transposeB ? rows : cols;
    bName = ctx.builder.floatConst(`${b.name}${transposeB ? '_t' : ''}`, [transposeB ? cols : rows, units], kn);
  } else {
    const bv = ctx.builder.toKeras(valueInput(node, inputs, 1));
    bName = transposeB ? ctx.builder.node('Transpose', [bv.name], `${node.name}/b_t`, { perm: { ints: [1, 0] } }) : bv.name;
    units = bv.shape[transposeB ? 0 : 1] ?? null;
  }
  let out = ctx.builder.node('MatMul', [aName, bName], `${node.name}/matmul`);
  const { bias, activations } = fusedArgs(node, inputs, units);
  if (bias) out = ctx.builder.node('Add', [out, ctx.builder.floatConst(bias.name, bias.shape, toFloat(bias))], `${node.name}/bias`);
  out = emitActivations(ctx, node, out, activations);
  return { name: out, shape: [a.shape[transposeA ? 1 : 0] ?? null, units], isNchw: false };
}

/** An element-wise activation by TF name; undefined when the exporter does not know it. */
export function emitActivation(ctx: OpContext, node: GraphNodeDef, input: string, op: string): string | undefined {
  const b = ctx.builder;
  switch (op) {
    case 'Relu':
      return b.node('Relu', [input], `${node.name}/relu`);
    case 'Relu6':
      return b.node('Clip', [input, ctx.consts.scalar(0), ctx.consts.scalar(6)], `${node.name}/relu6`);
    case 'Elu':
      return b.node('Elu', [input], `${node.name}/elu`, { alpha: { float: 1 } });
    case 'Sigmoid':
      return b.node('Sigmoid', [input], `${node.name}/sigmoid`);
    case 'Tanh':
      return b.node('Tanh', [input], `${node.name}/tanh`);
    case 'LeakyRelu':
      return b.node('LeakyRelu', [input], `${node.name}/leaky_relu`, { alpha: { float: attrFloat(node, 'alpha') ?? 0.2 } });
    default:
      return undefined;
  }
}

function emitActivations(ctx: OpContext, node: GraphNodeDef, input: string, activations: readonly string[]): string {
  let out = input;
  for (const op of activations) {
    const next = emitActivation(ctx, node, out, op);
    if (next === undefined) throw unsupported(node, `fused op "${op}" (supported: BiasAdd, Relu, Relu6, Elu, Sigmoid, Tanh, LeakyRelu)`);
    out = next;
  }
  return out;
}

/** Splits `fused_ops` into the bias (BiasAdd's argument) and the activations that follow. */
function fusedArgs(node: GraphNodeDef, inputs: readonly Operand[], channels: number | null): { bias?: ConstOperand; activations: string[] } {
  const fused = attrStrings(node, 'fused_ops');
  if (fused.length === 0) return { activations: [] };
  if (fused[0] !== 'BiasAdd') throw unsupported(node, `fused_ops [${fused.join(', ')}]; the exporter supports BiasAdd followed by activations`);
  const bias = constInput(node, inputs, 2, 'bias');
  if (bias.shape.length !== 1 || (channels !== null && bias.shape[0] !== channels)) {
    throw unsupported(node, `bias of shape [${bias.shape.join(', ')}] for ${channels} channels`);
  }
  return { bias, activations: fused.slice(1) };
}

/** Output size and ONNX pads [top, left, bottom, right] of a 2-D window op, as TF computes them. */
function windowGeometry(node: GraphNodeDef, x: OnnxValue, kernel: readonly number[], strides: readonly number[], dilations: readonly number[]): { outH: number; outW: number; pads: number[] } {
  const [inH, inW] = [x.shape[1], x.shape[2]];
  if (x.shape.length !== 4 || typeof inH !== 'number' || typeof inW !== 'number') {
    throw unsupported(node, `input of shape [${x.shape.join(', ')}]; a static [N, H, W, C] input is needed to compute padding`);
  }
  const padding = attrString(node, 'padding') ?? 'VALID';
  const dims = [inH, inW].map((size, i) => {
    const effective = (kernel[i]! - 1) * dilations[i]! + 1;
    if (padding === 'SAME') {
      const out = Math.ceil(size / strides[i]!);
      const total = Math.max((out - 1) * strides[i]! + effective - size, 0);
      return { out, before: Math.floor(total / 2), after: total - Math.floor(total / 2) };
    }
    if (padding === 'VALID') return { out: Math.floor((size - effective) / strides[i]!) + 1, before: 0, after: 0 };
    if (padding === 'EXPLICIT') {
      const explicit = attrInts(node, 'explicit_paddings') ?? [];
      const before = explicit[2 + 2 * i] ?? 0;
      const after = explicit[3 + 2 * i] ?? 0;
      return { out: Math.floor((size + before + after - effective) / strides[i]!) + 1, before, after };
    }
    throw unsupported(node, `padding "${padding}"`);
  });
  const [h, w] = dims as [(typeof dims)[0], (typeof dims)[0]];
  if (h.out < 1 || w.out < 1) throw unsupported(node, `a ${kernel.join('x')} window on a ${inH}x${inW} input (empty output)`);
  return { outH: h.out, outW: w.out, pads: [h.before, w.before, h.after, w.after] };
}

/** The H and W entries of an NHWC [1, h, w, 1] attribute. */
function spatial(node: GraphNodeDef, values: readonly number[]): [number, number] {
  if (values.length !== 4 || values[0] !== 1 || values[3] !== 1) throw unsupported(node, `strides/ksize/dilations [${values.join(', ')}]; expected [1, h, w, 1]`);
  return [values[1]!, values[2]!];
}

function requireNhwc(node: GraphNodeDef): void {
  const format = attrString(node, 'data_format') ?? 'NHWC';
  if (format !== 'NHWC') throw unsupported(node, `data_format "${format}" (only NHWC graphs, as tfjs-converter writes them)`);
}

export function valueInput(node: GraphNodeDef, inputs: readonly Operand[], index: number): OnnxValue {
  const input = inputs[index];
  if (input?.kind !== 'value') throw unsupported(node, `input ${index} is ${input ? 'a constant' : 'missing'}; expected a computed tensor`);
  return input.value;
}

export function constInput(node: GraphNodeDef, inputs: readonly Operand[], index: number, what: string): ConstOperand {
  const input = inputs[index];
  if (input?.kind !== 'const') throw unsupported(node, `its ${what} (input ${index}) is ${input ? 'computed at run time' : 'missing'}; the exporter needs a Const`);
  return input;
}

export function toFloat(c: ConstOperand): Float32Array {
  return c.data instanceof Float32Array ? c.data : Float32Array.from(c.data);
}

function hwioToOihw(data: Float32Array, kh: number, kw: number, ci: number, co: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < ci; i++)
        for (let o = 0; o < co; o++) out[((o * ci + i) * kh + y) * kw + x] = data[((y * kw + x) * ci + i) * co + o]!;
  return out;
}

/** Depthwise filter [kh, kw, C, M] to ONNX grouped-conv weights [C*M, 1, kh, kw] (output channel c*M + m). */
function depthwiseToOihw(data: Float32Array, kh: number, kw: number, ci: number, m: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let c = 0; c < ci; c++)
        for (let k = 0; k < m; k++) out[((c * m + k) * kh + y) * kw + x] = data[((y * kw + x) * ci + c) * m + k]!;
  return out;
}

function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}
