import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { mulberry32 } from '../core/random.js';
import { createSession } from '../runtime/ort-session.js';
import { ensureTfjsBackend } from '../runtime/tfjs-backend.js';
import { GraftError } from '../core/errors.js';
import { defaultCacheDir } from '../core/cache-dir.js';
import { CATALOGUE, CATALOGUE_NAMES, isCatalogueName, type CatalogueEntry } from '../hub/catalogue.js';
import { modelDirsFromEnv, resolveBackbone } from '../hub/resolve-backbone.js';
import { replaceDirectory, writeFileAtomic } from '../core/atomic-write.js';
import { detectFormat, type ModelFormat } from './detect-format.js';
import { FEATURE_OUTPUT } from '../onnx/feature-output.js';
import { encodeOnnxModel, readOnnxModel } from '../onnx/onnx-model.js';
import { convertOnnxToLayers, toKerasLayout } from '../onnx-to-layers/index.js';
import { importOnnxToTfjs } from '../onnx-to-tfjs/index.js';
import { saveLayersModelToDir } from '../readers/save-layers-model.js';
import { loadKerasH5 } from '../readers/keras-h5/load-keras-h5.js';
import { isKerasWeightsOnly, loadKerasWeightsOnly } from '../readers/keras-h5/load-weights-only.js';
import { attrShape, dataInputs } from '../readers/tfjs-graph/graph-model-json.js';
import { exportGraphModelToOnnx } from '../tfjs-to-onnx/graph-model-to-onnx.js';
import { loadGraphModelFromArtifacts, readGraphModelDir } from '../readers/tfjs-graph/load-graph-model.js';
import { loadLayersModelFromDir, loadNsfwjsMobileNetV2 } from '../readers/tfjs-layers.js';
import { exportLayersModelToOnnx } from '../tfjs-to-onnx/layers-model-to-onnx.js';

export type ConvertTarget = 'onnx' | 'tfjs';

export interface ConvertOptions {
  readonly to: ConvertTarget;
  /** Output file (.onnx) or folder (tfjs). Defaults to beside the input: `<name>.onnx` or `<name>-tfjs/`. */
  readonly out?: string;
  /** Largest max-abs difference accepted between source and converted outputs. Defaults to 1e-4. */
  readonly tolerance?: number;
  /**
   * For a weights-only Keras .h5 (`model.save_weights`): the architecture to load it into, as a TF.js layers
   * model.json (or its folder), a full Keras .h5, or the catalogue name of a TF.js layers backbone.
   */
  readonly architecture?: string;
  /** Where catalogue architectures are cached (default: $GRAFT_CACHE_DIR or the user cache folder). */
  readonly cacheDir?: string;
  /** Never download a catalogue architecture. Defaults to false. */
  readonly offline?: boolean;
}

/** What `graft convert` prints: what it read, what it wrote, and the numerical check it ran. */
export interface ConversionReport {
  readonly read: { readonly path: string; readonly format: ModelFormat; readonly inputShape: readonly number[]; readonly outputShape: readonly number[] };
  /** `inputShape`/`outputShape` (without the batch) are given when they differ from the source's (ONNX NCHW -> TF.js NHWC). */
  readonly wrote: { readonly path: string; readonly format: ConvertTarget; readonly bytes: number; readonly inputShape?: readonly number[]; readonly outputShape?: readonly number[] };
  readonly check: {
    readonly inputs: string;
    readonly samples: number;
    readonly maxAbsDiff: number;
    readonly tolerance: number;
    /** What the converted model was compared with, when not the source model run by its own runtime. */
    readonly reference?: string;
    /** For a quantized ONNX source: the converted float model against onnxruntime's integer kernels (informative, not gated). */
    readonly onnxruntime?: { readonly maxAbsDiff: number };
  };
  /** Things the user must know about the result, e.g. "input is NHWC [1,224,224,3]; ONNX was NCHW [1,3,224,224]". */
  readonly notes?: readonly string[];
  readonly seconds: number;
}

/** A model loaded in tfjs, the source of every conversion here. */
interface LoadedSource {
  readonly model: tf.LayersModel;
  readonly format: ModelFormat;
  readonly path: string;
}

/** Loaders by format (ONNX and TF.js graph models have their own paths below). */
const LOADERS: Partial<Record<ModelFormat, (path: string, options: ConvertOptions, notes: string[]) => Promise<tf.LayersModel>>> = {
  'tfjs-layers': (path) => loadLayersModelFromDir(dirname(path)),
  'keras-h5': loadKerasSource,
};

