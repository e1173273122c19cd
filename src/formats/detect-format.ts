import { existsSync, readdirSync, statSync } from 'node:fs';
import { readHead } from '../core/read-head.js';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { GraftError } from '../core/errors.js';
import type { ModelFormat } from '../core/model-format.js';
import type { ModelCandidate } from './format-entry.js';
import { FORMAT_ENTRIES } from './registry.js';

export type { ModelFormat };

export interface DetectedFormat {
  readonly format: ModelFormat;
  /** The file to read: the .onnx or .h5 file, or model.json for TF.js. */
  readonly path: string;
}

/**
 * Tells which format a model path is, by content rather than by name alone, asking every entry of the format
 * registry in turn: an HDF5 signature (Keras .h5), a model.json whose topology is a GraphDef (graph) or a Keras
 * config (layers), or an ONNX protobuf. A folder stands for its model.json, or for its one model file.
 *
 * @throws GraftError `MODEL_NOT_FOUND` for a path that does not exist; `UNSUPPORTED_MODEL` for a folder without
 *   one model, a model.json that is not JSON, or a file no format recognises (listing every format tried and why
 *   each declined).
 * @example
 * await detectFormat('tm-model/');   // { format: 'tfjs-layers', path: 'tm-model/model.json' }
 */
export async function detectFormat(path: string): Promise<DetectedFormat> {
  if (!existsSync(path)) {
    throw new GraftError('MODEL_NOT_FOUND', `Model not found: ${path}`, { hint: 'check the path' });
  }
  const candidate = await readCandidate(statSync(path).isDirectory() ? modelFileIn(path) : path);
  const declined: string[] = [];
  for (const entry of FORMAT_ENTRIES) {
    const detection = entry.detect(candidate);
    if (detection === true) return { format: entry.name, path: candidate.path };
    declined.push(`${entry.name}: ${detection}`);
  }
  throw new GraftError('UNSUPPORTED_MODEL', `Cannot tell the format of ${candidate.path}. Tried: ${declined.join('; ')}`, {
    hint: `Graft reads ${FORMAT_ENTRIES.map((entry) => entry.label).join(', ')}`,
  });
}

/** The model in a folder: its model.json (TF.js), else its one file with a model extension (.onnx, .h5, ...). */
function modelFileIn(dir: string): string {
  if (existsSync(join(dir, 'model.json'))) return join(dir, 'model.json');
  const extensions = FORMAT_ENTRIES.flatMap((entry) => entry.extensions);
  const candidates = readdirSync(dir).filter((f) => extensions.some((ext) => f.toLowerCase().endsWith(ext)));
  if (candidates.length !== 1) {
    throw new GraftError('UNSUPPORTED_MODEL', `${dir} holds no model.json and ${candidates.length} model files (${extensions.join('/')})`, {
      hint: 'point at the model file itself, or at a TF.js model folder holding model.json',
    });
  }
  return join(dir, candidates[0]!);
}

async function readCandidate(path: string): Promise<ModelCandidate> {
  const head = readHead(path, 16);
  if (!basename(path).endsWith('.json')) return { path, head, json: undefined };
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (cause) {
    throw new GraftError('UNSUPPORTED_MODEL', `${path} is not valid JSON`, { cause, hint: 'the file is damaged or not a TF.js model.json' });
  }
  // Any JSON parses here (a string, a list, null): only an object can be a model.
  const isObject = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed);
  return { path, head, json: isObject ? (parsed as Record<string, unknown>) : {} };
}

