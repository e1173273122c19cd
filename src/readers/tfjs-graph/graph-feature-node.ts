import { GraftError } from '../../core/errors.js';
import { attrBool, attrShape, dataInputs, parseNodeInput, type GraphModelJson, type GraphNodeDef } from './graph-model-json.js';

/* Where a graph model's features are, read off model.json alone: no tfjs, so the hub can check a download cheaply. */

const MATMUL_OPS = new Set(['MatMul', '_FusedMatMul']);
const CONV_OPS = new Set(['Conv2D', '_FusedConv2D']);
const POOL_OPS = new Set(['Mean', 'AvgPool', 'Max', 'MaxPool']);
/** Ops whose output has as many channels as their first data input: what lies between a model's last weights and its output. */
const CHANNEL_KEEPING_OPS = new Set([
  ...POOL_OPS,
  'Squeeze', 'Reshape', 'Identity', 'BiasAdd', 'Add', 'AddV2', 'Sub', 'Mul', 'Relu', 'Relu6', 'Sigmoid', 'Tanh', 'Elu', 'Softmax', 'FusedBatchNorm', 'FusedBatchNormV3',
]);

/** The classifier nearest the output and the node whose output it reads (the features), or undefined. */
function findClassifier(nodeList: readonly GraphNodeDef[]): { classifier: GraphNodeDef; features: GraphNodeDef } | undefined {
  const nodes = new Map(nodeList.map((n) => [n.name, n]));
  const consumed = new Set(nodeList.flatMap((n) => dataInputs(n).map((i) => i.node)));
  const outputs = nodeList.filter((n) => n.op !== 'Const' && !consumed.has(n.name));
  // Breadth first from the outputs: the first classifier met is the final one.
  const queue = [...outputs];
  const seen = new Set(queue.map((n) => n.name));
  for (let node = queue.shift(); node; node = queue.shift()) {
    const source = dataInputs(node)[0];
    const producer = source ? nodes.get(source.node) : undefined;
    if (MATMUL_OPS.has(node.op) && producer) return { classifier: node, features: producer };
    if (node.op === 'Conv2D' && producer && POOL_OPS.has(producer.op)) return { classifier: node, features: producer };
    for (const input of dataInputs(node)) {
      const next = nodes.get(input.node);
      if (next && next.op !== 'Const' && !seen.has(next.name)) {
        seen.add(next.name);
        queue.push(next);
      }
    }
  }
  return undefined;
}

/**
 * The node whose output is the model's pooled feature vector (see graphFeatureNode, which also takes a loaded
 * GraphModel): `nodeName` checked to exist, else the input of the classifier nearest the output.
 * @throws GraftError `INVALID_CONFIG` when `nodeName` is not in the graph; `UNSUPPORTED_MODEL` when no classifier is found.
 */
export function featureNodeOf(nodeList: readonly GraphNodeDef[], nodeName?: string): string {
  if (nodeName !== undefined) {
    const name = parseNodeInput(nodeName)?.node ?? nodeName;
    if (!nodeList.some((n) => n.name === name)) {
      throw new GraftError('INVALID_CONFIG', `The graph has no node named "${nodeName}".`, { hint: 'pass a node name from model.json (modelTopology.node[].name)' });
    }
    return name;
  }
  const found = findClassifier(nodeList);
  if (found) return found.features.name;
  throw new GraftError('UNSUPPORTED_MODEL', 'Could not find a classifier (MatMul, or a 1x1 Conv2D after a global pool) to take features from in this graph model.', {
    hint: 'pass the feature node name explicitly (a pooled [N, D] or [N, 1, 1, D] node from model.json)',
  });
}

/** What a graph model's files state about its sizes; a size they do not state is absent. */
export interface GraphSizes {
  /** Side of the square input image the Placeholder declares. */
  readonly inputSize?: number;
  /** Length of the feature vector Graft takes (the input of the classifier nearest the output). */
  readonly featureDim?: number;
  /** Length of the model's own output vector (a feature-vector model's output is its features). */
  readonly outputDim?: number;
}

/**
 * The input side, feature size and output size of a graph model, from model.json's nodes and the weight shapes its
 * manifest lists: nothing is loaded or run.
 */
export function graphSizes(model: GraphModelJson): GraphSizes {
  const nodeList = model.modelTopology.node;
  const shapes = new Map(model.weightsManifest.flatMap((group) => group.weights.map((w) => [w.name, w.shape] as const)));
  const nodes = new Map(nodeList.map((n) => [n.name, n]));
  const placeholders = nodeList.filter((n) => n.op === 'Placeholder');
  const declared = placeholders.length === 1 ? attrShape(placeholders[0]!, 'shape') : undefined;
  const inputSize = declared?.length === 4 && declared[1]! > 0 && declared[1] === declared[2] ? declared[1] : undefined;
  const classifier = findClassifier(nodeList)?.classifier;
  const featureDim = classifier ? weightChannels(classifier, shapes)?.in : undefined;
  const consumed = new Set(nodeList.flatMap((n) => dataInputs(n).map((i) => i.node)));
  const outputs = nodeList.filter((n) => n.op !== 'Const' && n.op !== 'NoOp' && !consumed.has(n.name));
  const outputDim = outputs.length === 1 ? outputChannels(outputs[0]!, nodes, shapes) : undefined;
  return { ...(inputSize ? { inputSize } : {}), ...(featureDim ? { featureDim } : {}), ...(outputDim ? { outputDim } : {}) };
}

/** Channels into and out of a MatMul or convolution, from its weight's shape; undefined for other nodes. */
function weightChannels(node: GraphNodeDef, shapes: ReadonlyMap<string, readonly number[]>): { in: number; out: number } | undefined {
  const shape = shapes.get(dataInputs(node)[1]?.node ?? '');
  if (MATMUL_OPS.has(node.op) && shape?.length === 2) return attrBool(node, 'transpose_b') ? { in: shape[1]!, out: shape[0]! } : { in: shape[0]!, out: shape[1]! };
  if (CONV_OPS.has(node.op) && shape?.length === 4) return { in: shape[2]!, out: shape[3]! };
  return undefined;
}

/** The channels of `node`'s output: the last weights' out-channels, through ops that keep the count. */
function outputChannels(node: GraphNodeDef, nodes: ReadonlyMap<string, GraphNodeDef>, shapes: ReadonlyMap<string, readonly number[]>): number | undefined {
  for (let current: GraphNodeDef | undefined = node, steps = 0; current && steps < 32; steps++) {
    const weights = weightChannels(current, shapes);
    if (weights) return weights.out;
    if (!CHANNEL_KEEPING_OPS.has(current.op)) return undefined;
    current = dataInputs(current).map((i) => nodes.get(i.node)).find((n) => n !== undefined && n.op !== 'Const');
  }
  return undefined;
}