/**
 * Converts a model between formats and checks the result numerically on seeded random inputs before anything
 * is written: a conversion that does not match within `tolerance` fails and leaves no output behind.
 *
 * Reads TF.js layers and graph models, Keras .h5 (full models, or weights-only with `architecture`) and ONNX
 * (to TF.js only: a layers model whose input is NHWC; see `notes`).
 *
 * @example
 * const report = await convertModel('tm-model/', { to: 'onnx' });   // report.check.maxAbsDiff ~1e-5
 * await convertModel('mobilenetv2-12-int8.onnx', { to: 'tfjs', out: 'mobilenetv2-tfjs' });
 * await convertModel('weights.h5', { to: 'onnx', architecture: 'model.json' });
 */
export async function convertModel(input: string, options: ConvertOptions): Promise<ConversionReport> {
  const started = performance.now();
  const detected = await detectFormat(resolve(input));
  if (options.architecture !== undefined && detected.format !== 'keras-h5') {
    throw new GraftError('INVALID_CONFIG', `--architecture applies to a weights-only Keras .h5; ${detected.path} is a ${detected.format} model`, {
      hint: 'drop --architecture, or pass the .h5 written by model.save_weights()',
    });
  }
  if (detected.format === 'tfjs-graph') return convertGraph(detected.path, options, started);
  if (detected.format === 'onnx') return convertOnnx(detected.path, options, started);
  const load = LOADERS[detected.format];
  if (!load) {
    throw new GraftError('UNSUPPORTED_MODEL', `Converting ${detected.format} models (${detected.path}) is not supported yet`, {
      hint: `graft convert reads: ${Object.keys(LOADERS).join(', ')}, tfjs-graph, onnx`,
    });
  }
  await ensureTfjsBackend();
  const notes: string[] = [];
  const source: LoadedSource = { model: await load(detected.path, options, notes), format: detected.format, path: detected.path };
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
      ...(notes.length > 0 ? { notes } : {}),
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    source.model.dispose();
  }
}

/** A Keras .h5: a full model, or a weights-only file loaded into `options.architecture`. */
async function loadKerasSource(path: string, options: ConvertOptions, notes: string[]): Promise<tf.LayersModel> {
  if (options.architecture === undefined) {
    if (await isKerasWeightsOnly(path)) {
      throw new GraftError('UNSUPPORTED_MODEL', `${path} holds only weights (saved with save_weights) and no model_config, so the architecture is unknown.`, {
        hint: `pass --architecture <model.json | full .h5 | catalogue name> with the architecture it was saved from (catalogue TF.js layers models: ${layersCatalogueNames().join(', ')})`,
      });
    }
    return (await loadKerasH5(path)).model;
  }
  const architecture = await loadArchitecture(options.architecture, options);
  try {
    const loaded = await loadKerasWeightsOnly(path, architecture);
    notes.push(
      `weights-only .h5 (${loaded.layout === 'keras2' ? 'Keras 2 layer_names' : 'Keras 3 .weights.h5'} layout, ${loaded.tensors} tensors in ${loaded.layers} layers, matched by ${loaded.matchedBy}) loaded into the architecture of ${options.architecture}`,
    );
    return architecture;
  } catch (error) {
    architecture.dispose();
    throw error;
  }
}

function layersCatalogueNames(): string[] {
  return CATALOGUE_NAMES.filter((name) => (CATALOGUE[name] as CatalogueEntry).format === 'tfjs-layers');
}

/**
 * The architecture a weights-only .h5 is loaded into: a TF.js layers model.json (or folder; only its topology is
 * read, so weight shards may be absent), a full Keras .h5, or a catalogue TF.js layers backbone.
 */
