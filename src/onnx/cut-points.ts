import { GraftError } from '../core/errors.js';
import { intsAttr } from './attributes.js';
import { analyseGraph, suffixNodeIndices, type GraphSplit } from './graph-split.js';
import { findInitializer, nodeInputs, nodeOutputs, tensorDims, type GraphProto, type ModelProto, type NodeProto } from './onnx-model.js';
import { inferShapes } from './static-shapes.js';
import type { UnfreezeSpec } from './unfreeze-spec.js';

/**
 * Where a backbone can be split for fine-tuning (ARCHITECTURE.md decision 2, "split at the freeze point"): the
 * frozen prefix runs once per image in onnxruntime and its output is cached; only the suffix trains in tfjs.
 * A split is only valid at an articulation tensor, one that every path from the input to the features goes
 * through, because the cache holds that single tensor and nothing else the suffix could need.
 */

/** A tensor the backbone can be split at. */
export interface CutPoint {
  readonly tensor: string;
  /** Index of its producer in `graph.node`; -1 for the graph input. */
  readonly nodeIndex: number;
  /** Made by a QuantizeLinear or QLinear* op: the cached activations are its dequantized values. */
  readonly isQuantized: boolean;
  /** Initializer names of its scale and zero point (the producer's y_scale / y_zero_point) when quantized. */
  readonly scale?: string;
  readonly zeroPoint?: string;
  /** Channels (the producing convolution's output channels, kept through elementwise ops), when known. */
  readonly channels?: number;
  /** Static ONNX shape with null for the batch, when it can be worked out from the graph. */
  readonly shape?: readonly (number | null)[];
  /** Convolutions with a kernel larger than 1x1 between this tensor and the features. */
  readonly spatialConvsAfter: number;
}

/** The cut an {@link UnfreezeSpec} resolves to on one model. */
export interface ResolvedCut {
  readonly spec: UnfreezeSpec;
  /** The tensor whose values the prefix outputs and the suffix takes as input. */
  readonly tensor: string;
  /** The cut is the graph input: nothing is frozen, the "prefix" only passes images through. */
  readonly isInput: boolean;
  readonly nodeIndex: number;
  readonly isQuantized: boolean;
  readonly scale?: string;
  readonly zeroPoint?: string;
  readonly channels?: number;
  readonly shape?: readonly (number | null)[];
  /** Nodes after the cut (they run in tfjs and their weights train). */
  readonly trainableNodes: number;
  /** Nodes the features need in all. */
  readonly totalNodes: number;
  /** e.g. 'last 3 blocks: from 597_quantized (7x7x160), 15 of 66 nodes trainable'. */
  readonly description: string;
}

/**
 * The tensors between the graph input and `featureOutput` that every path goes through (no node after
 * the cut reads a non-constant tensor produced before it, other than the cut itself), in graph order.
 * The graph input is the first; `featureOutput` itself is not included (nothing would train).
 *
 * @throws GraftError `INVALID_CONFIG` when `featureOutput` is not a tensor of the graph.
 */
export function findCutPoints(model: ModelProto, featureOutput: string): CutPoint[] {
  const split = analyseGraph(model, featureOutput);
  const { nodes, needed, producer, constants, inputName } = split;
  const shapes = inferShapes(model, split);
  const spatial = needed.filter((i) => isSpatialConv(split.graph, nodes[i]!));
  // For each needed node: its non-constant inputs and where they were made (-1: the graph input).
  const reads = needed.map((i) => ({
    index: i,
    inputs: nodeInputs(nodes[i]!).filter((name) => name !== '' && !constants.has(name)).map((name) => ({ name, at: producer.get(name) ?? -1 })),
  }));
  const candidates: { tensor: string; at: number }[] = [{ tensor: inputName, at: -1 }];
  for (const i of needed) {
    for (const out of nodeOutputs(nodes[i]!)) {
      if (out !== '' && out !== featureOutput && split.neededTensors.has(out) && !constants.has(out)) candidates.push({ tensor: out, at: i });
    }
  }
  const points: CutPoint[] = [];
  for (const { tensor, at } of candidates) {
    const isArticulation = reads.every((r) => r.index <= at || r.inputs.every((u) => u.name === tensor || u.at > at));
    if (!isArticulation) continue;
    const quant = at >= 0 ? quantParams(nodes, producer, tensor) : undefined;
    const shape = shapes.get(tensor);
    const channels = channelsOf(split, tensor, shape);
    points.push({
      tensor,
      nodeIndex: at,
      isQuantized: quant !== undefined,
      ...(quant ?? {}),
      ...(channels === undefined ? {} : { channels }),
      ...(shape === undefined ? {} : { shape }),
      spatialConvsAfter: spatial.filter((s) => s > at).length,
    });
  }
  return points;
}

