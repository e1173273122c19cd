import { dirname } from 'node:path';
import { GraftError } from '../core/errors.js';
import { cutOwningWeights } from '../readers/dispose-layers-model.js';
import type { ModelFormatEntry } from './format-entry.js';
import { lazyLayersConverters } from './lazy-converters.js';
import { modelTopology } from './model-json.js';
import type { BackboneLocation } from './model-location.js';

/**
 * TF.js layers models (a folder of model.json and weight shards; also the MobileNetV2 bundled in nsfwjs): loaded
 * in tfjs, exported once to ONNX, and run in onnxruntime (or in tfjs-wasm with the `tfjs` runtime).
 */
export const TFJS_LAYERS_FORMAT: ModelFormatEntry = {
  name: 'tfjs-layers',
  label: 'TF.js layers model (folder with model.json)',
  storage: 'folder',
  extensions: [],
  detect: ({ json }) => {
    if (!json) return 'not a model.json';
    const topology = modelTopology(json);
    return json['format'] === 'layers-model' || 'model_config' in topology || 'class_name' in topology || 'model.json has no Keras model_config';
  },
  locate: (path) => ({ kind: 'tfjs-layers', dir: dirname(path) }),
  // tfjs loads only when a TF.js model is actually read (see lazy-converters.ts).
  modelId: async (location) => (await import('../readers/tfjs-layers-files.js')).layersModelDirSha256(layersDir(location)),
  openFeatures: async (request) =>
    (await import('./layers-model-features.js')).openLayersModelFeatures(request, async (featureLayer) => {
      const { loadLayersModelFromDir, loadNsfwjsMobileNetV2, truncateAt } = await import('../readers/tfjs-layers.js');
      const { cutAtFeatures } = await import('../readers/feature-cut.js');
      const { location } = request;
      const full = location.kind === 'bundled' ? (await loadNsfwjsMobileNetV2()).model : await loadLayersModelFromDir(layersDir(location, request.source));
      // Without --feature-output: a classifier's input (the TF.js MobileNet of the tutorials), else the whole model.
      return cutOwningWeights(full, (model) => (featureLayer ? truncateAt(model, featureLayer) : cutAtFeatures(model, request.source, 'whole')));
    }),
  convertTo: lazyLayersConverters('tfjs-layers', async () => {
    const { loadLayersModelFromDir } = await import('../readers/tfjs-layers.js');
    return (request) => loadLayersModelFromDir(dirname(request.path));
  }),
};

function layersDir(location: BackboneLocation, source = 'the model'): string {
  if (location.kind !== 'tfjs-layers') throw new GraftError('INTERNAL', `TF.js backbone without a folder: ${source}`);
  return location.dir;
}
