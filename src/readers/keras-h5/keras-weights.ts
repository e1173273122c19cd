import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../../core/errors.js';
import { attrStringList, datasetFloat32, type Hdf5Dataset, type Hdf5Group } from './hdf5-file.js';

/** One weight read from an .h5 `model_weights` group. */
export interface KerasH5Weight {
  /** The top-level layer (group) it belongs to: a layer name, or a nested model's name. */
  readonly group: string;
  /** The name as stored in `weight_names` (e.g. `Conv1/kernel:0`, `sequential/conv2d/kernel`). */
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/**
 * Reads every weight of a Keras .h5 weights group (`model_weights` of a full model, or the root of a
 * `save_weights` file), following `layer_names` and each group's `weight_names` (split attributes
 * `name0..N` included). A weight name is looked up below its group with or without the group prefix,
 * which covers Keras 2 (`conv2d/kernel:0`), Teachable Machine (names without the nested model's prefix)
 * and Keras 3 (`sequential/conv2d/kernel`, no `:0`).
 *
 * @throws GraftError `INVALID_MODEL_DIR` when a listed group or weight is missing from the file.
 */
export function readKerasH5Weights(weightsRoot: Hdf5Group, where: string): KerasH5Weight[] {
  const out: KerasH5Weight[] = [];
  for (const groupName of attrStringList(weightsRoot, 'layer_names')) {
    const group = weightsRoot.get(groupName);
    if (group === null || !('keys' in group)) throw damaged(where, `layer group "${groupName}" listed in layer_names is missing`);
    for (const name of attrStringList(group as Hdf5Group, 'weight_names')) {
      const candidates = [name, name.startsWith(`${groupName}/`) ? name.slice(groupName.length + 1) : undefined].filter((c): c is string => c !== undefined);
      const dataset = candidates.map((c) => (group as Hdf5Group).get(c)).find((d) => d !== null && 'shape' in d) as Hdf5Dataset | undefined;
      if (dataset === undefined) throw damaged(where, `weight "${name}" listed in group "${groupName}" has no dataset`);
      const { shape, data } = datasetFloat32(dataset, `"${groupName}/${name}" in ${where}`);
      out.push({ group: groupName, name, shape, data });
    }
  }
  return out;
}

/**
 * Sets `model`'s weights from .h5 weights, matched by NAME: the group is the top-level layer of the same
 * name, and inside it a weight matches on its last two name parts (`layer/role`, without `:0`). Position is
 * not used: Teachable Machine lists all trainable weights before all non-trainable ones. A plain layer
 * whose weight names carry another layer name (renamed layers) falls back to the role alone when unique.
 *
 * @returns the number of tensors set.
 * @throws GraftError `INVALID_MODEL_DIR` naming the tfjs weight that got no value, an .h5 weight that
 *   matched nothing, or a shape mismatch. Nothing is assigned unless every weight matched.
 */
export function assignKerasH5Weights(model: tf.LayersModel, weights: readonly KerasH5Weight[], where: string): number {
  const byGroup = new Map<string, KerasH5Weight[]>();
  for (const w of weights) byGroup.set(w.group, [...(byGroup.get(w.group) ?? []), w]);
  const assigned = new Map<tf.LayerVariable, KerasH5Weight>();
  const used = new Set<KerasH5Weight>();
  for (const [groupName, groupWeights] of byGroup) {
    const layer = model.layers.find((l) => l.name === groupName);
    if (layer === undefined) throw damaged(where, `weights of layer "${groupName}" match no layer of the model (layers: ${model.layers.map((l) => l.name).join(', ')})`);
    const isContainer = layer instanceof tf.LayersModel;
    const byKey = new Map(groupWeights.map((w) => [lastParts(w.name, 2), w]));
    for (const variable of layer.weights) {
      let match = byKey.get(lastParts(variable.originalName, 2));
      if (match === undefined && !isContainer) {
        const role = lastParts(variable.originalName, 1);
        const sameRole = groupWeights.filter((w) => lastParts(w.name, 1) === role);
        if (sameRole.length === 1) match = sameRole[0];
      }
      if (match === undefined) continue;
      if (used.has(match)) throw damaged(where, `weight "${match.group}/${match.name}" matches two tfjs weights`);
      if (match.shape.join(',') !== variable.shape.join(',')) {
        throw damaged(where, `weight "${match.group}/${match.name}" has shape [${match.shape.join(', ')}] but tfjs weight "${variable.originalName}" needs [${variable.shape.join(', ')}]`);
      }
      assigned.set(variable, match);
      used.add(match);
    }
  }
  const missing = model.weights.filter((v) => !assigned.has(v));
  if (missing.length > 0) {
    throw damaged(where, `no value for tfjs weight${missing.length > 1 ? 's' : ''} ${missing.slice(0, 5).map((v) => `"${v.originalName}"`).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`);
  }
  const unused = weights.filter((w) => !used.has(w));
  if (unused.length > 0) throw damaged(where, `.h5 weight "${unused[0]!.group}/${unused[0]!.name}" matches no weight of the model (${unused.length} unmatched)`);
  const tensors = model.weights.map((v) => tf.tensor(assigned.get(v)!.data, v.shape as number[], 'float32'));
  try {
    model.setWeights(tensors);
  } finally {
    tensors.forEach((t) => t.dispose());
  }
  return assigned.size;
}

/** `a/b/kernel:0` -> `b/kernel` (n = 2): the layer and role, without Keras 2's `:0` suffix. */
function lastParts(name: string, n: number): string {
  return name.replace(/:\d+$/, '').split('/').slice(-n).join('/');
}

function damaged(where: string, why: string): GraftError {
  return new GraftError('INVALID_MODEL_DIR', `Cannot load the weights of ${where}: ${why}.`, {
    hint: 'the .h5 file does not match its own model_config (damaged or edited); save the model again with model.save()',
  });
}
