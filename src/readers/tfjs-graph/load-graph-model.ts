import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../../core/errors.js';
import { groupByteLength, readLayersModelDir } from '../tfjs-layers-files.js';
import { validateGraphModelJson, type GraphModelJson } from './graph-model-json.js';

/** A graph model with the files it was built from (the ONNX exporter and model hashes need the raw parts). */
export interface LoadedGraphModel {
  readonly model: tf.GraphModel;
  readonly modelJson: GraphModelJson;
  /** Every weight group's shards concatenated in manifest order. */
  readonly weightBytes: Uint8Array;
}

/**
 * Loads a TF.js graph model (model.json + weight shards, new `graph-model` format or the old TF Hub
 * format without a `format` key) from a local directory.
 *
 * The files are read with the layers loader's checks (tfjs's `file://` handler needs tfjs-node, which
 * cannot be installed offline): every shard path must stay inside `dir`, symlinks included, and the
 * shards must hold exactly the bytes the manifest describes. Nothing is written.
 *
 * @param dir - folder holding `model.json` and the shards it names.
 * @throws GraftError `MODEL_NOT_FOUND` when model.json or a shard is missing; `INVALID_MODEL_DIR` when
 *   model.json is not a graph model, a shard path escapes the folder, or a shard has the wrong size;
 *   `UNSUPPORTED_MODEL` when tfjs cannot build the graph.
 * @example
 * const model = await loadGraphModelFromDir('../shared/models/mobilenet-v1-025-tfjs/graph');
 */
export async function loadGraphModelFromDir(dir: string): Promise<tf.GraphModel> {
  const { modelJson, weightBytes } = await readGraphModelDir(dir);
  return loadGraphModelFromArtifacts(modelJson, weightBytes, resolve(dir));
}

/**
 * Reads and validates a graph model folder without building the model: the parsed model.json and the
 * weights (all shards, manifest order). What {@link exportGraphModelToOnnx} and model hashes need.
 *
 * @throws GraftError as {@link loadGraphModelFromDir}.
 */
export async function readGraphModelDir(dir: string): Promise<{ modelJson: GraphModelJson; modelJsonBytes: Uint8Array; weightBytes: Uint8Array }> {
  // The layers reader only checks what both formats share (model.json parses, has a topology object and
  // a weights manifest) before its path and size checks; the graph-specific check follows.
  const { modelJson: parsed, modelJsonBytes, weightData } = await readLayersModelDir(dir);
  const modelJson = validateGraphModelJson(parsed, join(resolve(dir), 'model.json'));
  return { modelJson, modelJsonBytes, weightBytes: weightData };
}

/**
 * Builds a GraphModel from an in-memory model.json and its weights (all groups concatenated in manifest
 * order). Quantized weights are dequantized by tfjs while loading.
 *
 * @throws GraftError `UNSUPPORTED_MODEL` when tfjs cannot build the graph (unknown op, bad weights).
 */
export async function loadGraphModelFromArtifacts(modelJson: GraphModelJson, weightData: Uint8Array, source = 'memory'): Promise<tf.GraphModel> {
  const expected = manifestByteLength(modelJson, source);
  if (weightData.byteLength !== expected) {
    throw new GraftError('INVALID_MODEL_DIR', `Weights of ${source} hold ${weightData.byteLength} bytes but the manifest describes ${expected}.`, {
      hint: 'a shard is truncated or belongs to another model; download the model again',
    });
  }
  // tfjs wants an ArrayBuffer holding exactly the weights; copy out of a possibly shared Buffer pool.
  const buffer = weightData.slice().buffer;
  const handler: tf.io.IOHandler = {
    load: async () => ({
      // tfjs reads `versions.producer`; hand-written and some old GraphDefs omit `versions`.
      modelTopology: { ...modelJson.modelTopology, versions: modelJson.modelTopology.versions ?? {} },
      weightSpecs: modelJson.weightsManifest.flatMap((group) => group.weights),
      weightData: buffer,
      format: modelJson.format ?? 'graph-model',
      generatedBy: modelJson.generatedBy ?? 'graft',
      convertedBy: modelJson.convertedBy ?? null,
      ...(modelJson.signature === undefined ? {} : { signature: modelJson.signature }),
      ...(modelJson.userDefinedMetadata === undefined ? {} : { userDefinedMetadata: modelJson.userDefinedMetadata as Record<string, object> }),
    }),
  };
  try {
    return await tf.loadGraphModel(handler);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new GraftError('UNSUPPORTED_MODEL', `tfjs could not build the graph model from ${source}: ${reason}`, {
      cause: error,
      hint: 'check that model.json is a TF.js graph model and that its weights match it',
    });
  }
}

/**
 * Loads the MobileNetV2 "mid" graph model that ships inside the `nsfwjs` npm package.
 *
 * nsfwjs stores it as UMD CommonJS files: `model.min.js` exports the model.json object (new format,
 * uint8-quantized weights) and `group1-shard{1,2}of2.min.js` export the shards as base64 strings.
 * Its pooled features are `.../feature_vector/SpatialSqueeze` (1792-dim: width 1.4, see {@link graphFeatureNode});
 * preprocessing is 224 stretch, x/255, NHWC (the graph scales to [-1, 1] itself).
 *
 * @throws GraftError `MODEL_NOT_FOUND` when nsfwjs is not installed or its model files moved;
 *   `INVALID_MODEL_DIR` when a shard is not a base64 string or the sizes disagree with the manifest.
 */
export async function loadNsfwjsMobileNetV2Mid(): Promise<LoadedGraphModel> {
  const require = createRequire(import.meta.url);
  let modelDir: string;
  let modelJson: GraphModelJson;
  const shards: Uint8Array[] = [];
  try {
    // The package's `exports` map hides dist/models/*.min.js, so go from its main entry (dist/cjs/index.js).
    modelDir = join(dirname(require.resolve('nsfwjs')), '..', 'models', 'mobilenet_v2_mid');
    modelJson = validateGraphModelJson(require(join(modelDir, 'model.min.js')), join(modelDir, 'model.min.js'));
    for (const name of ['group1-shard1of2.min.js', 'group1-shard2of2.min.js']) {
      const base64: unknown = require(join(modelDir, name));
      if (typeof base64 !== 'string') {
        throw new GraftError('INVALID_MODEL_DIR', `${join(modelDir, name)} did not export a base64 string. Received: ${typeof base64}`, { hint: 'reinstall nsfwjs' });
      }
      shards.push(new Uint8Array(Buffer.from(base64, 'base64')));
    }
  } catch (error) {
    if (error instanceof GraftError) throw error;
    throw new GraftError('MODEL_NOT_FOUND', 'Could not read the MobileNetV2 (mid) graph model files of the nsfwjs package.', {
      cause: error,
      hint: 'install nsfwjs 4.x (npm install nsfwjs); its dist/models/mobilenet_v2_mid/*.min.js files hold the model',
    });
  }
  const weightBytes = Buffer.concat(shards);
  const model = await loadGraphModelFromArtifacts(modelJson, weightBytes, modelDir);
  return { model, modelJson, weightBytes: new Uint8Array(weightBytes.buffer, weightBytes.byteOffset, weightBytes.byteLength) };
}

/** Bytes the manifest describes, over all groups. */
export function manifestByteLength(modelJson: GraphModelJson, where: string): number {
  return modelJson.weightsManifest.reduce((sum, group) => sum + groupByteLength(group, where), 0);
}
