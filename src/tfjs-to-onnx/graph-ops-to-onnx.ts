import type { OnnxValue } from '../onnx/graph-builder.js';
import { constInput, emitActivation, emitConv, emitMatMul, emitPool, toFloat, valueInput, type OpContext } from './graph-conv-ops.js';
import { attrBool, attrInts, attrString, type GraphNodeDef } from '../readers/tfjs-graph/graph-model-json.js';
import { broadcastShape, NCHW_PERM, nchwAxis, unsupported, type Operand } from './graph-operand.js';

/** TF ops {@link emitGraphOp} converts (Placeholder, Const and Identity are handled by the graph walk). */
export const SUPPORTED_GRAPH_OPS: readonly string[] = [
  'Placeholder', 'Const', 'Identity', 'StopGradient', 'Snapshot',
  'Conv2D', 'DepthwiseConv2dNative', '_FusedConv2D', 'FusedDepthwiseConv2dNative',
  'BiasAdd', 'Add', 'AddV2', 'Sub', 'Mul', 'RealDiv', 'Maximum', 'Minimum',
  'Relu', 'Relu6', 'Elu', 'Sigmoid', 'Tanh', 'LeakyRelu',
  'Mean', 'Max', 'MatMul', '_FusedMatMul', 'Reshape', 'Pad', 'PadV2', 'Squeeze',
  'AvgPool', 'MaxPool', 'Softmax', 'ConcatV2',
];

const BINARY_OPS: Readonly<Record<string, string>> = {
  BiasAdd: 'Add', Add: 'Add', AddV2: 'Add', Sub: 'Sub', Mul: 'Mul', RealDiv: 'Div', Maximum: 'Max', Minimum: 'Min',
};

/**
 * Emits one TF op as ONNX nodes and returns its output. Rank-4 values stay NCHW between spatial ops
 * (one Transpose at the top of the graph, as the layers exporter does); ops whose meaning depends on
 * the axis order (Reshape, MatMul, Squeeze or reductions that reorder) see TF's NHWC order.
 *
 * @throws GraftError `UNSUPPORTED_MODEL` naming the op and node for anything else.
 */
export function emitGraphOp(ctx: OpContext, node: GraphNodeDef, inputs: readonly Operand[]): OnnxValue {
  const binary = BINARY_OPS[node.op];
  if (binary !== undefined) return emitBinary(ctx, node, inputs, binary);
  switch (node.op) {
    case 'Conv2D':
    case '_FusedConv2D':
      return emitConv(ctx, node, inputs, false);
    case 'DepthwiseConv2dNative':
    case 'FusedDepthwiseConv2dNative':
      return emitConv(ctx, node, inputs, true);
    case 'AvgPool':
      return emitPool(ctx, node, inputs, 'AveragePool');
    case 'MaxPool':
      return emitPool(ctx, node, inputs, 'MaxPool');
    case 'MatMul':
    case '_FusedMatMul':
      return emitMatMul(ctx, node, inputs);
    case 'Relu':
    case 'Relu6':
    case 'Elu':
    case 'Sigmoid':
    case 'Tanh':
    case 'LeakyRelu': {
      const x = valueInput(node, inputs, 0);
      return { ...x, name: emitActivation(ctx, node, x.name, node.op)! };
    }
    case 'Mean':
      return emitReduce(ctx, node, inputs, 'ReduceMean');
    case 'Max':
      return emitReduce(ctx, node, inputs, 'ReduceMax');
    case 'Squeeze':
      return emitSqueeze(ctx, node, inputs);
    case 'Reshape':
      return emitReshape(ctx, node, inputs);
    case 'Pad':
    case 'PadV2':
      return emitPad(ctx, node, inputs);
    case 'Softmax': {
      const x = valueInput(node, inputs, 0);
      const axis = x.isNchw && x.shape.length === 4 ? 1 : -1;
      return { ...x, name: ctx.builder.node('Softmax', [x.name], node.name, { axis: { int: axis } }) };
    }
    case 'ConcatV2':
      return emitConcat(ctx, node, inputs);
    default:
      throw unsupported(node, `op "${node.op}" is not supported (supported: ${SUPPORTED_GRAPH_OPS.join(', ')})`);
  }
}

