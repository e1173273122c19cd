import { createHash } from 'node:crypto';
import { readFile, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { GraftError } from '../core/errors.js';

// The files of a TF.js layers folder: read, checked and hashed without loading tfjs (~0.1-0.3 s to import), so a
// run whose features and ONNX export are cached never loads it (tfjs-layers.ts builds models from these bytes).

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

export function validateModelJson(parsed: unknown, where: string): LayersModelJson {
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
