import { graftTfjsExportPreprocessing } from '../formats/graft-tfjs-export.js';
import { teachableMachineScale } from '../formats/teachable-machine.js';
import { GraftError } from '../core/errors.js';
import type { RuntimeName } from '../core/model-format.js';
import { makePreprocessing, type Layout, type Preprocessing, type ResizeMode, type Scale } from '../core/preprocessing.js';
import type { ProgressListener } from '../core/progress.js';
import type { FeatureSource } from '../formats/format-entry.js';
import { formatEntry } from '../formats/registry.js';
import type { MirrorRule } from '../hub/mirror.js';
import { resolveBackbone, type ResolvedBackbone } from '../hub/resolve-backbone.js';
import type { Backbone, BackboneInfo } from './backbone.js';
import { withOnnxModel } from './onnx-model-of.js';
import { OrtBackbone } from './ort-backbone.js';

/** Preprocessing choices for a backbone the catalogue does not know (the CLI's --input-size/--scale/--layout). */
export interface PreprocessingOverrides {
  readonly inputSize?: number;
  readonly scale?: Scale;
  readonly layout?: Layout;
  readonly resize?: ResizeMode;
  /** Share of the short side a centre crop keeps (see Preprocessing.cropFraction). */
  readonly cropFraction?: number;
}

const OVERRIDE_KEYS: Record<keyof PreprocessingOverrides, true> = { inputSize: true, scale: true, layout: true, resize: true, cropFraction: true };

/**
 * Refuses overrides that are not an object of known keys: spread over the model's own, a misspelt key
 * (`{ inputsize: 160 }`) or a string would train with the model's preprocessing and say nothing.
 */