/** Element-wise ops with TF broadcasting; a Const operand is reshaped to the partner's layout. */
function emitBinary(ctx: OpContext, node: GraphNodeDef, inputs: readonly Operand[], onnxOp: string): OnnxValue {
  if (node.op === 'BiasAdd' && (attrString(node, 'data_format') ?? 'NHWC') !== 'NHWC') throw unsupported(node, 'data_format other than NHWC');
  const [a, b] = inputs;
  if (!a || !b) throw unsupported(node, `${inputs.length} inputs; expected 2`);
  if (a.kind === 'const' && b.kind === 'const') throw unsupported(node, 'both inputs are constants (constant folding is not implemented)');
  let names: [string, string];
  let shape: (number | null)[];
  let isNchw: boolean;
  if (a.kind === 'value' && b.kind === 'value') {
    const both4 = a.value.shape.length === 4 && b.value.shape.length === 4;
    const [va, vb] = both4 ? [ctx.builder.toNchw(a.value), ctx.builder.toNchw(b.value)] : [ctx.builder.toKeras(a.value), ctx.builder.toKeras(b.value)];
    names = [va.name, vb.name];
    shape = broadcastShape(va.shape, vb.shape);
    isNchw = both4;
  } else {
    const value = a.kind === 'value' ? a.value : (b as Extract<Operand, { kind: 'value' }>).value;
    const constant = a.kind === 'const' ? a : (b as Extract<Operand, { kind: 'const' }>);
    const constName = ctx.consts.floatFor(constant, value, node);
    names = a.kind === 'value' ? [value.name, constName] : [constName, value.name];
    shape = broadcastShape(value.shape, constant.shape);
    isNchw = value.isNchw && shape.length === 4;
  }
  return { name: ctx.builder.node(onnxOp, names, node.name), shape, isNchw };
}

/** Mean/Max over constant axes; stays NCHW when the kept axes keep their order. */
function emitReduce(ctx: OpContext, node: GraphNodeDef, inputs: readonly Operand[], onnxOp: 'ReduceMean' | 'ReduceMax'): OnnxValue {
  const x = valueInput(node, inputs, 0);
  const rank = x.shape.length;
  const axes = [...new Set([...constInput(node, inputs, 1, 'reduction indices').data].map((a) => (a < 0 ? a + rank : a)))].sort();
  const keepDims = attrBool(node, 'keep_dims');
  const v = x.isNchw && !keepDims && !keepsOrder(axes) ? ctx.builder.toKeras(x) : x;
  const physical = v.isNchw ? axes.map(nchwAxis) : axes;
  const out = ctx.builder.node(onnxOp, [v.name], node.name, { axes: { ints: physical }, keepdims: { int: keepDims ? 1 : 0 } });
  const shape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_d, i) => !axes.includes(i));
  return { name: out, shape, isNchw: v.isNchw && keepDims };
}

/** Squeeze (`squeeze_dims`, or every static size-1 dim when empty). */
function emitSqueeze(ctx: OpContext, node: GraphNodeDef, inputs: readonly Operand[]): OnnxValue {
  const x = valueInput(node, inputs, 0);
  const rank = x.shape.length;
  const given = attrInts(node, 'squeeze_dims') ?? attrInts(node, 'axis') ?? [];
  const axes = given.length > 0 ? [...new Set(given.map((a) => (a < 0 ? a + rank : a)))].sort() : x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
  if (axes.some((a) => x.shape[a] !== 1)) throw unsupported(node, `squeeze of axes [${axes.join(', ')}] on shape [${x.shape.join(', ')}]`);
  if (axes.length === 0) return x;
  const v = x.isNchw && !keepsOrder(axes) ? ctx.builder.toKeras(x) : x;
  const physical = v.isNchw ? axes.map(nchwAxis) : axes;
  const out = ctx.builder.node('Squeeze', [v.name, ctx.builder.int64Const(`${node.name}/axes`, physical)], node.name);
  return { name: out, shape: x.shape.filter((_d, i) => !axes.includes(i)), isNchw: false };
}

