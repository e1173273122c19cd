import { existsSync, openSync, readSync, closeSync, statSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { GraftError } from '../core/errors.js';

import type { ModelFormat } from '../core/model-format.js';

export type { ModelFormat };

export interface DetectedFormat {
  readonly format: ModelFormat;
  /** The file to read: the .onnx or .h5 file, or model.json for TF.js. */
  readonly path: string;
}

const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Tells which format a model path is, by content rather than by name alone: an HDF5 signature (Keras .h5),
 * a model.json whose topology is a Keras config (layers) or a GraphDef (graph), or an ONNX protobuf.
 * When nothing matches, the error lists every format tried and why each declined.
 */
export async function detectFormat(path: string): Promise<DetectedFormat> {
  if (!existsSync(path)) {
    throw new GraftError('MODEL_NOT_FOUND', `Model not found: ${path}`, { hint: 'check the path' });
  }
  let target = path;
  if (statSync(path).isDirectory()) {
    if (existsSync(join(path, 'model.json'))) target = join(path, 'model.json');
    else {
      const candidates = readdirSync(path).filter((f) => /\.(onnx|h5|hdf5|keras)$/i.test(f));
      if (candidates.length !== 1) {
        throw new GraftError('UNSUPPORTED_MODEL', `${path} holds no model.json and ${candidates.length} model files (.onnx/.h5)`, {
          hint: 'point at the model file itself, or at a TF.js model folder holding model.json',
        });
      }
      target = join(path, candidates[0]!);
    }
  }
  const declined: string[] = [];
  const head = readHead(target, 16);
  if (head.subarray(0, 8).equals(HDF5_SIGNATURE)) return { format: 'keras-h5', path: target };
  declined.push('keras-h5: no HDF5 signature');
  if (basename(target).endsWith('.json')) {
    let json: { modelTopology?: Record<string, unknown>; format?: string };
    try {
      json = JSON.parse(await readFile(target, 'utf8')) as typeof json;
    } catch (cause) {
      throw new GraftError('UNSUPPORTED_MODEL', `${target} is not valid JSON`, { cause, hint: 'the file is damaged or not a TF.js model.json' });
    }
    // Any JSON parses here (a string, a list, null): only an object with an object topology can be a model.
    const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
    if (!isObject(json)) json = {};
    const topology = isObject(json.modelTopology) ? json.modelTopology : {};
    if (json.format === 'graph-model' || 'node' in topology) return { format: 'tfjs-graph', path: target };
    if (json.format === 'layers-model' || 'model_config' in topology || 'class_name' in topology) return { format: 'tfjs-layers', path: target };
    declined.push('tfjs: model.json has neither a Keras model_config nor a GraphDef (node list)');
  } else {
    declined.push('tfjs: not a model.json');
  }
  // ONNX ModelProto starts with field 1 (ir_version, varint: tag 0x08) in practice; exporters all write it first.
  if (head[0] === 0x08 || target.endsWith('.onnx')) return { format: 'onnx', path: target };
  declined.push('onnx: not a protobuf starting with ir_version, and no .onnx extension');
  throw new GraftError('UNSUPPORTED_MODEL', `Cannot tell the format of ${target}. Tried: ${declined.join('; ')}`, {
    hint: 'Graft reads ONNX (.onnx), TF.js layers or graph models (folder with model.json) and Keras .h5',
  });
}

function readHead(file: string, bytes: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(bytes);
    const read = readSync(fd, buffer, 0, bytes, 0);
    return buffer.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}
