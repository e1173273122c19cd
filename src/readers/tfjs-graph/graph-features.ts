import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../../core/errors.js';
import { featureNodeOf } from './graph-feature-node.js';
import type { GraphModelJson, GraphNodeDef } from './graph-model-json.js';

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
  return featureNodeOf(graphNodes(model), nodeName);
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
