import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { RuntimeName } from '../core/model-format.js';
import { GraftError } from '../core/errors.js';
import { exposeFeatures, FEATURE_OUTPUT } from '../onnx/feature-output.js';
import { encodeOnnxModel, readOnnxModel } from '../onnx/onnx-model.js';
import { loadKerasH5 } from '../readers/keras-h5/load-keras-h5.js';
import { loadLayersModelFromDir, loadNsfwjsMobileNetV2, truncateAt } from '../readers/tfjs-layers.js';
import { exportLayersModelToOnnx } from '../tfjs-to-onnx/layers-model-to-onnx.js';
import { modelDirsFromEnv, resolveBackbone, type ResolvedBackbone } from '../hub/resolve-backbone.js';
import { writeFileAtomic } from '../core/atomic-write.js';
import type { ProgressListener } from '../core/progress.js';
import type { Backbone, BackboneInfo } from './backbone.js';
import { openGraphBackbone } from './open-graph-backbone.js';
import { OrtBackbone } from './ort-backbone.js';
import { makePreprocessing, type Layout, type Preprocessing, type ResizeMode, type Scale } from '../core/preprocessing.js';
import { ensureTfjsBackend, warnOnFallback } from '../runtime/tfjs-backend.js';
import { TfjsBackbone } from './tfjs-backbone.js';

/** Preprocessing choices for a backbone the catalogue does not know (the CLI's --input-size/--scale/--layout). */
export interface PreprocessingOverrides {
  readonly inputSize?: number;
  readonly scale?: Scale;
  readonly layout?: Layout;
  readonly resize?: ResizeMode;
  /** Share of the short side a centre crop keeps (see Preprocessing.cropFraction). */
  readonly cropFraction?: number;
}

/**
 * A backbone found and described, not yet loaded: its ONNX form (with the `graft_features` output) is built on
 * first use, so a run whose features are all cached never starts an inference session.
 */
export interface BackboneHandle {
  readonly info: BackboneInfo;
  /** ONNX bytes with input [N, ...] and the feature output [N, featureDim]; cached for TF.js sources. */
  onnxBytes(): Promise<Uint8Array>;
  /** Name of the feature output in `onnxBytes()` (`graft_features`, or a backbone-only model's own output). */
  readonly onnxFeatureOutput: string;
  /** Loads the backbone into onnxruntime (the fast path; TF.js models run from their cached ONNX export). */
  load(): Promise<Backbone>;
}

export interface OpenBackboneOptions {
  readonly cacheDir: string;
  readonly overrides?: PreprocessingOverrides;
  /** Tensor (ONNX) or layer (TF.js) to take features from, instead of the automatic choice. */
  readonly featureOutput?: string;
  /**
   * Where a TF.js backbone runs: 'onnxruntime' (default: its cached ONNX export, 11-16x faster here) or 'tfjs'
   * (tfjs-wasm, for comparison or if an export ever disagrees). ONNX backbones always run in onnxruntime.
   */
  readonly engine?: RuntimeName;
  readonly onProgress?: ProgressListener;
}

/** Describes a resolved backbone: preprocessing from the catalogue entry or the overrides, feature output and size. */
export async function openBackbone(resolved: ResolvedBackbone, options: OpenBackboneOptions): Promise<BackboneHandle> {
  if (resolved.format === 'onnx') return openOnnx(resolved, options);
  if (resolved.format === 'tfjs-graph') return openGraphBackbone(resolved, options, preprocessingFor);
  return openLayers(resolved, options);
}

/** What exposing the features found in an ONNX backbone; cached per model so a warm run need not parse it. */
interface OnnxDescription {
  readonly featureDim: number;
  readonly featureOutput: string;
  readonly inputShape: readonly (number | null)[];
}

