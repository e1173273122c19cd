import { existsSync } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { readHead } from '../core/read-head.js';
import { basename, dirname, extname, join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { GraftError } from '../core/errors.js';
import { assertReplaceableOutput, LAYERS_DIR_OUTPUT, MODEL_DIR_OUTPUT } from '../core/replaceable-output.js';
import { mulberry32 } from '../core/random.js';
import { createSession } from '../runtime/ort-session.js';
import type { ConversionRequest } from './conversion.js';
import type { ConvertTarget } from './conversion-report.js';
import { startsLikeOnnx } from './magic-numbers.js';

/** Every conversion is checked on this many inputs, all drawn from one seed so that reruns compare alike. */
export const CHECK_SAMPLES = 2;
const CHECK_SEED = 7;

/** How the report names the check's inputs. */
export const CHECK_INPUTS = `${CHECK_SAMPLES} seeded uniform random inputs in [-1, 1]`;

/** Seeded uniform inputs in [-1, 1] of `shape` (batch first). */
export function checkInput(shape: readonly number[]): Float32Array {
  const random = mulberry32(CHECK_SEED);
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = random() * 2 - 1;
  return data;
}

export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/** @throws GraftError `UNSUPPORTED_MODEL` when the converted model differs from its source by more than `tolerance`. */
export function assertWithin(diff: number, tolerance: number, path: string): void {
  if (!(diff <= tolerance)) {
    throw new GraftError('UNSUPPORTED_MODEL', `The conversion of ${path} does not match its source: max abs diff ${diff} > ${tolerance}; nothing was written`, {
      hint: 'report this model; pass --tolerance to accept a larger difference',
    });
  }
}

/**
 * The output path: the requested one, else beside the input (`<name>.onnx` or `<name>-tfjs/`). Checked before any
 * work: a TF.js folder replaces only an empty folder or an earlier TF.js model, and no output replaces its source.
 */
export async function outPath(request: Pick<ConversionRequest, 'path' | 'out'>, to: ConvertTarget): Promise<string> {
  const { path } = request;
  let out: string;
  if (request.out !== undefined) {
    out = resolve(request.out);
  } else {
    const base = basename(path) === 'model.json' ? basename(dirname(path)) : basename(path, extname(path));
    const dir = basename(path) === 'model.json' ? dirname(dirname(path)) : dirname(path);
    out = join(dir, to === 'onnx' ? `${base}.onnx` : `${base}-tfjs`);
  }
  if (to === 'tfjs') {
    await assertReplaceableOutput(out, LAYERS_DIR_OUTPUT, [path]);
  } else {
    if ((await stat(out).catch(() => undefined))?.isDirectory()) {
      throw new GraftError('INVALID_CONFIG', `The output ${out} is a folder; an ONNX model is one file`, { hint: 'pass --out <file>.onnx' });
    }
    await assertReplaceableOnnxFile(out, path);
  }
  return out;
}

/**
 * An existing file at the ONNX output is replaced only when it is an earlier ONNX output: a `.onnx` file that starts
 * as one does (field 1, ir_version). Never the model being converted (links resolved), and never another kind of
 * file: a TF.js weight shard, an ONNX model's external data, the user's notes.
 */
async function assertReplaceableOnnxFile(out: string, source: string): Promise<void> {
  // A model directory's model.onnx is graft train's, out of step with its graft.json once replaced.
  if (MODEL_DIR_OUTPUT.owns(basename(out)) && existsSync(join(dirname(out), MODEL_DIR_OUTPUT.marker))) {
    throw new GraftError('INVALID_CONFIG', `The output ${out} is a file of the Graft model directory ${dirname(out)}; replacing it would break that model`, {
      hint: 'pass --out <file>.onnx outside the model directory',
    });
  }
  const existing = await realpath(out).catch(() => undefined);
  if (existing === undefined) return;
  if (existing === (await realpath(source).catch(() => resolve(source)))) {
    throw new GraftError('INVALID_CONFIG', `The output ${out} is the model being converted; it would be overwritten`, { hint: 'pass --out <another path>' });
  }
  const first = readHead(existing, 1);
  if (extname(existing).toLowerCase() !== '.onnx' || !startsLikeOnnx(first)) {
    throw new GraftError('INVALID_CONFIG', `The output ${out} is a file that is not an ONNX model (${basename(existing)}); it would be replaced`, {
      hint: 'pass --out <a new file>.onnx; an earlier .onnx output may be replaced',
    });
  }
}

/** Runs an ONNX model on `x` in onnxruntime: every output, laid end to end in the graph's output order. */
export async function runOnnx(bytes: Uint8Array, x: Float32Array, dims: number[]): Promise<Float32Array> {
  const session = await createSession(bytes, { source: 'the converted model' });
  try {
    const result = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, dims) });
    return concatenated(session.outputNames.map((name) => result[name]!.data as Float32Array));
  } finally {
    await session.release();
  }
}

/** The arrays laid end to end, in order. */
export function concatenated(parts: readonly ArrayLike<number>[]): Float32Array {
  const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  return all;
}

/** Runs one named output of an ONNX model in onnxruntime, with its dims. */
export async function runOnnxOutput(bytes: Uint8Array, inputName: string, outputName: string, x: Float32Array, dims: number[]): Promise<{ data: Float32Array; dims: number[] }> {
  const session = await createSession(bytes, { source: 'the source ONNX model' });
  try {
    const result = await session.run({ [inputName]: new ort.Tensor('float32', x, dims) }, [outputName]);
    const tensor = result[outputName]!;
    return { data: new Float32Array(tensor.data as Float32Array), dims: tensor.dims.map(Number) };
  } finally {
    await session.release();
  }
}