export async function loadArchitecture(spec: string, options: Pick<ConvertOptions, 'cacheDir' | 'offline'> = {}): Promise<tf.LayersModel> {
  if (isCatalogueName(spec)) {
    const entry: CatalogueEntry = CATALOGUE[spec];
    if (entry.format !== 'tfjs-layers') {
      throw new GraftError('INVALID_CONFIG', `Catalogue model ${spec} is a ${entry.format} model, not a TF.js layers model, so it cannot be an architecture for Keras weights`, {
        hint: `use one of: ${layersCatalogueNames().join(', ')}; or a model.json or full .h5`,
      });
    }
    let resolved: Awaited<ReturnType<typeof resolveBackbone>>;
    try {
      resolved = await resolveBackbone(spec, { cacheDir: options.cacheDir ?? defaultCacheDir(), modelDirs: modelDirsFromEnv(), offline: options.offline ?? false });
    } catch (error) {
      // The resolver's hints speak of --backbone; here the flag is --architecture.
      if (error instanceof GraftError && error.hint) throw new GraftError(error.code, error.message, { cause: error, hint: error.hint.replaceAll('--backbone', '--architecture') });
      throw error;
    }
    if (resolved.location.kind === 'bundled') return (await loadNsfwjsMobileNetV2()).model;
    if (resolved.location.kind !== 'tfjs-layers') throw new GraftError('INTERNAL', `Catalogue model ${spec} resolved to a ${resolved.location.kind} model`);
    return architectureFromModelJson(join(resolved.location.dir, 'model.json'));
  }
  const detected = await detectFormat(resolve(spec));
  if (detected.format === 'tfjs-layers') return architectureFromModelJson(detected.path);
  if (detected.format === 'keras-h5') return (await loadKerasH5(detected.path)).model;
  throw new GraftError('INVALID_CONFIG', `--architecture ${spec} is a ${detected.format} model; it must be a TF.js layers model.json, a full Keras .h5 or a catalogue name`, {
    hint: `catalogue TF.js layers models: ${layersCatalogueNames().join(', ')}`,
  });
}

