import * as tf from '@tensorflow/tfjs';
import { ONNX_INT64 } from '../onnx/onnx-model.js';
import { floatAttr, intAttr, intsAttr, stringAttr } from '../onnx/attributes.js';
import { reshapeDims } from '../onnx-to-tfjs/ops-shape.js';
import { hostNumbers, hostValue, normaliseAxis } from '../onnx-to-tfjs/values.js';
import { BATCH, reshapeValue, symbolic, toOnnxOrder } from './layer-values.js';
import type { NodeConversion } from './node-context.js';
import { type LayerConverter, product } from './layer-ops-common.js';

/** Shapes and data movement as Keras layers. See layer-ops.ts for the conventions. */

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