/**
 * Resolves `--unfreeze` on a model.
 *
 * - `all`: the graph input (nothing frozen).
 * - `last:N`: blocks are counted by spatial convolutions (kernel > 1x1; one per MobileNet block). The cut is
 *   the cut point with the fewest channels (ties: the later one) after the (N+1)-th last spatial conv and
 *   before the N-th last one: the narrow bottleneck between blocks, the cheapest tensor to cache. For the
 *   int8 MobileNetV2, last:3 cuts at block 13's output 597_quantized (7x7x160) and trains blocks 14-16 and
 *   the final 1x1 conv. N at least the number of spatial convs means everything trains.
 * - `from:<name>`: a tensor, or a node (its first output), that is a cut point.
 *
 * @throws GraftError `INVALID_CONFIG` when `from:` names no tensor or node (listing candidates) or one that is
 *   not a cut point (listing the nearest cut points).
 */
export function resolveUnfreeze(model: ModelProto, featureOutput: string, spec: UnfreezeSpec): ResolvedCut {
  const split = analyseGraph(model, featureOutput);
  const points = findCutPoints(model, featureOutput);
  const resolved = (point: CutPoint, label: string): ResolvedCut => {
    const trainableNodes = suffixNodeIndices(split, point.tensor).length;
    const where = point.nodeIndex < 0 ? `the input "${point.tensor}"` : point.tensor;
    const shape = formatShape(point);
    return {
      spec,
      tensor: point.tensor,
      isInput: point.nodeIndex < 0,
      nodeIndex: point.nodeIndex,
      isQuantized: point.isQuantized,
      ...(point.scale === undefined ? {} : { scale: point.scale }),
      ...(point.zeroPoint === undefined ? {} : { zeroPoint: point.zeroPoint }),
      ...(point.channels === undefined ? {} : { channels: point.channels }),
      ...(point.shape === undefined ? {} : { shape: point.shape }),
      trainableNodes,
      totalNodes: split.needed.length,
      description: `${label}: from ${where}${shape ? ` (${shape})` : ''}, ${trainableNodes} of ${split.needed.length} nodes trainable`,
    };
  };
  if (spec.kind === 'all') return resolved(points[0]!, 'all');
  if (spec.kind === 'last') {
    const spatialCount = points[0]!.spatialConvsAfter;
    if (spec.blocks >= spatialCount) {
      return resolved(points[0]!, `last ${spec.blocks} blocks (the model has ${spatialCount}, so everything trains)`);
    }
    return resolved(pickLastBlocks(points, spec.blocks), `last ${spec.blocks} block${spec.blocks === 1 ? '' : 's'}`);
  }
  const tensor = tensorForName(split, spec.name);
  if (tensor === undefined) {
    const needle = spec.name.toLowerCase();
    const similar = points.filter((p) => p.tensor.toLowerCase().includes(needle)).slice(-6);
    const boundaries = blockBoundaries(points, 5);
    const listed = (similar.length > 0 ? similar : boundaries).map((p) => describePoint(p)).join(', ');
    throw new GraftError('INVALID_CONFIG', `--unfreeze from:${spec.name}: the model has no tensor or node named "${spec.name}". Cut points${similar.length > 0 ? ' with similar names' : ' between the last blocks'}: ${listed}.`, {
      hint: 'pass a tensor name from that list, or use last:<N>',
    });
  }
  const point = points.find((p) => p.tensor === tensor);
  if (!point) {
    const at = tensor === featureOutput ? Number.POSITIVE_INFINITY : (split.producer.get(tensor) ?? -1);
    const before = points.filter((p) => p.nodeIndex < at).slice(-2);
    const after = points.filter((p) => p.nodeIndex >= at).slice(0, 2);
    const why = tensor === featureOutput
      ? 'it is the feature output itself, so nothing would train'
      : split.neededTensors.has(tensor)
        ? 'another path (e.g. a residual connection) bypasses it, so the suffix would need more than this one cached tensor'
        : 'the features do not depend on it';
    throw new GraftError('INVALID_CONFIG', `--unfreeze from:${spec.name}: "${tensor}" is not a valid cut point: ${why}. Nearest cut points: ${[...before, ...after].map((p) => describePoint(p)).join(', ')}.`, {
      hint: 'pass one of those tensors, or use last:<N>',
    });
  }
  const weighted = suffixNodeIndices(split, point.tensor).filter((i) => WEIGHTED_OPS.has(split.nodes[i]!.opType ?? ''));
  if (weighted.length === 0) {
    const before = points.filter((p) => p.nodeIndex < point.nodeIndex && p.spatialConvsAfter > 0).slice(-2);
    throw new GraftError('INVALID_CONFIG', `--unfreeze from:${spec.name}: nothing after "${tensor}" has weights, so nothing would train. Earlier cut points: ${before.map((p) => describePoint(p)).join(', ')}.`, {
      hint: 'pass an earlier tensor, or use last:<N>',
    });
  }
  return resolved(point, `from:${spec.name}`);
}

