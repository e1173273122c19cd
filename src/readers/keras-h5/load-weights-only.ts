import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../../core/errors.js';
import { attrString, attrStringList, datasetFloat32, openHdf5, type Hdf5Dataset, type Hdf5Group } from './hdf5-file.js';
import { readKerasH5Weights } from './keras-weights.js';

/** What {@link loadKerasWeightsOnly} did. */
export interface KerasWeightsOnlyResult {
  /** `keras2`: `save_weights('w.h5')` (layer_names / weight_names); `keras3`: `save_weights('w.weights.h5')` (layers/<name>/vars/<i>). */
  readonly layout: 'keras2' | 'keras3';
  /** The file's `keras_version`, or 'unknown' (Keras 3 .weights.h5 files record none). */
  readonly kerasVersion: string;
  /**
   * How file layers were matched to the architecture's: Keras 2 by name, or (when every name differs) by order as
   * Keras 2's load_weights does; Keras 3 by class and position (`layers/conv2d_1`), as Keras 3 does.
   */
  readonly matchedBy: 'name' | 'order' | 'class';
  /** Layers whose weights were set. */
  readonly layers: number;
  /** Weight tensors set. */
  readonly tensors: number;
}

/** One architecture layer's weights as read from the file, in the file's order. */
interface FileLayer {
  readonly name: string;
  readonly weights: readonly { readonly name: string; readonly shape: readonly number[]; readonly data: Float32Array }[];
}

/**
 * Whether an HDF5 file is a Keras weights-only file (no model_config; Keras 2 `layer_names` or a Keras 3
 * `layers` group), i.e. needs an architecture to be loaded into.
 */
export async function isKerasWeightsOnly(h5Path: string): Promise<boolean> {
  const file = await openHdf5(h5Path);
  try {
    const root = file.root;
    if (attrString(root, 'model_config') !== undefined) return false;
    return attrStringList(root, 'layer_names').length > 0 || isGroup(root.get('layers')) || isGroup(root.get('_layer_checkpoint_dependencies'));
  } finally {
    file.close();
  }
}

/**
 * Loads a Keras weights-only .h5 (`model.save_weights(...)`) into `architecture`, a TF.js layers model of the
 * same architecture (from a model.json, a full Keras .h5, or a catalogue backbone): its weights are replaced.
 *
 * Keras 2 files (`layer_names` / `weight_names` attributes, datasets at `<layer>/<weight name>`) and Keras 3
 * `.weights.h5` files (`layers/<snake_case class>[_n]/vars/<i>`, see {@link keras3LayerKeys}; nested models as
 * `layers/functional/layers/...`) are read; a full Keras 2 model file's `model_weights` group works too. Keras 2
 * layers are matched by name, Keras 3 ones by class and position as Keras 3 itself does; within a layer,
 * weights by role (`kernel`, `bias`, `gamma`, ...), else by order. A Keras 2 file whose layer names all differ
 * from the architecture's (a model rebuilt with fresh auto-names) is matched by order, as Keras's load_weights
 * does, when both have the same number of layers with weights.
 *
 * Nothing is assigned unless every weight of the architecture gets a value of the right shape.
 *
 * @throws GraftError `INVALID_CONFIG` naming the layer for a layer missing from the file, a file layer the
 *   architecture lacks, a weight count mismatch, or a shape mismatch (expected and found shapes);
 *   `INVALID_MODEL_DIR` / `MODEL_NOT_FOUND` for a file that is not a readable weights file.
 * @example
 * const architecture = await tf.models.modelFromJSON({ modelTopology });
 * await loadKerasWeightsOnly('weights.h5', architecture);
 */
export async function loadKerasWeightsOnly(h5Path: string, architecture: tf.LayersModel): Promise<KerasWeightsOnlyResult> {
  const file = await openHdf5(h5Path);
  try {
    const root = file.root;
    const kerasVersion = attrString(root, 'keras_version') ?? 'unknown';
    const weighted = architecture.layers.filter((l) => l.weights.length > 0);
    const modelWeights = root.get('model_weights');
    const keras2Root = attrStringList(root, 'layer_names').length > 0 ? root : isGroup(modelWeights) ? (modelWeights as Hdf5Group) : undefined;
    if (keras2Root) {
      const fileLayers = keras2Layers(keras2Root, file.path);
      const byName = fileLayers.some((f) => weighted.some((l) => l.name === f.name));
      const isByOrder = !byName && fileLayers.length === weighted.length && fileLayers.length > 0;
      const pairs = isByOrder ? weighted.map((layer, i) => ({ layer, file: fileLayers[i]! })) : matchByName(weighted, fileLayers, file.path);
      const tensors = assign(architecture, pairs, file.path);
      return { layout: 'keras2', kerasVersion, matchedBy: isByOrder ? 'order' : 'name', layers: pairs.length, tensors };
    }
    const layersName = isGroup(root.get('layers')) ? 'layers' : '_layer_checkpoint_dependencies';
    const layersGroup = root.get(layersName);
    if (isGroup(layersGroup)) {
      const pairs = keras3Pairs(architecture.layers, layersGroup as Hdf5Group, file.path, layersName);
      const tensors = assign(architecture, pairs, file.path);
      return { layout: 'keras3', kerasVersion, matchedBy: 'class', layers: pairs.length, tensors };
    }
    throw new GraftError('INVALID_MODEL_DIR', `${file.path} is an HDF5 file but not Keras weights: it has neither a layer_names attribute (Keras 2 save_weights) nor a "layers" group (Keras 3 .weights.h5).`, {
      hint: 'pass a file written by model.save_weights() or model.save()',
    });
  } finally {
    file.close();
  }
}