async function openOnnx(resolved: ResolvedBackbone, options: OpenBackboneOptions): Promise<BackboneHandle> {
  if (resolved.location.kind !== 'onnx') throw new GraftError('INTERNAL', `ONNX backbone without a file: ${resolved.source}`);
  const path = resolved.location.path;
  const descPath = join(options.cacheDir, 'backbones', `${resolved.sha256}-${options.featureOutput ?? 'auto'}.json`);
  let bytes: Uint8Array | undefined;
  const onnxBytes = async (): Promise<Uint8Array> => {
    if (bytes) return bytes;
    const exposed = await exposeFeatures(await readOnnxModel(path), { output: options.featureOutput, source: path });
    bytes = encodeOnnxModel(exposed.model);
    description = { featureDim: exposed.featureDim, featureOutput: exposed.featureOutput, inputShape: exposed.inputShape };
    await mkdir(dirname(descPath), { recursive: true });
    await writeFileAtomic(descPath, JSON.stringify(description));
    return bytes;
  };
  // Parsing a large model and finding its features takes a while; a warm run reads the description instead.
  let description = existsSync(descPath) ? (JSON.parse(await readFile(descPath, 'utf8')) as OnnxDescription) : undefined;
  if (!description) await onnxBytes();
  const { featureDim, featureOutput, inputShape } = description!;
  const [, c1, h, w] = inputShape;
  // A 4-D input tells the layout and size: [N,3,S,S] is NCHW, [N,S,S,3] NHWC. The scale it cannot tell.
  const inferred: PreprocessingOverrides =
    c1 === 3 && typeof h === 'number' ? { layout: 'nchw', inputSize: h } : w === 3 && typeof c1 === 'number' ? { layout: 'nhwc', inputSize: c1 } : {};
  const preprocessing = preprocessingFor(resolved, { ...inferred, ...options.overrides });
  const info = describe(resolved, preprocessing, featureDim, featureOutput);
  return {
    info,
    onnxBytes,
    onnxFeatureOutput: featureOutput,
    load: async () => OrtBackbone.create(await onnxBytes(), info),
  };
}

async function openLayers(resolved: ResolvedBackbone, options: OpenBackboneOptions): Promise<BackboneHandle> {
  const featureLayer = options.featureOutput ?? resolved.entry?.featureLayer;
  const stem = join(options.cacheDir, 'exports', `${resolved.sha256}-${featureLayer ?? 'out'}`);
  // The export and its description are keyed by the source's hash and the feature layer: made once per model,
  // so a warm run neither builds the tfjs model nor exports it.
  const exportPath = `${stem}.onnx`;
  const descPath = `${stem}.json`;
  let description = existsSync(descPath) && existsSync(exportPath) ? (JSON.parse(await readFile(descPath, 'utf8')) as LayersDescription) : undefined;
  let model: tf.LayersModel | undefined;
  const buildModel = async (): Promise<tf.LayersModel> => {
    await ensureTfjsBackend(warnOnFallback(options.onProgress));
    const location = resolved.location;
    if (location.kind === 'keras-h5') {
      // A Keras file is usually a whole classifier: without --feature-output, features are what feeds its last
      // top-level layer (Teachable Machine: the backbone Sequential's 1280-d output; a plain CNN: its penultimate layer).
      const full = (await loadKerasH5(location.path)).model;
      return featureLayer ? truncateAt(full, featureLayer) : cutBeforeLastLayer(full, location.path);
    }
    const full = location.kind === 'bundled' ? (await loadNsfwjsMobileNetV2()).model : await loadLayersModelFromDir(requireDir(resolved));
    return featureLayer ? truncateAt(full, featureLayer) : full;
  };
  if (!description) {
    model = await buildModel();
    const outShape = model.outputs[0]?.shape ?? [];
    const featureDim = outShape.slice(1).reduce<number>((a, b) => a * (b ?? Number.NaN), 1);
    if (!Number.isFinite(featureDim)) {
      throw new GraftError('UNSUPPORTED_MODEL', `${resolved.source} outputs ${JSON.stringify(outShape)}: Graft needs a fixed-size feature vector`, {
        hint: 'pass --feature-output <layer name> naming a pooled or flattened layer',
      });
    }
    const [, h] = model.inputs[0]?.shape ?? [];
    description = { featureDim, featureOutput: featureLayer ?? model.outputs[0]?.name ?? 'output', inputSize: typeof h === 'number' ? h : null };
  }
  const { featureDim, featureOutput, inputSize } = description;
  const preprocessing = preprocessingFor(resolved, { layout: 'nhwc', ...(inputSize === null ? {} : { inputSize }), ...options.overrides });
  const info = describe(resolved, preprocessing, featureDim, featureOutput);
  let bytes: Uint8Array | undefined;
  const onnxBytes = async (): Promise<Uint8Array> => {
    if (bytes) return bytes;
    if (existsSync(exportPath)) bytes = new Uint8Array(await readFile(exportPath));
    else {
      model ??= await buildModel();
      bytes = exportLayersModelToOnnx(model, { featureOutputName: FEATURE_OUTPUT });
      await mkdir(dirname(exportPath), { recursive: true });
      await writeFileAtomic(exportPath, bytes);
      await writeFileAtomic(descPath, JSON.stringify(description));
    }
    return bytes;
  };
  return {
    info,
    onnxBytes,
    onnxFeatureOutput: FEATURE_OUTPUT,
    load: async () => {
      if (options.engine === 'tfjs') {
        options.onProgress?.({ type: 'backbone', name: info.name, engine: 'tfjs', message: 'running in tfjs-wasm (--engine tfjs)' });
        return TfjsBackbone.create(model ?? (await buildModel()), info);
      }
      options.onProgress?.({ type: 'backbone', name: info.name, engine: 'onnxruntime', message: 'TF.js model exported to ONNX for speed' });
      return OrtBackbone.create(await onnxBytes(), { ...info, featureOutput: FEATURE_OUTPUT });
    },
  };
}