/** Ops whose weights the tfjs import makes trainable. */
const WEIGHTED_OPS = new Set(['Conv', 'QLinearConv', 'Gemm', 'MatMul', 'QLinearMatMul', 'BatchNormalization']);

/**
 * A text table of the cut points, for `graft inspect`-style listings: tensor, shape, spatial convs after it,
 * and which `last:N` picks it.
 */
export function describeCutPoints(model: ModelProto, featureOutput: string): string {
  const points = findCutPoints(model, featureOutput);
  const picks = new Map<string, number[]>();
  for (let n = 1; n < points[0]!.spatialConvsAfter; n++) {
    const tensor = pickLastBlocks(points, n).tensor;
    picks.set(tensor, [...(picks.get(tensor) ?? []), n]);
  }
  const rows = points.map((p) => [
    p.nodeIndex < 0 ? `${p.tensor} (input)` : p.tensor,
    formatShape(p) ?? '?',
    p.isQuantized ? 'int8' : 'float',
    String(p.spatialConvsAfter),
    picks.has(p.tensor) ? picks.get(p.tensor)!.map((n) => `last:${n}`).join(' ') : p.nodeIndex < 0 ? 'all' : '',
  ]);
  const header = ['tensor', 'shape', 'type', 'spatial convs after', '--unfreeze'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  return [header, ...rows].map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n');
}

/** 'HxWxC' for an image tensor, 'D' for a vector; undefined when the shape is unknown. */
export function formatShape(point: Pick<CutPoint, 'shape' | 'channels'>): string | undefined {
  const shape = point.shape;
  if (!shape || shape.slice(1).some((d) => d === null)) return point.channels === undefined ? undefined : `${point.channels} channels`;
  if (shape.length === 4) {
    // NCHW unless the channel count sits last (an NHWC graph input).
    const [h, w] = shape[1] === point.channels || point.channels === undefined ? [shape[2], shape[3]] : [shape[1], shape[2]];
    return `${h}x${w}x${point.channels ?? shape[1]}`;
  }
  return shape.slice(1).join('x');
}

function describePoint(p: CutPoint): string {
  const shape = formatShape(p);
  return `${p.tensor}${shape ? ` (${shape})` : ''}`;
}

/** The cut `last:N` picks (N below the number of spatial convs); see {@link resolveUnfreeze}. */
function pickLastBlocks(points: readonly CutPoint[], blocks: number): CutPoint {
  // Cut points between the (N+1)-th last spatial conv (inclusive: its output) and the N-th last (exclusive).
  const window = points.filter((p) => p.spatialConvsAfter === blocks && p.nodeIndex >= 0);
  // No articulation tensor inside the window (a bypass spans it): take the latest cut before it, training more.
  const pool = window.length > 0 ? window : points.filter((p) => p.spatialConvsAfter > blocks).slice(-1);
  let best = pool[0]!;
  for (const p of pool) if ((p.channels ?? Infinity) <= (best.channels ?? Infinity)) best = p;
  return best;
}

function blockBoundaries(points: readonly CutPoint[], count: number): CutPoint[] {
  const found: CutPoint[] = [];
  for (let n = Math.min(count, points[0]!.spatialConvsAfter - 1); n >= 1; n--) found.push(pickLastBlocks(points, n));
  return found;
}

/** A tensor name, or a node name meaning its first output; undefined when neither exists. */
function tensorForName(split: GraphSplit, name: string): string | undefined {
  if (name === split.inputName || split.producer.has(name)) return name;
  const node = split.nodes.find((n) => n.name === name);
  return node ? nodeOutputs(node)[0] : undefined;
}

/** Output scale / zero point input positions of the ops that produce quantized activations. */
const QUANT_OUTPUT_PARAMS: Readonly<Record<string, readonly [number, number]>> = {
  QuantizeLinear: [1, 2],
  QLinearConv: [6, 7],
  QLinearMatMul: [6, 7],
  QLinearAdd: [6, 7],
  QLinearMul: [6, 7],
  QLinearGlobalAveragePool: [3, 4],
  QLinearAveragePool: [3, 4],
};
/** Ops that move quantized values without changing them (the scale stays the input's). */
const QUANT_PASSTHROUGH = new Set(['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Identity', 'Transpose', 'MaxPool']);

function quantParams(nodes: readonly NodeProto[], producer: ReadonlyMap<string, number>, tensor: string): { scale: string; zeroPoint?: string } | undefined {
  let name = tensor;
  for (let steps = 0; steps < 16; steps++) {
    const node = nodes[producer.get(name) ?? -1];
    if (!node) return undefined;
    const op = node.opType ?? '';
    const at = QUANT_OUTPUT_PARAMS[op];
    if (at) {
      const inputs = nodeInputs(node);
      const zeroPoint = inputs[at[1]];
      return { scale: inputs[at[0]]!, ...(zeroPoint ? { zeroPoint } : {}) };
    }
    if (!QUANT_PASSTHROUGH.has(op)) return undefined;
    name = nodeInputs(node)[0] ?? '';
  }
  return undefined;
}

/** Conv or QLinearConv with a kernel larger than 1x1 (one per MobileNet/ResNet block). */
function isSpatialConv(graph: GraphProto, node: NodeProto): boolean {
  const op = node.opType ?? '';
  if (op !== 'Conv' && op !== 'QLinearConv') return false;
  const weight = findInitializer(graph, nodeInputs(node)[op === 'Conv' ? 1 : 3] ?? '');
  const kernel = weight ? tensorDims(weight).slice(2) : (intsAttr(node, 'kernel_shape') ?? []);
  return kernel.reduce((a, b) => a * b, 1) > 1;
}

/** Channels of a tensor: axis 1 of an NCHW (or [N, D]) shape; an NHWC graph input's last axis. */
function channelsOf(split: GraphSplit, tensor: string, shape: readonly (number | null)[] | undefined): number | undefined {
  if (!shape || shape.length < 2) return undefined;
  if (tensor === split.inputName && shape.length === 4) {
    // Images arrive NHWC in TF.js exports, which transpose them to NCHW first.
    const first = split.nodes.find((n) => nodeInputs(n).includes(tensor));
    const perm = first?.opType === 'Transpose' ? intsAttr(first, 'perm') : undefined;
    if (perm?.join() === '0,3,1,2') return shape[3] ?? undefined;
  }
  return shape[1] ?? undefined;
}
