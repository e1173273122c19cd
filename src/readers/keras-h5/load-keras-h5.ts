import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../../core/errors.js';
import { disposeLayersModel } from '../dispose-layers-model.js';
import { registerLayersTfjsLacks } from '../subtract-layer.js';
import { attrString, attrStringList, openHdf5, type Hdf5Group } from './hdf5-file.js';
import { toTfjsModelConfig } from './keras-config.js';
import { assignKerasH5Weights, readKerasH5Weights } from './keras-weights.js';

/** What {@link loadKerasH5} returns. */
export interface KerasH5Model {
  /** The model as a TF.js layers model, weights set; dispose it when done. */
  readonly model: tf.LayersModel;
  /** The root `keras_version` attribute (e.g. "2.4.0", "3.9.0"), or "unknown". */
  readonly kerasVersion: string;
  /** Class names from `labels.txt` beside the file (Teachable Machine's export), when present. */
  readonly labels?: string[];
}

/**
 * Loads a full Keras model saved as HDF5 (`model.save('m.h5')`, Teachable Machine's `keras_model.h5`)
 * as a TF.js layers model. Reads nothing but the file and a `labels.txt` beside it; writes nothing.
 *
 * Keras 2 files (nested Sequential/Functional models, split `layer_names0..N` attributes, TM's
 * DepthwiseConv2D `groups: 1`) and Keras 3 legacy .h5 files (new config serialisation, weight names
 * without `:0`) are read. Weights are matched to the tfjs model by name and every tfjs weight must get
 * one. The model then exports to ONNX with `exportLayersModelToOnnx`.
 *
 * @param path - the .h5 file.
 * @throws GraftError `MODEL_NOT_FOUND` (no file); `INVALID_MODEL_DIR` (not HDF5, truncated, no
 *   model_config, weights that do not match the config, labels.txt that does not match the output);
 *   `UNSUPPORTED_MODEL` (a weights-only file, or a layer tfjs cannot build).
 * @example
 * const { model, labels } = await loadKerasH5('converted_keras/keras_model.h5');
 * const onnx = exportLayersModelToOnnx(model);
 */
export async function loadKerasH5(path: string): Promise<KerasH5Model> {
  const file = await openHdf5(path);
  let model: tf.LayersModel | undefined;
  try {
    const root = file.root;
    const kerasVersion = attrString(root, 'keras_version') ?? 'unknown';
    const configText = attrString(root, 'model_config');
    if (configText === undefined) throw missingConfig(file.path, root);
    let parsed: unknown;
    try {
      parsed = JSON.parse(configText);
    } catch (error) {
      throw new GraftError('INVALID_MODEL_DIR', `The model_config attribute of ${file.path} is not valid JSON.`, { cause: error, hint: 'save the model again' });
    }
    const config = toTfjsModelConfig(parsed, kerasVersion);
    registerLayersTfjsLacks();
    try {
      model = await tf.models.modelFromJSON(config as tf.io.ModelJSON['modelTopology'] as {});
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new GraftError('UNSUPPORTED_MODEL', `tfjs could not build the Keras ${kerasVersion} model in ${file.path}: ${reason}`, {
        cause: error,
        hint: 'the model uses a layer or option TF.js does not implement',
      });
    }
    const weightsRoot = root.get('model_weights');
    if (weightsRoot === null || !('keys' in weightsRoot)) {
      throw new GraftError('INVALID_MODEL_DIR', `${file.path} has a model_config but no model_weights group.`, {
        hint: 'the file was saved without weights or is damaged; save it again with model.save()',
      });
    }
    assignKerasH5Weights(model, readKerasH5Weights(weightsRoot as Hdf5Group, file.path), file.path);
    const labels = await readLabelsBeside(file.path, model);
    return labels === undefined ? { model, kerasVersion } : { model, kerasVersion, labels };
  } catch (error) {
    if (model) disposeLayersModel(model);
    throw error;
  } finally {
    file.close();
  }
}

/**
 * Reads a Teachable Machine labels file: lines `0 thumb` (index, space, name) or bare names. The index
 * prefix is removed only when every line has the expected one, so a class really named "3 cats" in a
 * bare-names file survives.
 */
export function parseLabelsText(text: string): string[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  const indexed = lines.map((l, i) => new RegExp(`^${i}\\s+(.+)$`).exec(l));
  return indexed.every((m) => m !== null) ? indexed.map((m) => m![1]!.trim()) : lines;
}

async function readLabelsBeside(h5Path: string, model: tf.LayersModel): Promise<string[] | undefined> {
  const labelsPath = join(dirname(h5Path), 'labels.txt');
  let text: string;
  try {
    text = await readFile(labelsPath, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new GraftError('INVALID_MODEL_DIR', `Cannot read ${labelsPath}.`, { cause: error });
  }
  const labels = parseLabelsText(text);
  const outShape = model.outputs[0]?.shape ?? [];
  const classes = outShape[outShape.length - 1];
  if (typeof classes === 'number' && classes !== labels.length) {
    throw new GraftError('INVALID_MODEL_DIR', `${labelsPath} lists ${labels.length} labels but the model outputs ${classes} classes. Received: ${JSON.stringify(labels)}`, {
      hint: 'labels.txt belongs to another export; put the matching labels.txt beside the .h5 or remove it',
    });
  }
  return labels;
}

function missingConfig(path: string, root: Hdf5Group): GraftError {
  const layerNames = attrStringList(root, 'layer_names');
  if (layerNames.length > 0) {
    return new GraftError('UNSUPPORTED_MODEL', `${path} holds only weights (${layerNames.length} layers, saved with save_weights) and no model_config, so Graft cannot know the architecture.`, {
      hint: 'save the full model with model.save("model.h5") (or export "Keras" from Teachable Machine) and load that file',
    });
  }
  return new GraftError('INVALID_MODEL_DIR', `${path} is an HDF5 file without a model_config attribute, so it is not a Keras model.`, {
    hint: 'pass a file saved with Keras model.save("model.h5")',
  });
}