function isGroup(entity: unknown): boolean {
  return entity !== null && typeof entity === 'object' && 'keys' in entity && !('shape' in entity);
}

/** Keras 2: groups in layer_names order, each with its weights in weight_names order (layers without weights dropped). */
function keras2Layers(weightsRoot: Hdf5Group, where: string): FileLayer[] {
  const byGroup = new Map<string, { name: string; shape: readonly number[]; data: Float32Array }[]>();
  for (const name of attrStringList(weightsRoot, 'layer_names')) byGroup.set(name, []);
  for (const w of readKerasH5Weights(weightsRoot, where)) byGroup.get(w.group)!.push(w);
  return [...byGroup].filter(([, weights]) => weights.length > 0).map(([name, weights]) => ({ name, weights }));
}

/** Every architecture layer paired with the file layer of its name; fails naming the first layer missing on either side. */
function matchByName(weighted: readonly tf.layers.Layer[], fileLayers: readonly FileLayer[], where: string): { layer: tf.layers.Layer; file: FileLayer }[] {
  const byName = new Map(fileLayers.map((f) => [f.name, f]));
  const pairs = weighted.map((layer) => {
    const found = byName.get(layer.name);
    if (!found) {
      throw mismatch(
        where,
        `it has no weights for layer "${layer.name}" (${layer.getClassName()}, ${layer.weights.length} weights). Layers in the file: ${fileLayers.map((f) => f.name).join(', ') || '(none)'}`,
      );
    }
    return { layer, file: found };
  });
  const extra = fileLayers.filter((f) => !weighted.some((l) => l.name === f.name));
  if (extra.length > 0) {
    throw mismatch(where, `it holds weights for layer "${extra[0]!.name}" that the architecture does not have (${extra.length} such layers; the architecture's: ${weighted.map((l) => l.name).join(', ')})`);
  }
  return pairs;
}

/**
 * Keras 3 addresses a model's layers by class, not by name ("names are usually autogenerated and thus not
 * reproducible", keras/src/saving/saving_lib.py): `layers/<snake_case class>[_<n>]/vars/<i>`, counted per class in
 * `model.layers` order, e.g. `layers/conv2d`, `layers/conv2d_1`, `layers/batch_normalization`. A nested model is
 * `layers/functional/layers/...` (`sequential` for a Sequential). Files addressing layers by name (TF-Keras 2.12)
 * are read too.
 */
export function keras3LayerKeys(layers: readonly tf.layers.Layer[]): string[] {
  const counts = new Map<string, number>();
  return layers.map((layer) => {
    const base = snakeCase(KERAS3_CLASS_NAMES[layer.getClassName()] ?? layer.getClassName());
    const n = counts.get(base);
    counts.set(base, n === undefined ? 0 : n + 1);
    return n === undefined ? base : `${base}_${n + 1}`;
  });
}

/** tfjs class names that Keras 3 spells differently. */
const KERAS3_CLASS_NAMES: Readonly<Record<string, string>> = { Model: 'Functional' };

