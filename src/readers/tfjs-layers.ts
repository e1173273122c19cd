import { createHash } from 'node:crypto';
import { readFile, realpath, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../core/errors.js';

/** The parts of a TF.js layers `model.json` that Graft reads. */
export interface LayersModelJson {
  readonly modelTopology: object;
  readonly weightsManifest: readonly WeightsManifestGroup[];
  readonly format?: string;
  readonly generatedBy?: string;
  readonly convertedBy?: string | null;
}

/** One weights group: shard files (concatenated in order) and the tensors packed in them. */
export interface WeightsManifestGroup {
  readonly paths: readonly string[];
  readonly weights: readonly tf.io.WeightsManifestEntry[];
}

/** The sizes of stored dtypes; quantized weights are stored as their quantization dtype. */
const BYTES_PER_DTYPE: Readonly<Record<string, number>> = {
  float32: 4,
  int32: 4,
  bool: 1,
  uint8: 1,
  uint16: 2,
  float16: 2,
};

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
 * Reads and validates model.json and its shards, returning the parsed JSON and the concatenated weights
 * in manifest order. Exposed for hashing and for exporters that need the raw bytes.
 */
export async function readLayersModelDir(dir: string): Promise<{ modelJson: LayersModelJson; modelJsonBytes: Uint8Array; weightData: Uint8Array }> {
  const root = resolve(dir);
  const jsonPath = join(root, 'model.json');
  const modelJsonBytes = await readRequired(jsonPath, 'model.json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(modelJsonBytes).toString('utf8'));
  } catch (error) {
    throw new GraftError('INVALID_MODEL_DIR', `${jsonPath} is not valid JSON.`, {
      cause: error,
      hint: 'the file is truncated or not a TF.js model.json; download the model again',
    });
  }
  const modelJson = validateModelJson(parsed, jsonPath);
  const realRoot = await realpath(root);
  // Check every path and dtype before reading any shard, so a hostile manifest reads nothing.
  const groups = [];
  for (const group of modelJson.weightsManifest) {
    const shardPaths: string[] = [];
    for (const shardName of group.paths) shardPaths.push(await resolveInside(realRoot, shardName, jsonPath));
    groups.push({ group, shardPaths, expected: groupByteLength(group, jsonPath) });
  }
  const parts: Uint8Array[] = [];
  for (const { group, shardPaths, expected } of groups) {
    const shards: { path: string; bytes: Uint8Array }[] = [];
    for (const [i, shardPath] of shardPaths.entries()) {
      shards.push({ path: shardPath, bytes: await readRequired(shardPath, `weight shard "${group.paths[i]}"`) });
    }
    const actual = shards.reduce((sum, s) => sum + s.bytes.byteLength, 0);
    if (actual !== expected) {
      const listing = shards.map((s) => `${s.path} (${s.bytes.byteLength} bytes)`).join(', ');
      throw new GraftError(
        'INVALID_MODEL_DIR',
        `Weight shards of ${jsonPath} hold ${actual} bytes but the manifest describes ${expected}. Received: ${listing}`,
        { hint: 'a shard is truncated or belongs to another model; download the model again' },
      );
    }
    parts.push(...shards.map((s) => s.bytes));
  }
  return { modelJson, modelJsonBytes, weightData: concatBytes(parts) };
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
 * are found too. Disposing the result disposes the shared weights, so dispose only one of the two.
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
  const output = layer.output;
  if (Array.isArray(output)) {
    throw new GraftError('UNSUPPORTED_MODEL', `Layer "${layerName}" has ${output.length} outputs; a feature layer must have one.`);
  }
  return tf.model({ inputs: model.inputs, outputs: output, name: `${model.name}_to_${layerName}` });
}

/**
 * sha256 (hex) of a TF.js layers model folder: model.json's bytes, then every shard's bytes in manifest
 * order. This is the backbone's model id in feature-cache keys (ARCHITECTURE.md decision 3).
 */
export async function layersModelDirSha256(dir: string): Promise<string> {
  const { modelJsonBytes, weightData } = await readLayersModelDir(dir);
  return layersArtifactsSha256(modelJsonBytes, weightData);
}

/** sha256 (hex) of model.json bytes (or text) followed by the weight bytes: the same id for the same files. */
export function layersArtifactsSha256(modelJson: Uint8Array | string, weightData: Uint8Array): string {
  return createHash('sha256').update(modelJson).update(weightData).digest('hex');
}

function validateModelJson(parsed: unknown, where: string): LayersModelJson {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(parsed) || !isObject(parsed.modelTopology)) {
    throw new GraftError('INVALID_MODEL_DIR', `${where} has no "modelTopology" object, so it is not a TF.js layers model.`, {
      hint: 'a TF.js graph model (format "graph-model") needs the graph-model loader; a Keras .h5 needs the h5 loader',
    });
  }
  const manifest = parsed.weightsManifest;
  const isWeightSpec = (w: unknown): boolean =>
    isObject(w) && typeof w.name === 'string' && typeof w.dtype === 'string' && Array.isArray(w.shape) && w.shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0);
  if (!Array.isArray(manifest) || !manifest.every((g) => isObject(g) && Array.isArray(g.paths) && g.paths.every((p) => typeof p === 'string') && Array.isArray(g.weights) && g.weights.every(isWeightSpec))) {
    throw new GraftError('INVALID_MODEL_DIR', `${where} has no valid "weightsManifest" (a list of { paths, weights: [{ name, dtype, shape }] } groups).`, {
      hint: 'the file is damaged or not a TF.js layers model.json',
    });
  }
  return parsed as unknown as LayersModelJson;
}