/** What building a TF.js backbone found; cached beside its ONNX export. */
interface LayersDescription {
  readonly featureDim: number;
  readonly featureOutput: string;
  readonly inputSize: number | null;
}

/**
 * The model up to the input of its last top-level layer. Uses that layer's last inbound node, because a nested
 * model used as a layer (Teachable Machine's head Sequential) also has the node it was built with.
 */
function cutBeforeLastLayer(model: tf.LayersModel, source: string): tf.LayersModel {
  const last = model.layers.at(-1);
  if (!last || model.layers.length < 2) {
    throw new GraftError('UNSUPPORTED_MODEL', `${source} has a single layer: no feature layer to cut at`, { hint: 'pass --feature-output <layer name>' });
  }
  const output = last.getInputAt(last.inboundNodes.length - 1) as tf.SymbolicTensor;
  return tf.model({ inputs: model.inputs, outputs: output, name: `${model.name}_features` });
}

function requireDir(resolved: ResolvedBackbone): string {
  if (resolved.location.kind !== 'tfjs-layers') throw new GraftError('INTERNAL', `TF.js backbone without a folder: ${resolved.source}`);
  return resolved.location.dir;
}

/**
 * The catalogue entry's preprocessing, else what the model and the user's flags say. The scale cannot be read
 * off a model file, so an unknown backbone without --scale is an error, never a guess.
 */
export function preprocessingFor(resolved: ResolvedBackbone, overrides: PreprocessingOverrides): Preprocessing {
  const entry = resolved.entry;
  const inputSize = overrides.inputSize ?? entry?.inputSize;
  const scale = overrides.scale ?? entry?.scale;
  const layout = overrides.layout ?? entry?.layout;
  const missing = [inputSize === undefined && '--input-size', scale === undefined && '--scale', layout === undefined && '--layout'].filter(Boolean);
  if (inputSize === undefined || scale === undefined || layout === undefined) {
    throw new GraftError('UNKNOWN_PREPROCESSING', `Graft does not know how to preprocess images for ${resolved.source} (sha256 ${resolved.sha256.slice(0, 12)}…)`, {
      hint: `pass ${missing.join(', ')} (${[scale === undefined && 'scale: imagenet | -1..1 | 0..1', layout === undefined && 'layout: nchw | nhwc', inputSize === undefined && 'input size: e.g. 224'].filter(Boolean).join('; ')}), as the model's documentation states`,
    });
  }
  return makePreprocessing({ inputSize, scale, layout, resize: overrides.resize ?? entry?.resize, cropFraction: overrides.cropFraction ?? entry?.cropFraction });
}

function describe(resolved: ResolvedBackbone, preprocessing: Preprocessing, featureDim: number, featureOutput: string): BackboneInfo {
  return { name: resolved.name, source: resolved.source, format: resolved.format, sha256: resolved.sha256, preprocessing, featureDim, featureOutput };
}

/** Options shared by every command that takes `--backbone`. */
export interface BackboneOptions {
  /** Catalogue name, URL or local path. */
  readonly backbone: string;
  readonly cacheDir: string;
  readonly offline?: boolean;
  readonly overrides?: PreprocessingOverrides;
  readonly featureOutput?: string;
  readonly engine?: OpenBackboneOptions['engine'];
  readonly onProgress?: ProgressListener;
}

/** resolveBackbone + openBackbone: from what the user typed to a handle that knows its preprocessing. */
export async function backboneFromOptions(options: BackboneOptions): Promise<BackboneHandle> {
  const resolved = await resolveBackbone(options.backbone, {
    cacheDir: options.cacheDir,
    modelDirs: modelDirsFromEnv(),
    offline: options.offline,
    onProgress: options.onProgress,
  });
  return openBackbone(resolved, options);
}
