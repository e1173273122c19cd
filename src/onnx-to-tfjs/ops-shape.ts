import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../core/errors.js';
import { ONNX_FLOAT, ONNX_INT64 } from '../onnx/onnx-model.js';
import { floatAttr, floatsAttr, hasAttribute, intAttr, intsAttr, stringAttr, tensorAttr } from '../onnx/attributes.js';
import type { ImportContext, OpImporter } from './import-context.js';
import {
  asNhwc,
  asOnnx,
  device,
  hostFromInitializer,
  hostNumbers,
  hostValue,
  isFloatType,
  normaliseAxis,
  onnxShape,
  TO_NHWC,
  type HostValue,
  type Value,
} from './values.js';

/*
 * Shape and data-movement operators. Each works on host values in plain JS (shape arithmetic and
 * constant folding) and on device values with tfjs, always with ONNX axis semantics.
 */

function product(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function input(inputs: readonly (Value | undefined)[], index: number, ctx: ImportContext): Value {
  const value = inputs[index];
  if (!value) ctx.fail(`input ${index} ("${ctx.inputName(index)}") has no value`);
  return value;
}

/** A run-time host input (a shape, axes, indices), which must not be computed on the device. */
function hostInput(inputs: readonly (Value | undefined)[], index: number, ctx: ImportContext, what: string): HostValue {
  const value = input(inputs, index, ctx);
  if (value.kind !== 'host') ctx.fail(`its ${what} ("${ctx.inputName(index)}") is computed from image data; only shapes and constants are supported there`);
  return value;
}

function hostReshape(value: HostValue, dims: readonly number[]): HostValue {
  return hostValue(dims, value.data, value.dataType);
}

function sameKind(value: HostValue, data: number[]): Float32Array | number[] {
  return value.data instanceof Float32Array ? Float32Array.from(data) : data;
}

function strides(dims: readonly number[]): number[] {
  const result = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) result[i] = result[i + 1]! * dims[i + 1]!;
  return result;
}

function hostTranspose(value: HostValue, perm: readonly number[]): HostValue {
  const dims = perm.map((a) => value.dims[a]!);
  const inStrides = strides(value.dims);
  const outStrides = strides(dims);
  const data = new Array<number>(product(dims));
  for (let i = 0; i < data.length; i++) {
    let src = 0;
    for (let d = 0; d < dims.length; d++) src += Math.floor(i / outStrides[d]!) % dims[d]! * inStrides[perm[d]!]!;
    data[i] = value.data[src]!;
  }
  return hostValue(dims, sameKind(value, data), value.dataType);
}

/** Resolves an ONNX Reshape target (0 copies the input dim unless allowzero, -1 is inferred). */
export function reshapeDims(inputDims: readonly number[], target: readonly number[], allowZero: boolean, ctx: ImportContext): number[] {
  const dims = target.map((d, i) => (d === 0 && !allowZero ? inputDims[i]! : d));
  const known = product(dims.filter((d) => d !== -1));
  const total = product(inputDims);
  const inferred = dims.indexOf(-1);
  if (inferred >= 0) dims[inferred] = known === 0 ? 0 : total / known;
  if (product(dims) !== total || dims.some((d) => !Number.isInteger(d) || d < 0)) {
    ctx.fail(`cannot reshape [${inputDims.join(', ')}] to [${target.join(', ')}]`);
  }
  return dims;
}

function reshapeValue(value: Value, dims: readonly number[]): Value {
  return value.kind === 'host' ? hostReshape(value, dims) : device(tf.reshape(asOnnx(value), [...dims]));
}

/** Axes from the attribute (older opsets) or from input `index` (newer ones), normalised. */
function axesOf(ctx: ImportContext, inputs: readonly (Value | undefined)[], index: number, rank: number): number[] | undefined {
  const fromAttribute = intsAttr(ctx.node, 'axes');
  const raw = fromAttribute ?? (ctx.hasInput(index) ? hostNumbers(hostInput(inputs, index, ctx, 'axes')) : undefined);
  return raw?.map((a) => normaliseAxis(a, rank, ctx.label));
}

export const importIdentity: OpImporter = () => (inputs) => [inputs[0]!];

export const importConstant: OpImporter = (ctx) => {
  const node = ctx.node;
  let value: HostValue;
  const tensor = tensorAttr(node, 'value');
  if (tensor) value = hostFromInitializer(tensor);
  else if (hasAttribute(node, 'value_float')) value = hostValue([], Float32Array.of(floatAttr(node, 'value_float', 0)), ONNX_FLOAT);
  else if (hasAttribute(node, 'value_floats')) {
    const floats = floatsAttr(node, 'value_floats') ?? [];
    value = hostValue([floats.length], Float32Array.from(floats), ONNX_FLOAT);
  } else if (hasAttribute(node, 'value_int')) value = hostValue([], [intAttr(node, 'value_int', 0)], ONNX_INT64);
  else if (hasAttribute(node, 'value_ints')) {
    const ints = intsAttr(node, 'value_ints') ?? [];
    value = hostValue([ints.length], ints, ONNX_INT64);
  } else ctx.fail('only value, value_float(s) and value_int(s) constants are supported');
  return () => [value];
};

