import type * as tf from '@tensorflow/tfjs';
import { sha256File } from '../core/sha256-file.js';
import { GraftError } from '../core/errors.js';
import { cutOwningWeights, disposeLayersModel } from '../readers/dispose-layers-model.js';
import type { ConversionRequest } from './conversion.js';
import type { ModelFormatEntry } from './format-entry.js';
import { lazyLayersConverters } from './lazy-converters.js';
import { startsWithHdf5Signature } from './magic-numbers.js';
import type { BackboneLocation } from './model-location.js';


/**
 * Keras HDF5 files (Keras applications, Teachable Machine's keras_model.h5), read with h5wasm into a tfjs layers
 * model. A whole classifier gives the features that feed its last layer; a weights-only file converts once it is
 * given its architecture.
 */
export const KERAS_H5_FORMAT: ModelFormatEntry = {
  name: 'keras-h5',
  label: 'Keras HDF5 (.h5)',
  storage: 'file',
  extensions: ['.h5', '.hdf5', '.keras'],
  detect: ({ head }) => startsWithHdf5Signature(head) || 'no HDF5 signature',
  locate: (path) => ({ kind: 'keras-h5', path }),
  modelId: (location) => sha256File(kerasPath(location)),
  // h5wasm and tfjs load only when a Keras file is actually read (see lazy-converters.ts).
  openFeatures: async (request) =>
    (await import('./layers-model-features.js')).openLayersModelFeatures(request, async (featureLayer) => {
      const { loadKerasH5 } = await import('../readers/keras-h5/load-keras-h5.js');
      const { truncateAt } = await import('../readers/tfjs-layers.js');
      const { cutAtFeatures } = await import('../readers/feature-cut.js');
      const path = kerasPath(request.location, request.source);
      // A Keras file is usually a whole classifier: without --feature-output, features are what its classifier reads,
      // else what feeds its last top-level layer (Teachable Machine: the backbone Sequential's 1280-d output).
      const full = (await loadKerasH5(path)).model;
      return cutOwningWeights(full, (model) => (featureLayer ? truncateAt(model, featureLayer) : cutAtFeatures(model, path, 'before-last')));
    }),
  convertTo: lazyLayersConverters('keras-h5', async () => loadKerasSource),
  takesArchitecture: true,
};

/** A Keras .h5: a full model, or a weights-only file loaded into the requested architecture. */
async function loadKerasSource(request: ConversionRequest, notes: string[]): Promise<tf.LayersModel> {
  const { path, architecture } = request;
  const { loadKerasH5 } = await import('../readers/keras-h5/load-keras-h5.js');
  const { isKerasWeightsOnly, loadKerasWeightsOnly } = await import('../readers/keras-h5/load-weights-only.js');
  if (architecture.spec === undefined) {
    if (await isKerasWeightsOnly(path)) {
      throw new GraftError('UNSUPPORTED_MODEL', `${path} holds only weights (saved with save_weights) and no model_config, so the architecture is unknown.`, {
        hint: `pass --architecture <model.json | full .h5 | catalogue name> with the architecture it was saved from (catalogue TF.js layers models: ${architecture.names.join(', ')})`,
      });
    }
    return (await loadKerasH5(path)).model;
  }
  const model = await architecture.load(architecture.spec);
  try {
    const loaded = await loadKerasWeightsOnly(path, model);
    notes.push(
      `weights-only .h5 (${loaded.layout === 'keras2' ? 'Keras 2 layer_names' : 'Keras 3 .weights.h5'} layout, ${loaded.tensors} tensors in ${loaded.layers} layers, matched by ${loaded.matchedBy}) loaded into the architecture of ${architecture.spec}`,
    );
    return model;
  } catch (error) {
    disposeLayersModel(model);
    throw error;
  }
}

function kerasPath(location: BackboneLocation, source = 'the model'): string {
  if (location.kind !== 'keras-h5') throw new GraftError('INTERNAL', `Keras backbone without a file: ${source}`);
  return location.path;
}