async function architectureFromModelJson(path: string): Promise<tf.LayersModel> {
  let topology: unknown;
  try {
    topology = (JSON.parse(await readFile(path, 'utf8')) as { modelTopology?: unknown }).modelTopology;
  } catch (cause) {
    throw new GraftError('INVALID_MODEL_DIR', `${path} is not a readable TF.js model.json`, { cause, hint: 'the file is damaged or truncated' });
  }
  if (typeof topology !== 'object' || topology === null) {
    throw new GraftError('INVALID_MODEL_DIR', `${path} has no "modelTopology" object, so it is not a TF.js layers model`);
  }
  try {
    return await tf.models.modelFromJSON({ modelTopology: topology } as tf.io.ModelJSON as {});
  } catch (cause) {
    throw new GraftError('UNSUPPORTED_MODEL', `tfjs could not build the architecture in ${path}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/**
 * ONNX -> TF.js layers model. The converted model runs on seeded inputs (transposed to its NHWC input) against
 * onnxruntime; for a quantized source, whose float conversion cannot match integer kernels to 1e-4, the gate is
 * the float import of the same graph (importOnnxToTfjs, same semantics) and onnxruntime's difference and top-1
 * agreement are reported. The model is written to a staging folder, reloaded, checked again, and swapped in.
 */
async function convertOnnx(path: string, options: ConvertOptions, started: number): Promise<ConversionReport> {
  if (options.to !== 'tfjs') {
    throw new GraftError('UNSUPPORTED_MODEL', `${path} is already an ONNX model`, { hint: 'use --to tfjs to convert it to a TF.js layers model' });
  }
  await ensureTfjsBackend();
  // External data is read from beside the model into it, so the conversion and onnxruntime's check see every weight.
  const proto = await readOnnxModel(path);
  const bytes = encodeOnnxModel(proto);
  const out = resolve(options.out ?? defaultOut(path, 'tfjs'));
  checkOutFolder(out);
  const conversion = convertOnnxToLayers(proto, { source: path });
  try {
    const tolerance = options.tolerance ?? 1e-4;
    const samples = 2;
    const onnxDims = [samples, ...(conversion.onnxInputShape.slice(1) as number[])];
    const kerasDims = [samples, ...(conversion.inputShape.slice(1) as number[])];
    const output = conversion.outputs[0]!;
    const x = randomInput(onnxDims, 7);
    const xKeras = toKerasLayout(x, onnxDims, conversion.inputPerm);
    const predict = (model: tf.LayersModel) => tf.tidy(() => firstOutput(model.predict(tf.tensor(xKeras, kerasDims))).dataSync().slice() as Float32Array);
    const actual = predict(conversion.model);
    const ort = await runOnnxOutput(bytes, conversion.inputName, output.name, x, onnxDims);
    const ortDiff = maxDiff(actual, toKerasLayout(ort.data, ort.dims, output.perm));
    let maxAbsDiff = ortDiff;
    let reference: string | undefined;
    let onnxruntime: { maxAbsDiff: number } | undefined;
    if (conversion.isQuantized) {
      const graph = importOnnxToTfjs(proto, { source: path, outputs: [output.name] });
      let imported: { data: Float32Array; dims: number[] };
      try {
        imported = tf.tidy(() => {
          const y = graph.predict(tf.tensor(x, onnxDims));
          return { data: y.dataSync().slice() as Float32Array, dims: y.shape };
        });
      } finally {
        graph.dispose();
      }
      maxAbsDiff = maxDiff(actual, toKerasLayout(imported.data, imported.dims, output.perm));
      reference = 'the float import of the quantized graph (importOnnxToTfjs: same dequantized weights and range clamps)';
      // Top-1 agreement on two noise inputs says nothing (near ties); real-image agreement is in the tests (15/16).
      onnxruntime = { maxAbsDiff: ortDiff };
    }
    assertWithin(maxAbsDiff, tolerance, path);
    const staging = `${out}.converting-${process.pid}-${randomBytes(4).toString('hex')}`;
    let written: number;
    try {
      written = (await saveLayersModelToDir(conversion.model, staging)).bytes;
      const reloaded = await loadLayersModelFromDir(staging);
      let reloadDiff: number;
      try {
        reloadDiff = maxDiff(actual, predict(reloaded));
      } finally {
        reloaded.dispose();
      }
      if (reloadDiff !== 0) throw new GraftError('INTERNAL', `The TF.js model written for ${path} does not reproduce the converted model (max abs diff ${reloadDiff}); nothing was written`);
      await replaceDirectory(staging, out);
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      throw error;
    }
    const notes: string[] = [];
    const shape = (dims: readonly (number | null)[]) => `[${dims.map((d) => d ?? 1).join(',')}]`;
    if (conversion.inputPerm.some((a, i) => a !== i)) notes.push(`input is NHWC ${shape(conversion.inputShape)}; ONNX was NCHW ${shape(conversion.onnxInputShape)}`);
    if (output.perm.some((a, i) => a !== i)) notes.push(`output is NHWC ${shape(output.shape)}; ONNX was NCHW ${shape(output.onnxShape)}`);
    if (conversion.isQuantized) notes.push('quantized operators became float layers with dequantized weights (activations are not re-quantized)');
    notes.push(`${conversion.layerCount} Keras layers`);
    return {
      read: { path, format: 'onnx', inputShape: conversion.onnxInputShape.slice(1) as number[], outputShape: output.onnxShape.slice(1) as number[] },
      wrote: { path: out, format: 'tfjs', bytes: written, inputShape: conversion.inputShape.slice(1) as number[], outputShape: output.shape.slice(1) as number[] },
      check: {
        inputs: `${samples} seeded uniform random inputs in [-1, 1]`,
        samples,
        maxAbsDiff,
        tolerance,
        ...(reference ? { reference } : {}),
        ...(onnxruntime ? { onnxruntime } : {}),
      },
      notes,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    conversion.model.dispose();
  }
}

/** Refuses to replace anything but a TF.js model folder or an empty folder. */
function checkOutFolder(out: string): void {
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new GraftError('INVALID_CONFIG', `${out} exists and is not a folder`, { hint: 'pass --out <new folder>' });
  const entries = readdirSync(out);
  if (entries.length > 0 && !entries.includes('model.json')) {
    throw new GraftError('INVALID_CONFIG', `${out} is a folder that holds other files, not a TF.js model; it would be replaced`, { hint: 'pass --out <new folder>' });
  }
}

function firstOutput(y: tf.Tensor | tf.Tensor[]): tf.Tensor {
  return Array.isArray(y) ? y[0]! : y;
}

async function runOnnxOutput(bytes: Uint8Array, inputName: string, outputName: string, x: Float32Array, dims: number[]): Promise<{ data: Float32Array; dims: number[] }> {
  const session = await createSession(bytes, { source: 'the source ONNX model' });
  try {
    const result = await session.run({ [inputName]: new ort.Tensor('float32', x, dims) }, [outputName]);
    const tensor = result[outputName]!;
    return { data: new Float32Array(tensor.data as Float32Array), dims: tensor.dims.map(Number) };
  } finally {
    await session.release();
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