export const importConstantOfShape: OpImporter = (ctx) => {
  const tensor = tensorAttr(ctx.node, 'value');
  const fill = tensor ? hostFromInitializer(tensor) : hostValue([1], Float32Array.of(0), ONNX_FLOAT);
  return (inputs) => {
    const dims = hostNumbers(hostInput(inputs, 0, ctx, 'shape'));
    const data = new Array<number>(product(dims)).fill(Number(fill.data[0] ?? 0));
    return [hostValue(dims, isFloatType(fill.dataType) ? Float32Array.from(data) : data, fill.dataType)];
  };
};

export const importCast: OpImporter = (ctx) => {
  const to = intAttr(ctx.node, 'to', ONNX_FLOAT);
  return (inputs) => {
    const x = input(inputs, 0, ctx);
    if (x.kind === 'device') {
      if (!isFloatType(to)) ctx.fail(`casting image data to ONNX type ${to} is not supported (tfjs graphs stay float)`);
      return [x];
    }
    const numbers = hostNumbers(x);
    return [isFloatType(to) ? hostValue(x.dims, Float32Array.from(numbers), ONNX_FLOAT) : hostValue(x.dims, numbers.map(Math.trunc), to)];
  };
};

export const importShape: OpImporter = (ctx) => {
  const start = intAttr(ctx.node, 'start', 0);
  const end = hasAttribute(ctx.node, 'end') ? intAttr(ctx.node, 'end', 0) : undefined;
  return (inputs) => {
    const shape = onnxShape(input(inputs, 0, ctx));
    const sliced = shape.slice(start, end);
    return [hostValue([sliced.length], sliced, ONNX_INT64)];
  };
};

export const importGather: OpImporter = (ctx) => (inputs) => {
  const data = input(inputs, 0, ctx);
  const indices = hostInput(inputs, 1, ctx, 'indices');
  const shape = onnxShape(data);
  const axis = normaliseAxis(intAttr(ctx.node, 'axis', 0), shape.length, ctx.label);
  const picks = hostNumbers(indices).map((i) => (i < 0 ? i + shape[axis]! : i));
  const outDims = [...shape.slice(0, axis), ...indices.dims, ...shape.slice(axis + 1)];
  if (data.kind === 'device') {
    const gathered = tf.gather(asOnnx(data), tf.tensor(picks, [...indices.dims], 'int32'), axis);
    return [device(gathered)];
  }
  const outer = product(shape.slice(0, axis));
  const inner = product(shape.slice(axis + 1));
  const result: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const p of picks) for (let i = 0; i < inner; i++) result.push(Number(data.data[(o * shape[axis]! + p) * inner + i]));
  }
  return [hostValue(outDims, sameKind(data, result), data.dataType)];
};

export const importUnsqueeze: OpImporter = (ctx) => (inputs) => {
  const x = input(inputs, 0, ctx);
  const shape = onnxShape(x);
  const rank = shape.length + (intsAttr(ctx.node, 'axes') ?? hostNumbers(hostInput(inputs, 1, ctx, 'axes'))).length;
  const axes = axesOf(ctx, inputs, 1, rank) ?? [];
  const dims: number[] = [];
  for (let i = 0, j = 0; i < rank; i++) dims.push(axes.includes(i) ? 1 : shape[j++]!);
  return [reshapeValue(x, dims)];
};

export const importSqueeze: OpImporter = (ctx) => (inputs) => {
  const x = input(inputs, 0, ctx);
  const shape = onnxShape(x);
  const axes = axesOf(ctx, inputs, 1, shape.length) ?? shape.flatMap((d, i) => (d === 1 ? [i] : []));
  if (axes.some((a) => shape[a] !== 1)) ctx.fail(`cannot squeeze axes [${axes.join(', ')}] of shape [${shape.join(', ')}]`);
  return [reshapeValue(x, shape.filter((_d, i) => !axes.includes(i)))];
};

export const importFlatten: OpImporter = (ctx) => (inputs) => {
  const x = input(inputs, 0, ctx);
  const shape = onnxShape(x);
  const axis = intAttr(ctx.node, 'axis', 1);
  const split = axis < 0 ? axis + shape.length : axis;
  return [reshapeValue(x, [product(shape.slice(0, split)), product(shape.slice(split))])];
};