/** keras.src.utils.naming.to_snake_case. */
function snakeCase(name: string): string {
  return name
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

/** Keras 3: each weighted layer's `<path>/<key>/vars/<i>`, recursing into nested models' `<path>/<key>/layers/`. */
function keras3Pairs(layers: readonly tf.layers.Layer[], layersGroup: Hdf5Group, where: string, path: string): { layer: tf.layers.Layer; file: FileLayer }[] {
  const pairs: { layer: tf.layers.Layer; file: FileLayer }[] = [];
  const claimed = new Set<string>();
  const keys = keras3LayerKeys(layers);
  layers.forEach((layer, index) => {
    if (layer.weights.length === 0) return;
    const key = isGroup(layersGroup.get(keys[index]!)) ? keys[index]! : layer.name;
    const group = layersGroup.get(key);
    if (!isGroup(group)) {
      throw mismatch(
        where,
        `it has no group ${path}/${keys[index]} (nor ${path}/${layer.name}) for layer "${layer.name}" (${layer.getClassName()}, ${layer.weights.length} weights). Groups in the file: ${layersGroup.keys().join(', ') || '(none)'}`,
      );
    }
    claimed.add(key);
    const inner = (group as Hdf5Group).get('layers');
    if (layer instanceof tf.LayersModel && isGroup(inner)) {
      const innerPairs = keras3Pairs(layer.layers, inner as Hdf5Group, where, `${path}/${key}/layers`);
      // The nested model is one architecture layer: its weights, in its own order, are the inner layers'.
      pairs.push({ layer, file: { name: layer.name, weights: orderLike(layer, innerPairs, where) } });
      return;
    }
    const vars = (group as Hdf5Group).get('vars');
    const names = isGroup(vars) ? (vars as Hdf5Group).keys().filter((k) => /^\d+$/.test(k)).sort((a, b) => Number(a) - Number(b)) : [];
    const weights = names.map((k) => {
      const dataset = (vars as Hdf5Group).get(k) as Hdf5Dataset;
      const { shape, data } = datasetFloat32(dataset, `"${path}/${key}/vars/${k}" in ${where}`);
      return { name: `${path}/${key}/vars/${k}`, shape, data };
    });
    pairs.push({ layer, file: { name: layer.name, weights } });
  });
  for (const key of layersGroup.keys()) {
    if (claimed.has(key)) continue;
    const group = layersGroup.get(key);
    const vars = isGroup(group) ? (group as Hdf5Group).get('vars') : null;
    if (isGroup(vars) && (vars as Hdf5Group).keys().length > 0) {
      throw mismatch(where, `it holds weights at ${path}/${key} that no layer of the architecture takes (its weighted layers: ${layers.filter((l) => l.weights.length > 0).map((l) => l.name).join(', ')})`);
    }
  }
  return pairs;
}

/** A nested model's weights from its inner layers' pairs, in the order of `model.weights`. */
function orderLike(model: tf.LayersModel, innerPairs: readonly { layer: tf.layers.Layer; file: FileLayer }[], where: string): FileLayer['weights'] {
  const byVariable = new Map<tf.LayerVariable, FileLayer['weights'][number]>();
  for (const { layer, file } of innerPairs) {
    const matched = matchWeights(layer, file, where);
    layer.weights.forEach((v, i) => byVariable.set(v, matched[i]!));
  }
  return model.weights.map((v) => byVariable.get(v)!);
}

/** The file weights in the order of `layer.weights`: by role name when every role matches, else by position. */
function matchWeights(layer: tf.layers.Layer, file: FileLayer, where: string): FileLayer['weights'] {
  const variables = layer.weights;
  if (file.weights.length !== variables.length) {
    throw mismatch(
      where,
      `layer "${layer.name}" (${layer.getClassName()}) has ${variables.length} weights (${variables.map((v) => roleOf(v.originalName, layer instanceof tf.LayersModel)).join(', ')}) but the file has ${file.weights.length} (${file.weights.map((w) => w.name).join(', ')})`,
    );
  }
  const isNested = layer instanceof tf.LayersModel;
  const fileRoles = file.weights.map((w) => roleOf(w.name, isNested));
  const byRole = variables.map((v) => {
    const role = roleOf(v.originalName, isNested);
    const hits = file.weights.filter((_w, i) => fileRoles[i] === role);
    return hits.length === 1 ? hits[0] : undefined;
  });
  const isByRole = byRole.every((w) => w !== undefined) && new Set(byRole).size === byRole.length;
  return isByRole ? (byRole as FileLayer['weights']) : file.weights;
}

/** `conv2d/kernel:0` -> `kernel`; for nested models the inner layer too: `model/Conv1/kernel:0` -> `Conv1/kernel`. */
function roleOf(name: string, isNested: boolean): string {
  return name.replace(/:\d+$/, '').split('/').slice(isNested ? -2 : -1).join('/');
}

/** Checks every pair's weights and shapes, then sets them all at once; returns the number of tensors set. */
function assign(model: tf.LayersModel, pairs: readonly { layer: tf.layers.Layer; file: FileLayer }[], where: string): number {
  const values = new Map<tf.LayerVariable, Float32Array>();
  for (const { layer, file } of pairs) {
    const weights = matchWeights(layer, file, where);
    layer.weights.forEach((variable, i) => {
      const w = weights[i]!;
      if (w.shape.join(',') !== variable.shape.join(',')) {
        throw mismatch(
          where,
          `layer "${layer.name}" (${layer.getClassName()}) weight "${roleOf(variable.originalName, layer instanceof tf.LayersModel)}": the architecture expects shape [${variable.shape.join(', ')}], the file has [${w.shape.join(', ')}] ("${w.name}")`,
        );
      }
      values.set(variable, w.data);
    });
  }
  const missing = model.weights.filter((v) => !values.has(v));
  if (missing.length > 0) throw mismatch(where, `no value for weight "${missing[0]!.originalName}" (${missing.length} weights unset)`);
  const tensors = model.weights.map((v) => tf.tensor(values.get(v)!, v.shape as number[], 'float32'));
  try {
    model.setWeights(tensors);
  } finally {
    tensors.forEach((t) => t.dispose());
  }
  return tensors.length;
}

function mismatch(where: string, why: string): GraftError {
  return new GraftError('INVALID_CONFIG', `The weights in ${where} do not fit the architecture: ${why}.`, {
    hint: 'pass the architecture the weights were saved from (--architecture <model.json | full .h5 | catalogue name>)',
  });
}
