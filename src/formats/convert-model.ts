import { existsSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { mulberry32 } from '../data/random.js';
import { createSession } from '../engine/ort-session.js';
import { ensureTfjsBackend } from '../engine/tfjs-backend.js';
import { GraftError } from '../errors.js';
import { writeFileAtomic } from '../model/atomic-write.js';
import { detectFormat, type ModelFormat } from './detect-format.js';
import { FEATURE_OUTPUT } from './onnx/feature-output.js';
import { saveLayersModelToDir } from './save-layers-model.js';
import { loadKerasH5 } from './keras-h5/load-keras-h5.js';
import { attrShape, dataInputs } from './tfjs-graph/graph-model-json.js';
import { exportGraphModelToOnnx } from './tfjs-graph/graph-to-onnx.js';
import { loadGraphModelFromArtifacts, readGraphModelDir } from './tfjs-graph/load-graph-model.js';
import { loadLayersModelFromDir } from './tfjs-layers.js';
import { exportLayersModelToOnnx } from './tfjs-to-onnx.js';

export type ConvertTarget = 'onnx' | 'tfjs';

export interface ConvertOptions {
  readonly to: ConvertTarget;
  /** Output file (.onnx) or folder (tfjs). Defaults to beside the input: `<name>.onnx` or `<name>-tfjs/`. */
  readonly out?: string;
  /** Largest max-abs difference accepted between source and converted outputs. Defaults to 1e-4. */
  readonly tolerance?: number;
}

/** What `graft convert` prints: what it read, what it wrote, and the numerical check it ran. */
export interface ConversionReport {
  readonly read: { readonly path: string; readonly format: ModelFormat; readonly inputShape: readonly number[]; readonly outputShape: readonly number[] };
  readonly wrote: { readonly path: string; readonly format: ConvertTarget; readonly bytes: number };
  readonly check: { readonly inputs: string; readonly samples: number; readonly maxAbsDiff: number; readonly tolerance: number };
  readonly seconds: number;
}

/** A model loaded in tfjs, the source of every conversion here. */
interface LoadedSource {
  readonly model: tf.LayersModel;
  readonly format: ModelFormat;
  readonly path: string;
}

/** Loaders by format. Formats not listed cannot be converted yet; the error says which ones can. */
const LOADERS: Partial<Record<ModelFormat, (path: string) => Promise<tf.LayersModel>>> = {
  'tfjs-layers': (path) => loadLayersModelFromDir(dirname(path)),
  'keras-h5': async (path) => (await loadKerasH5(path)).model,
};

/**
 * Converts a model between formats and checks the result numerically on seeded random inputs before anything
 * is written: a conversion that does not match within `tolerance` fails and leaves no output behind.
 *
 * @example
 * const report = await convertModel('tm-model/', { to: 'onnx' });   // report.check.maxAbsDiff ~1e-5
 */
export async function convertModel(input: string, options: ConvertOptions): Promise<ConversionReport> {
  const started = performance.now();
  const detected = await detectFormat(resolve(input));
  if (detected.format === 'tfjs-graph') return convertGraph(detected.path, options, started);
  const load = LOADERS[detected.format];
  if (!load) {
    throw new GraftError('UNSUPPORTED_MODEL', `Converting ${detected.format} models (${detected.path}) is not supported yet`, {
      hint: `graft convert reads: ${Object.keys(LOADERS).join(', ')}`,
    });
  }
  await ensureTfjsBackend();
  const source: LoadedSource = { model: await load(detected.path), format: detected.format, path: detected.path };
  try {
    const tolerance = options.tolerance ?? 1e-4;
    const inputShape = source.model.inputs[0]!.shape.slice(1).map((d) => d ?? 224);
    const outputShape = source.model.outputs[0]!.shape.slice(1).map((d) => d ?? -1);
    const samples = 2;
    const x = randomInput([samples, ...inputShape], 7);
    const expected = tf.tidy(() => (source.model.predict(tf.tensor(x, [samples, ...inputShape])) as tf.Tensor).dataSync().slice());
    const out = resolve(options.out ?? defaultOut(detected.path, options.to));
    let bytes: number;
    let maxAbsDiff: number;
    if (options.to === 'onnx') {
      const onnx = exportLayersModelToOnnx(source.model, { featureOutputName: FEATURE_OUTPUT });
      maxAbsDiff = maxDiff(expected, await runOnnx(onnx, x, [samples, ...inputShape]));
      assertWithin(maxAbsDiff, tolerance, detected.path);
      await writeFileAtomic(out, onnx);
      bytes = onnx.byteLength;
    } else {
      const staged = await saveLayersModelToDir(source.model, out);
      const reloaded = await loadLayersModelFromDir(out);
      const actual = tf.tidy(() => (reloaded.predict(tf.tensor(x, [samples, ...inputShape])) as tf.Tensor).dataSync().slice());
      reloaded.dispose();
      maxAbsDiff = maxDiff(expected, actual);
      bytes = staged.bytes;
    }
    return {
      read: { path: detected.path, format: detected.format, inputShape, outputShape },
      wrote: { path: out, format: options.to, bytes },
      check: { inputs: `${samples} seeded uniform random inputs in [-1, 1]`, samples, maxAbsDiff, tolerance },
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    source.model.dispose();
  }
}

/** TF.js graph model -> ONNX: the graph's final output, checked against tfjs's own execution of the graph. */
async function convertGraph(path: string, options: ConvertOptions, started: number): Promise<ConversionReport> {
  if (options.to !== 'onnx') {
    throw new GraftError('UNSUPPORTED_MODEL', `A TF.js graph model (${path}) converts to ONNX only`, { hint: 'use --to onnx' });
  }
  await ensureTfjsBackend();
  const { modelJson, weightBytes } = await readGraphModelDir(dirname(path));
  const nodes = modelJson.modelTopology.node;
  const consumed = new Set(nodes.flatMap((n) => dataInputs(n).map((i) => i.node)));
  const output = [...nodes].reverse().find((n) => !consumed.has(n.name) && n.op !== 'Const' && n.op !== 'Placeholder');
  const placeholder = nodes.find((n) => n.op === 'Placeholder');
  const declared = placeholder ? attrShape(placeholder, 'shape') : undefined;
  const side = declared?.[1] && declared[1] > 0 ? declared[1] : 224;
  if (!output) throw new GraftError('UNSUPPORTED_MODEL', `${path} has no output node`);
  const inputShape = [side, side, declared?.[3] && declared[3] > 0 ? declared[3] : 3];
  const onnx = exportGraphModelToOnnx(modelJson, weightBytes, { outputNode: output.name, inputShape: inputShape as [number, number, number] });
  const samples = 2;
  const x = randomInput([samples, ...inputShape], 7);
  const model = await loadGraphModelFromArtifacts(modelJson, weightBytes, path);
  let expected: Float32Array;
  let outputShape: number[];
  try {
    const y = tf.tidy(() => model.execute(tf.tensor(x, [samples, ...inputShape]), output.name) as tf.Tensor);
    expected = y.dataSync().slice() as Float32Array;
    outputShape = y.shape.slice(1);
    y.dispose();
  } finally {
    model.dispose();
  }
  const tolerance = options.tolerance ?? 1e-4;
  const maxAbsDiff = maxDiff(expected, await runOnnx(onnx, x, [samples, ...inputShape]));
  assertWithin(maxAbsDiff, tolerance, path);
  const out = resolve(options.out ?? defaultOut(path, 'onnx'));
  await writeFileAtomic(out, onnx);
  return {
    read: { path, format: 'tfjs-graph', inputShape, outputShape },
    wrote: { path: out, format: 'onnx', bytes: onnx.byteLength },
    check: { inputs: `${samples} seeded uniform random inputs in [-1, 1]`, samples, maxAbsDiff, tolerance },
    seconds: (performance.now() - started) / 1000,
  };
}

function defaultOut(path: string, to: ConvertTarget): string {
  const base = basename(path) === 'model.json' ? basename(dirname(path)) : basename(path, extname(path));
  const dir = basename(path) === 'model.json' ? dirname(dirname(path)) : dirname(path);
  const out = join(dir, to === 'onnx' ? `${base}.onnx` : `${base}-tfjs`);
  if (existsSync(out) && to === 'tfjs' && !statSync(out).isDirectory()) {
    throw new GraftError('INVALID_CONFIG', `${out} exists and is not a folder`, { hint: 'pass --out <folder>' });
  }
  return out;
}

function randomInput(shape: number[], seed: number): Float32Array {
  const random = mulberry32(seed);
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = random() * 2 - 1;
  return data;
}

async function runOnnx(bytes: Uint8Array, x: Float32Array, dims: number[]): Promise<Float32Array> {
  const session = await createSession(bytes, { source: 'the converted model' });
  try {
    const result = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, dims) });
    return new Float32Array(result[session.outputNames[0]!]!.data as Float32Array);
  } finally {
    await session.release();
  }
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

function assertWithin(diff: number, tolerance: number, path: string): void {
  if (!(diff <= tolerance)) {
    throw new GraftError('UNSUPPORTED_MODEL', `The conversion of ${path} does not match its source: max abs diff ${diff} > ${tolerance}; nothing was written`, {
      hint: 'report this model; pass --tolerance to accept a larger difference',
    });
  }
}