export const importReshape: OpImporter = (ctx) => {
  const allowZero = intAttr(ctx.node, 'allowzero', 0) === 1;
  return (inputs) => {
    const x = input(inputs, 0, ctx);
    const target = hostNumbers(hostInput(inputs, 1, ctx, 'shape'));
    return [reshapeValue(x, reshapeDims(onnxShape(x), target, allowZero, ctx))];
  };
};

export const importTranspose: OpImporter = (ctx) => (inputs) => {
  const x = input(inputs, 0, ctx);
  const rank = onnxShape(x).length;
  const perm = intsAttr(ctx.node, 'perm') ?? [...Array(rank).keys()].reverse();
  if (x.kind === 'host') return [hostTranspose(x, perm)];
  if (x.isNhwc) {
    // The stored tensor is ONNX transposed by TO_NHWC; compose so only one transpose (or none) runs.
    const composed = perm.map((a) => TO_NHWC.indexOf(a as 0 | 1 | 2 | 3));
    return [device(transposeOrKeep(x.tensor, composed))];
  }
  if (rank === 4) {
    // The result stored NHWC is x transposed by perm then TO_NHWC: when that is the identity (an NHWC
    // graph input transposed to NCHW, as exported TF models start) no data moves at all.
    const composed = TO_NHWC.map((a) => perm[a]!);
    if (composed.every((a, i) => a === i)) return [device(x.tensor, true)];
  }
  return [device(transposeOrKeep(x.tensor, perm))];
};

function transposeOrKeep(tensor: tf.Tensor, perm: readonly number[]): tf.Tensor {
  return perm.every((a, i) => a === i) ? tensor : tf.transpose(tensor, [...perm]);
}

/** Concat of host values (shape pieces); device concat lives with the float ops. */
export function hostConcat(values: readonly HostValue[], axis: number): HostValue {
  const first = values[0]!;
  const rank = first.dims.length;
  const a = axis < 0 ? axis + rank : axis;
  const outer = product(first.dims.slice(0, a));
  const result: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const v of values) {
      const chunk = product(v.dims.slice(a));
      for (let i = 0; i < chunk; i++) result.push(Number(v.data[o * chunk + i]));
    }
  }
  const dims = [...first.dims];
  dims[a] = values.reduce((sum, v) => sum + (v.dims[a] ?? 1), 0);
  return hostValue(dims, first.data instanceof Float32Array ? Float32Array.from(result) : result, first.dataType);
}

/** Numpy-broadcast elementwise op on host values (shape arithmetic such as Mul/Div of dims). */
export function hostBinary(a: HostValue, b: HostValue, op: (x: number, y: number) => number): HostValue {
  const rank = Math.max(a.dims.length, b.dims.length);
  const pad = (dims: readonly number[]) => [...new Array<number>(rank - dims.length).fill(1), ...dims];
  const da = pad(a.dims);
  const db = pad(b.dims);
  const dims = da.map((d, i) => Math.max(d, db[i]!));
  if (da.some((d, i) => d !== dims[i] && d !== 1) || db.some((d, i) => d !== dims[i] && d !== 1)) {
    throw new GraftError('UNSUPPORTED_MODEL', `Cannot broadcast shapes [${a.dims.join(', ')}] and [${b.dims.join(', ')}].`);
  }
  const sa = strides(da);
  const sb = strides(db);
  const so = strides(dims);
  const data = new Array<number>(product(dims));
  for (let i = 0; i < data.length; i++) {
    let ia = 0;
    let ib = 0;
    for (let d = 0; d < rank; d++) {
      const k = Math.floor(i / so[d]!) % dims[d]!;
      if (da[d] !== 1) ia += k * sa[d]!;
      if (db[d] !== 1) ib += k * sb[d]!;
    }
    data[i] = op(Number(a.data[ia]), Number(b.data[ib]));
  }
  const isFloat = isFloatType(a.dataType) || isFloatType(b.dataType);
  return hostValue(dims, isFloat ? Float32Array.from(data) : data.map(Math.trunc), isFloat ? ONNX_FLOAT : a.dataType);
}