/** Bytes one weights group's shards must hold, from its manifest (quantized weights count their stored dtype). */
export function groupByteLength(group: WeightsManifestGroup, where: string): number {
  let total = 0;
  for (const w of group.weights) {
    const dtype = w.quantization?.dtype ?? w.dtype;
    const bytes = BYTES_PER_DTYPE[dtype];
    if (bytes === undefined || !Array.isArray(w.shape)) {
      throw new GraftError('UNSUPPORTED_MODEL', `Weight "${w.name}" in ${where} has dtype "${dtype}", which Graft cannot read. Received shape: ${JSON.stringify(w.shape)}`);
    }
    total += bytes * w.shape.reduce((a, b) => a * b, 1);
  }
  return total;
}

/** Resolves a manifest path against the model folder and refuses anything that lands outside it. */
async function resolveInside(realRoot: string, shardName: string, jsonPath: string): Promise<string> {
  const escapes = (p: string): boolean => {
    const rel = relative(realRoot, p);
    return rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel);
  };
  const candidate = resolve(realRoot, shardName);
  if (isAbsolute(shardName) || shardName.includes('://') || escapes(candidate)) {
    throw new GraftError('INVALID_MODEL_DIR', `Weight shard path "${shardName}" in ${jsonPath} points outside the model folder.`, {
      hint: 'shard paths must be plain file names relative to model.json; edit the manifest or re-export the model',
    });
  }
  // A symlink inside the folder may still point elsewhere; check the real target too.
  let real: string;
  try {
    real = await realpath(candidate);
  } catch {
    return candidate; // missing: readRequired reports it with the name
  }
  if (escapes(real)) {
    throw new GraftError('INVALID_MODEL_DIR', `Weight shard "${shardName}" in ${jsonPath} is a link to ${real}, outside the model folder.`, {
      hint: 'copy the shard into the model folder instead of linking it',
    });
  }
  return real;
}

async function readRequired(path: string, what: string): Promise<Uint8Array> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new Error('not a regular file');
    return new Uint8Array(await readFile(path));
  } catch (error) {
    throw new GraftError('MODEL_NOT_FOUND', `Cannot read ${what} at ${path}.`, {
      cause: error,
      hint: 'the model folder is incomplete: copy or download every file that model.json lists',
    });
  }
}

function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
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