function checkOverrides(overrides: unknown): void {
  if (overrides === undefined) return;
  if (overrides === null || typeof overrides !== 'object' || Array.isArray(overrides)) {
    throw new GraftError('INVALID_CONFIG', `overrides must be an object such as { inputSize: 160, scale: '-1..1' }. Received: ${JSON.stringify(overrides)}`);
  }
  const unknown = Object.entries(overrides).filter(([key, value]) => value !== undefined && !Object.hasOwn(OVERRIDE_KEYS, key)).map(([key]) => key);
  if (unknown.length === 0) return;
  const known = Object.keys(OVERRIDE_KEYS);
  const meant = unknown.map((key) => known.find((k) => k.toLowerCase() === key.replace(/[_-]/g, '').toLowerCase())).filter(Boolean);
  throw new GraftError('INVALID_CONFIG', `Unknown preprocessing override${unknown.length === 1 ? '' : 's'}: ${unknown.join(', ')}. Known: ${known.join(', ')}`, {
    ...(meant.length ? { hint: `did you mean ${meant.join(', ')}?` } : {}),
  });
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
  /**
   * Multi-scale features only (see multiScaleBackbone): loads the backbone that maps the same input to its four
   * corner crops' features at the first scale, [N, 4 x featureDim / 2], the crop half of crop rows.
   */
  loadCorners?(): Promise<Backbone>;
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

/**
 * Describes a resolved backbone: its format's registry entry finds the features (cached per model id, exported
 * to ONNX on first use), and the preprocessing comes from the catalogue entry or the overrides, over what the model
 * declares.
 */
export async function openBackbone(resolved: ResolvedBackbone, options: OpenBackboneOptions): Promise<BackboneHandle> {
  checkOverrides(options.overrides);
  const source = await formatEntry(resolved.format).openFeatures({
    location: resolved.location,
    source: resolved.source,
    sha256: resolved.sha256,
    featureOutput: options.featureOutput,
    inputSize: options.overrides?.inputSize,
    catalogue: resolved.entry,
    cacheDir: options.cacheDir,
    onProgress: options.onProgress,
  });
  // The input's layout is the model's own where it declares it: another one cannot run (onnxruntime would fail on
  // the first image with a channel count error), so it is refused here, naming the model's.
  const declaredLayout = source.declared.layout;
  const askedLayout = options.overrides?.layout;
  if (declaredLayout !== undefined && askedLayout !== undefined && askedLayout !== declaredLayout) {
    throw new GraftError('INVALID_CONFIG', `--layout ${askedLayout} does not fit ${resolved.name}: its input is ${declaredLayout.toUpperCase()} (${declaredLayout === 'nchw' ? 'channels first' : 'channels last'}), as the model file declares`, {
      hint: `drop --layout (or pass --layout ${declaredLayout})`,
    });
  }
  // A Teachable Machine export declares its scaling by what it is (see teachableMachineScale), Graft's TF.js export its
  // preprocessing in graft-model.json; flags still win.
  const tmScale = resolved.entry ? undefined : teachableMachineScale(resolved.location);
  const declared = resolved.entry ? undefined : (graftTfjsExportPreprocessing(resolved.location) ?? (tmScale ? { scale: tmScale } : undefined));
  const preprocessing = preprocessingFor(resolved, { ...source.declared, ...declared, ...options.overrides });
  const info = describe(resolved, preprocessing, source.featureDim, source.featureOutput, options.featureOutput);
  const handle: BackboneHandle = { info, onnxBytes: source.onnxBytes, onnxFeatureOutput: source.onnxFeatureOutput, load: () => loadBackbone(source, info, options) };
  return source.onnxModel ? withOnnxModel(handle, source.onnxModel) : handle;
}

/** onnxruntime on the ONNX form (the fast path), or tfjs-wasm for a TF.js layers model when `engine` is 'tfjs'. */
async function loadBackbone(source: FeatureSource, info: BackboneInfo, options: OpenBackboneOptions): Promise<Backbone> {
  if (options.engine === 'tfjs' && source.layersModel) {
    options.onProgress?.({ type: 'backbone', name: info.name, engine: 'tfjs', message: 'running in tfjs-wasm (--engine tfjs)' });
    // tfjs loads only here: most runs never need it (about 0.5 s of imports).
    const { TfjsBackbone } = await import('./tfjs-backbone.js');
    return TfjsBackbone.create(await source.layersModel(), info);
  }
  if (source.ortMessage) options.onProgress?.({ type: 'backbone', name: info.name, engine: 'onnxruntime', message: source.ortMessage });
  const ortInfo = source.onnxFeatureOutput === info.featureOutput ? info : { ...info, featureOutput: source.onnxFeatureOutput };
  return OrtBackbone.create(await source.onnxBytes(), ortInfo);
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

function describe(resolved: ResolvedBackbone, preprocessing: Preprocessing, featureDim: number, featureOutput: string, featureChoice: string | undefined): BackboneInfo {
  const { name, source, format, sha256 } = resolved;
  return { name, source, format, sha256, preprocessing, featureDim, featureOutput, ...(featureChoice !== undefined ? { featureChoice } : {}) };
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
  /** Folders searched for catalogue files before downloading. Defaults to none; the CLI passes GRAFT_MODELS_DIR's. */
  readonly modelDirs?: readonly string[];
  /** Hub mirrors. Defaults to none; the CLI passes GRAFT_HUB_MIRROR's and the config file's. */
  readonly mirrors?: readonly MirrorRule[];
  /** Stops a download (or the wait for another process's) at once; it then fails with CANCELLED. */
  readonly signal?: AbortSignal;
}

/** resolveBackbone + openBackbone: from what the user typed to a handle that knows its preprocessing. */
export async function backboneFromOptions(options: BackboneOptions): Promise<BackboneHandle> {
  const resolved = await resolveBackbone(options.backbone, {
    cacheDir: options.cacheDir,
    modelDirs: options.modelDirs ?? [],
    ...(options.mirrors === undefined ? {} : { mirrors: options.mirrors }),
    offline: options.offline,
    onProgress: options.onProgress,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return openBackbone(resolved, options);
}