/** Slice (opset 10+: starts, ends, axes, steps as inputs; opset 1-9: attributes), on shapes and on image data. */
export const importSlice: OpImporter = (ctx) => (inputs) => {
  const x = input(inputs, 0, ctx);
  const shape = onnxShape(x);
  const fromInputs = ctx.opset >= 10;
  const starts = fromInputs ? hostNumbers(hostInput(inputs, 1, ctx, 'starts')) : (intsAttr(ctx.node, 'starts') ?? []);
  const ends = fromInputs ? hostNumbers(hostInput(inputs, 2, ctx, 'ends')) : (intsAttr(ctx.node, 'ends') ?? []);
  const axes = fromInputs ? axesOf(ctx, inputs, 3, shape.length) : intsAttr(ctx.node, 'axes')?.map((a) => normaliseAxis(a, shape.length, ctx.label));
  const steps = fromInputs && ctx.hasInput(4) ? hostNumbers(hostInput(inputs, 4, ctx, 'steps')) : starts.map(() => 1);
  // Per axis, the indices kept, in order (ONNX's clamping: a negative step starts at most at dim - 1, ends at least at -1).
  const kept = shape.map((dim) => Array.from({ length: dim }, (_v, i) => i));
  const stepped = new Set<number>();
  (axes ?? starts.map((_s, i) => i)).forEach((axis, i) => {
    const dim = shape[axis]!;
    const step = steps[i] ?? 1;
    if (step === 0) ctx.fail('a step of 0 is not valid');
    const wrap = (v: number) => (v < 0 ? v + dim : v);
    const clamp = (v: number, low: number, high: number) => Math.min(Math.max(v, low), high);
    const [start, end] = step > 0 ? [clamp(wrap(starts[i]!), 0, dim), clamp(wrap(ends[i]!), 0, dim)] : [clamp(wrap(starts[i]!), 0, dim - 1), clamp(wrap(ends[i]!), -1, dim - 1)];
    const indices: number[] = [];
    for (let j = start; step > 0 ? j < end : j > end; j += step) indices.push(j);
    kept[axis] = indices;
    if (step !== 1) stepped.add(axis);
  });
  const size = kept.map((k) => k.length);
  if (x.kind === 'device') {
    return [
      device(
        tf.tidy(() => {
          // Contiguous axes in one slice; each stepped axis then gathers its indices.
          const begin = kept.map((k, axis) => (stepped.has(axis) || k.length === 0 ? 0 : k[0]!));
          const extent = kept.map((k, axis) => (stepped.has(axis) ? shape[axis]! : k.length));
          let y = tf.slice(asOnnx(x), begin, extent);
          for (const axis of stepped) y = tf.gather(y, tf.tensor1d(kept[axis]!, 'int32'), axis);
          return y;
        }),
      ),
    ];
  }
  const result: number[] = [];
  const stride = strides(shape);
  const walk = (axis: number, offset: number): void => {
    for (const i of kept[axis]!) {
      if (axis === shape.length - 1) result.push(Number(x.data[offset + i]));
      else walk(axis + 1, offset + i * stride[axis]!);
    }
  };
  if (shape.length > 0) walk(0, 0);
  return [hostValue(size, sameKind(x, result), x.dataType)];
};

/**
 * Resize of an image batch [N, C, H, W] in H and W: mode linear with half_pixel coordinates (what Graft's multi-scale
 * wrapper and most exporters write) as tfjs's half-pixel bilinear resize, or nearest. Sizes or scales, opset 11+.
 */
export const importResize: OpImporter = (ctx) => {
  const mode = stringAttr(ctx.node, 'mode', 'nearest');
  const transform = stringAttr(ctx.node, 'coordinate_transformation_mode', 'half_pixel');
  if (ctx.opset < 11) ctx.fail('Resize before opset 11 is not supported');
  if (mode !== 'linear' && mode !== 'nearest') ctx.fail(`mode "${mode}" is not supported (linear and nearest are)`);
  if (transform !== 'half_pixel' && transform !== 'pytorch_half_pixel') ctx.fail(`coordinate_transformation_mode "${transform}" is not supported (half_pixel is)`);
  if (intAttr(ctx.node, 'antialias', 0) !== 0) ctx.fail('antialias is not supported');
  return (inputs) => {
    const x = input(inputs, 0, ctx);
    const shape = onnxShape(x);
    if (shape.length !== 4) ctx.fail(`it needs a rank-4 [N, C, H, W] input; received [${shape.join(', ')}]`);
    const sizes = ctx.hasInput(3) ? hostNumbers(hostInput(inputs, 3, ctx, 'sizes')) : undefined;
    const scales = !sizes && ctx.hasInput(2) ? hostNumbers(hostInput(inputs, 2, ctx, 'scales')) : undefined;
    const out = sizes ?? shape.map((d, i) => Math.floor(d * (scales?.[i] ?? 1)));
    if (out[0] !== shape[0] || out[1] !== shape[1]) ctx.fail('only the spatial axes (H, W) can be resized');
    const nhwc = asNhwc(x, ctx.label);
    const size: [number, number] = [out[2]!, out[3]!];
    const resized = mode === 'linear' ? tf.image.resizeBilinear(nhwc, size, false, true) : tf.image.resizeNearestNeighbor(nhwc, size, false, true);
    return [device(resized, true)];
  };
};