/** Reshape in TF's (NHWC) element order to a constant shape. */
function emitReshape(ctx: OpContext, node: GraphNodeDef, inputs: readonly Operand[]): OnnxValue {
  const x = ctx.builder.toKeras(valueInput(node, inputs, 0));
  const target = [...constInput(node, inputs, 1, 'shape').data];
  if (target.some((d) => d === 0)) throw unsupported(node, `target shape [${target.join(', ')}] with a zero dimension`);
  const shape: (number | null)[] = target.map((d) => (d === -1 ? null : d));
  const unknown = target.indexOf(-1);
  // A -1 is solvable when the input's size is static; with a dynamic batch, a leading -1 is the batch.
  if (unknown >= 0 && target.lastIndexOf(-1) === unknown && x.shape.every((d) => d !== null)) {
    const count = x.shape.reduce<number>((n, d) => n * d!, 1);
    shape[unknown] = count / target.reduce((n, d) => (d === -1 ? n : n * d), 1);
  }
  const out = ctx.builder.node('Reshape', [x.name, ctx.builder.int64Const(`${node.name}/shape`, target)], node.name);
  return { name: out, shape, isNchw: false };
}

/** Pad / PadV2 with constant paddings (and a constant fill for PadV2). */
function emitPad(ctx: OpContext, node: GraphNodeDef, inputs: readonly Operand[]): OnnxValue {
  const x = valueInput(node, inputs, 0);
  const paddings = constInput(node, inputs, 1, 'paddings');
  const rank = x.shape.length;
  if (paddings.shape.join(',') !== `${rank},2`) throw unsupported(node, `paddings of shape [${paddings.shape.join(', ')}] for a rank-${rank} input`);
  const pair = (axis: number): [number, number] => [paddings.data[2 * axis]!, paddings.data[2 * axis + 1]!];
  const order = x.isNchw && rank === 4 ? [...NCHW_PERM] : [...Array(rank).keys()];
  const pads = [...order.map((a) => pair(a)[0]), ...order.map((a) => pair(a)[1])];
  const fill = node.op === 'PadV2' ? toFloat(constInput(node, inputs, 2, 'constant_values'))[0] ?? 0 : 0;
  const out = ctx.builder.node('Pad', [x.name, ctx.builder.int64Const(`${node.name}/pads`, pads), ctx.consts.scalar(fill)], node.name, { mode: { string: 'constant' } });
  const shape = x.shape.map((d, i) => (d === null ? null : d + pair(i)[0] + pair(i)[1]));
  return { name: out, shape, isNchw: x.isNchw };
}

/** ConcatV2 over N inputs; the axis is the last (Const) input. */
function emitConcat(ctx: OpContext, node: GraphNodeDef, inputs: readonly Operand[]): OnnxValue {
  const parts = inputs.slice(0, -1);
  const values = parts.flatMap((p) => (p.kind === 'value' ? [p.value] : []));
  const first = values[0];
  if (!first) throw unsupported(node, 'every input is a constant');
  const rank = first.shape.length;
  let axis = constInput(node, inputs, inputs.length - 1, 'axis').data[0] ?? 0;
  if (axis < 0) axis += rank;
  const asNchw = rank === 4 && values.every((v) => v.shape.length === 4);
  const partner: OnnxValue = { ...first, isNchw: asNchw };
  const names = parts.map((p) => (p.kind === 'value' ? (asNchw ? ctx.builder.toNchw(p.value) : ctx.builder.toKeras(p.value)).name : ctx.consts.floatFor(p, partner, node)));
  const sizes = parts.map((p) => (p.kind === 'value' ? p.value.shape[axis] : p.shape[axis]));
  const shape = first.shape.map((d, i) => (i !== axis ? d : sizes.some((s) => s === null || s === undefined) ? null : sizes.reduce<number>((n, s) => n + s!, 0)));
  const out = ctx.builder.node('Concat', names, node.name, { axis: { int: asNchw ? nchwAxis(axis) : axis } });
  return { name: out, shape, isNchw: asNchw };
}

/** Whether removing `axes` from an NCHW-stored rank-4 value leaves the remaining axes in TF's order. */
function keepsOrder(axes: readonly number[]): boolean {
  const nhwc = [0, 1, 2, 3].filter((a) => !axes.includes(a));
  const nchw = NCHW_PERM.filter((a) => !axes.includes(a));
  return nhwc.every((a, i) => a === nchw[i]);
}
