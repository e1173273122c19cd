import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../../core/errors.js';
import { dataInputs, parseNodeInput, type GraphModelJson, type GraphNodeDef } from './graph-model-json.js';

const MATMUL_OPS = new Set(['MatMul', '_FusedMatMul']);
const POOL_OPS = new Set(['Mean', 'AvgPool', 'Max', 'MaxPool']);

/**
 * The node whose output is the model's pooled feature vector: the input of the classifier MatMul
 * nearest the output (e.g. nsfwjs's `.../feature_vector/SpatialSqueeze`, [N, 1280]), or, for TF1
 * slim models whose classifier is a 1x1 Conv2D, the global pool feeding it (MobileNet v1's
 * `module_apply_default/MobilenetV1/Logits/global_pool`, [N, 1, 1, 256]).
 *
 * @param model - the parsed model.json, or a GraphModel loaded by this module.
 * @param nodeName - a node to use instead; it is checked to exist.
 * @throws GraftError `INVALID_CONFIG` when `nodeName` is not in the graph; `UNSUPPORTED_MODEL` when no
 *   classifier can be found (pass `nodeName`).
 */
export function graphFeatureNode(model: GraphModelJson | tf.GraphModel, nodeName?: string): string {
  const nodeList = graphNodes(model);
  const nodes = new Map(nodeList.map((n) => [n.name, n]));
  if (nodeName !== undefined) {
    const name = parseNodeInput(nodeName)?.node ?? nodeName;
    if (!nodes.has(name)) {
      throw new GraftError('INVALID_CONFIG', `The graph has no node named "${nodeName}".`, { hint: 'pass a node name from model.json (modelTopology.node[].name)' });
    }
    return name;
  }
  const consumed = new Set(nodeList.flatMap((n) => dataInputs(n).map((i) => i.node)));
  const outputs = nodeList.filter((n) => n.op !== 'Const' && !consumed.has(n.name));
  // Breadth first from the outputs: the first classifier met is the final one.
  const queue = [...outputs];
  const seen = new Set(queue.map((n) => n.name));
  for (let node = queue.shift(); node; node = queue.shift()) {
    const source = dataInputs(node)[0];
    const producer = source ? nodes.get(source.node) : undefined;
    if (MATMUL_OPS.has(node.op) && producer) return producer.name;
    if (node.op === 'Conv2D' && producer && POOL_OPS.has(producer.op)) return producer.name;
    for (const input of dataInputs(node)) {
      const next = nodes.get(input.node);
      if (next && next.op !== 'Const' && !seen.has(next.name)) {
        seen.add(next.name);
        queue.push(next);
      }
    }
  }
  throw new GraftError('UNSUPPORTED_MODEL', 'Could not find a classifier (MatMul, or a 1x1 Conv2D after a global pool) to take features from in this graph model.', {
    hint: 'pass the feature node name explicitly (a pooled [N, D] or [N, 1, 1, D] node from model.json)',
  });
}

/**
 * Runs the graph up to `node` and returns its output flattened to [N, D].
 *
 * @param x - [N, H, W, C] preprocessed images, as the graph's input expects.
 * @example
 * const features = extractGraphFeatures(model, x, graphFeatureNode(modelJson));
 */
export function extractGraphFeatures(model: tf.GraphModel, x: tf.Tensor4D, node: string): tf.Tensor2D {
  return tf.tidy(() => {
    const out = model.execute(x, node);
    if (Array.isArray(out)) throw new GraftError('UNSUPPORTED_MODEL', `Graph node "${node}" returned ${out.length} tensors; a feature node returns one.`);
    return out.reshape([x.shape[0], -1]) as tf.Tensor2D;
  });
}

function graphNodes(model: GraphModelJson | tf.GraphModel): readonly GraphNodeDef[] {
  if (model instanceof tf.GraphModel) {
    // tfjs keeps the loaded artifacts on a field its typings mark private; the topology is the GraphDef JSON.
    const topology = (model as unknown as { artifacts?: { modelTopology?: { node?: GraphNodeDef[] } } }).artifacts?.modelTopology;
    if (!Array.isArray(topology?.node)) {
      throw new GraftError('UNSUPPORTED_MODEL', 'This GraphModel does not expose its graph definition.', { hint: 'pass the parsed model.json instead' });
    }
    return topology.node;
  }
  return model.modelTopology.node;
}
