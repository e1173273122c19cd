import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../core/errors.js';
import { registerLayersTfjsLacks } from './subtract-layer.js';
import { groupByteLength, readLayersModelDir, validateModelJson, type LayersModelJson } from './tfjs-layers-files.js';

// The folder's files are read and hashed in tfjs-layers-files.ts (no tfjs); re-exported for existing callers.
export { groupByteLength, layersArtifactsSha256, layersModelDirSha256, readLayersModelDir, type LayersModelJson, type WeightsManifestGroup } from './tfjs-layers-files.js';

/**
 * Loads a TF.js layers model (model.json + weight shards) from a local directory.
 *
 * Reads through a custom IOHandler because tfjs's `file://` handler lives in tfjs-node, which cannot be
 * installed offline (ARCHITECTURE.md). Every shard path must stay inside `dir` (after resolving symlinks) and
 * each group's shards must hold exactly the bytes its manifest describes; nothing is written.
 *
 * @param dir - folder holding `model.json` and the shards it names.
 * @throws GraftError `MODEL_NOT_FOUND` when model.json or a shard is missing; `INVALID_MODEL_DIR` when
 *   model.json is not a layers model, a shard path escapes the folder, or a shard has the wrong size.
 * @example
 * const model = await loadLayersModelFromDir('../shared/models/tm-mobilenetv2-035/base');
 */
export async function loadLayersModelFromDir(dir: string): Promise<tf.LayersModel> {
  const { modelJson, weightData } = await readLayersModelDir(dir);
  return loadLayersModelFromArtifacts(modelJson, weightData, resolve(dir));
}

/**
 * Builds a LayersModel from an in-memory model.json and its weights (all groups concatenated in
 * manifest order). Quantized weights are dequantized by tfjs while loading.
 */
export async function loadLayersModelFromArtifacts(modelJson: LayersModelJson, weightData: Uint8Array, source = 'memory'): Promise<tf.LayersModel> {
  const weightSpecs = modelJson.weightsManifest.flatMap((group) => group.weights);
  // tfjs wants an ArrayBuffer that holds exactly the weights; copy out of a possibly shared Buffer pool.
  const buffer = weightData.slice().buffer;
  const handler: tf.io.IOHandler = {
    load: async () => ({
      modelTopology: modelJson.modelTopology,
      weightSpecs,
      weightData: buffer,
      format: modelJson.format ?? 'layers-model',
      generatedBy: modelJson.generatedBy ?? 'graft',
      convertedBy: modelJson.convertedBy ?? null,
    }),
  };
  registerLayersTfjsLacks();
  try {
    return await tf.loadLayersModel(handler);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new GraftError('UNSUPPORTED_MODEL', `tfjs could not build the layers model from ${source}: ${reason}`, {
      cause: error,
      hint: 'check that model.json is a TF.js layers model (not a graph model) and that its weights match it',
    });
  }
}

/**
 * Loads the MobileNetV2 that ships inside the `nsfwjs` npm package.
 *
 * nsfwjs stores it as two UMD CommonJS files: one exporting `{ modelTopology, weightsManifest }`, one
 * exporting the weights as a base64 string (uint8-quantized; tfjs dequantizes them on load). Its feature
 * layer is `flatten_1` (1280-dim); preprocessing is 224 stretch, x/255, NHWC.
 *
 * @throws GraftError `MODEL_NOT_FOUND` when nsfwjs is not installed or its model files moved.
 */
export async function loadNsfwjsMobileNetV2(): Promise<{ model: tf.LayersModel; modelJson: object; weightBytes: Uint8Array }> {
  const require = createRequire(import.meta.url);
  let modelDir: string;
  let modelJson: LayersModelJson;
  let shardBase64: unknown;
  try {
    // The package's `exports` map hides dist/models/*.min.js, so go from its main entry (dist/cjs/index.js).
    modelDir = join(dirname(require.resolve('nsfwjs')), '..', 'models', 'mobilenet_v2');
    modelJson = validateModelJson(require(join(modelDir, 'model.min.js')), join(modelDir, 'model.min.js'));
    shardBase64 = require(join(modelDir, 'group1-shard1of1.min.js'));
  } catch (error) {
    if (error instanceof GraftError) throw error;
    throw new GraftError('MODEL_NOT_FOUND', 'Could not read the MobileNetV2 model files of the nsfwjs package.', {
      cause: error,
      hint: 'install nsfwjs 4.x (npm install nsfwjs); its dist/models/mobilenet_v2/*.min.js files hold the model',
    });
  }
  if (typeof shardBase64 !== 'string') {
    throw new GraftError('INVALID_MODEL_DIR', `${join(modelDir, 'group1-shard1of1.min.js')} did not export a base64 string. Received: ${typeof shardBase64}`);
  }
  const weightBytes = new Uint8Array(Buffer.from(shardBase64, 'base64'));
  const expected = modelJson.weightsManifest.reduce((sum, g) => sum + groupByteLength(g, modelDir), 0);
  if (weightBytes.byteLength !== expected) {
    throw new GraftError('INVALID_MODEL_DIR', `nsfwjs weights hold ${weightBytes.byteLength} bytes but the manifest describes ${expected}.`, {
      hint: 'reinstall nsfwjs',
    });
  }
  const model = await loadLayersModelFromArtifacts(modelJson, weightBytes, modelDir);
  return { model, modelJson, weightBytes };
}

/**
 * Returns a model that shares `model`'s layers and weights and outputs `layerName`'s output.
 * Layers inside nested models (a Sequential wrapping a Functional model, as Teachable Machine exports)
 * are found too; a layer called more than once is cut at its first call. Disposing the result disposes the shared
 * weights, so dispose only one of the two.
 *
 * @throws GraftError `INVALID_CONFIG` when no layer has that name (the message lists the names).
 */
export function truncateAt(model: tf.LayersModel, layerName: string): tf.LayersModel {
  const layer = findLayer(model, layerName);
  if (layer === undefined) {
    const names = allLayers(model).map((l) => l.name);
    throw new GraftError('INVALID_CONFIG', `Model "${model.name}" has no layer named "${layerName}". Layers: ${names.join(', ')}`, {
      hint: 'pass one of the layer names above as the feature layer',
    });
  }
  // A layer applied to several views (Graft's Teachable Machine export with its mirror) has an output per call: the
  // first, the image as given (tfjs's `layer.output` refuses such a layer).
  const output = layer.inboundNodes.length > 1 && !(layer instanceof tf.LayersModel) ? layer.getOutputAt(0) : layer.output;
  if (Array.isArray(output)) {
    throw new GraftError('UNSUPPORTED_MODEL', `Layer "${layerName}" has ${output.length} outputs; a feature layer must have one.`);
  }
  return tf.model({ inputs: model.inputs, outputs: output, name: `${model.name}_to_${layerName}` });
}

function findLayer(model: tf.LayersModel, name: string): tf.layers.Layer | undefined {
  return allLayers(model).find((l) => l.name === name);
}

/** Every layer of `model`, depth first, including the layers of nested models. */
export function allLayers(model: tf.LayersModel): tf.layers.Layer[] {
  const out: tf.layers.Layer[] = [];
  for (const layer of model.layers) {
    out.push(layer);
    if (layer instanceof tf.LayersModel) out.push(...allLayers(layer));
  }
  return out;
}
