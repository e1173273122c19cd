import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { refuseUnknownOptions } from './known-options.js';
import { abortable } from './abortable.js';
import { redactUrlCredentials } from '../core/redact-url.js';
import { InterruptedRun } from './interrupted-run.js';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { LabelledItem, SkippedFile } from '../data/dataset.js';
import type { BackboneInfo } from '../engine/backbone.js';
import { featureBackbone, viewLimits } from '../engine/feature-backbone.js';
import { backboneFromOptions, type BackboneOptions, type PreprocessingOverrides } from '../engine/open-backbone.js';
import { preprocessingHash } from '../core/preprocessing.js';
import { GraftError } from '../core/errors.js';
import { optionName } from '../core/option-name.js';
import { defaultCacheDir } from '../core/cache-dir.js';
import { assertReplaceableOutput, MODEL_DIR_OUTPUT } from '../core/replaceable-output.js';
import { headModelBytes, modelIo } from './head-model-onnx.js';
import type { ModelProto } from '../onnx/onnx-model.js';
import { requireDynamicBatch } from '../onnx/batch-dim.js';
import { packHeadWeights, saveModelDir } from '../model/save-model.js';
import type { EpochLogs, ProgressListener } from '../core/progress.js';
import { checkpointFiles, loadCheckpoint, otherRunCheckpoint, removeCheckpoint } from '../learn/checkpoint.js';
import type { DenseLayerWeights } from '../core/dense-layer.js';
import { fineTuneConfigFrom, type FineTuneConfig } from '../learn/fine-tune-config.js';
import type { FineTuneSummary } from '../learn/fine-tune-summary.js';
import { runHeadPhase, type HeadPhase, type ValScores } from '../learn/head-phase.js';
import { foldGroups, prepareData, validationSource, type DataSplit, type ValidationSource } from '../learn/prepare-data.js';
import type { SelectionReport } from '../learn/select/fit-linear-head.js';
import type { LabelIssue } from '../learn/select/label-issues.js';
import { buildManifest, type TrainedHeadSummary } from './train-manifest.js';
import type { TrainingOutcome } from '../model/manifest.js';
import { trainConfigFrom, type TrainConfig, type TrainConfigInput } from '../learn/train-config.js';
import { hashFilesCached } from '../features/hash-files-cached.js';
import { caseOnlyLabelsNote } from '../data/scan-folder.js';
import { onnxModelOf } from '../engine/onnx-model-of.js';
import { isLinearHead } from '../learn/head-config.js';
import { assignFolds } from '../learn/select/folds.js';
import { roundSeconds } from '../core/round-seconds.js';

/**
 * Options of {@link train}. Validation images come from `val` or `valSplit`, never both (the type refuses both):
 * - `val`: a validation folder or CSV, scored and reported, never used to choose. Default: the dataset's own val/
 *   folder, else none.
 * - `valSplit`: the fraction of the training data held out (stratified, seeded) to score when there is no validation
 *   folder; default 0.
 */
export type TrainOptions = TrainSettings & ValidationSource;

interface TrainSettings {
  /** Folder with one sub-folder per class (or with train/ and val/ inside), or a CSV of path,label. */
  readonly train: string;
  /**
   * The class of each image from its file name, not its folder (fastai's `from_name_re`): a regular expression whose
   * first capture group is the label, e.g. `'^(.+)_\d+\.jpg$'` for Oxford-IIIT Pets' `Abyssinian_12.jpg`. Applies
   * to the validation folder too.
   */
  readonly labelPattern?: string;
  /**
   * Folders the images may be read from, real paths: an image linked (or listed) from elsewhere is skipped, saying
   * so. The dashboard passes its data roots; left out, every image the dataset lists is read.
   */
  readonly confineTo?: readonly string[];
  /** Catalogue name, URL or path. Defaults to `mobilenet_v2`. */
  readonly backbone?: string;
  /** Where the model directory is written. */
  readonly out: string;
  readonly cacheDir?: string;
  readonly offline?: boolean;
  /** Folders searched for catalogue backbones before downloading, and hub mirrors (see BackboneOptions); the CLI passes its environment's. */
  readonly modelDirs?: BackboneOptions['modelDirs'];
  readonly mirrors?: BackboneOptions['mirrors'];
  readonly overrides?: PreprocessingOverrides;
  readonly featureOutput?: string;
  /** Where a TF.js backbone runs (see OpenBackboneOptions.engine). Defaults to onnxruntime. */
  readonly engine?: 'onnxruntime' | 'tfjs';
  /** Training settings; anything left out takes the measured default (DEFAULT_TRAIN). */
  readonly config?: TrainConfigInput;
  /**
   * Fine-tune after the head phase: unfreeze the top of the backbone (`unfreeze`, default `last:3`) and train on
   * at lower rates. Anything left out takes DEFAULT_FINE_TUNE. Omit for feature extraction only.
   */
  readonly fineTune?: Partial<FineTuneConfig>;
  /** Where fine-tuning checkpoints after every epoch. Defaults to `<out>.checkpoint` (removed once the model is written). */
  readonly checkpoint?: string;
  /** Continue an interrupted fine-tuning run from its checkpoint (same data and options); starts fresh when there is none. */
  readonly resume?: boolean;
  readonly onProgress?: ProgressListener;
  /** Aborting it stops the run at the next batch with GraftError CANCELLED; nothing is written (a fine-tuning checkpoint stays). */
  readonly signal?: AbortSignal;
  /** Fine-tuning: large matrix products in onnxruntime's native CPU GEMM instead of tfjs-wasm (2.3x on MobileNetV2's top blocks). Default true. */
  readonly nativeGemm?: boolean;
}

/** What `graft train --json` prints (snake_case keys are part of the JSON contract). */
export interface TrainResult {
  readonly model: string;
  readonly labels: string[];
  /** Scores on the validation images: reported only, never used to choose anything. */
  readonly val: ValScores | null;
  readonly timings: { extract_s: number; train_s: number; total_s: number };
  readonly images: { train: number; val: number; skipped: SkippedFile[] };
  /** Where the images came from, as graft.json records it: the training folder, the validation folder scored (or none). */
  readonly data: TrainingOutcome['data'];
  readonly features: { computed: number; cached: number; backbone_s: number };
  readonly backbone: BackboneInfo;
  readonly head: TrainedHeadSummary;
  /** How the head was chosen: the cross-validation table on the training images (null when nothing was chosen). */
  readonly selection: SelectionReport | null;
  /** Training images whose label the cross-validated head confidently contradicts (most suspicious first). */
  readonly labelIssues: LabelIssue[];
  /**
   * MLP head only: the epoch whose weights were kept (1-based, chosen on a held-out fifth of the training images).
   * Absent for a linear head, which is solved, not trained in epochs (its `history` is empty).
   */
  readonly bestEpoch?: number;
  /** MLP head only: the epochs run; empty for a linear head. */
  readonly history: EpochLogs[];
  /** Present when the run fine-tuned the backbone; `val` above then scores the final model. */
  readonly fineTune?: FineTuneSummary;
}

/** Every option {@link train} reads (the compiler holds it to TrainOptions). */
const TRAIN_OPTIONS: Record<keyof TrainOptions, true> = {
  train: true, val: true, valSplit: true, labelPattern: true, confineTo: true, backbone: true, out: true, cacheDir: true, offline: true, modelDirs: true,
  mirrors: true, overrides: true, featureOutput: true, engine: true, config: true, fineTune: true, checkpoint: true, resume: true, onProgress: true, signal: true, nativeGemm: true,
};

/**
 * What a JavaScript caller (no compiler to check the types) can get wrong, said before any work: `train()` failed as
 * "Cannot convert undefined or null to object", a missing `out` as a Node TypeError about `paths[0]`, and
 * `engine: 'torch'`, `fineTune: true` or `valSplit: '0.2'` were taken as something else.
 * @throws GraftError `INVALID_CONFIG` naming the option and the value.
 */
function checkTrainCall(options: TrainOptions | undefined): asserts options is TrainOptions {
  const refuse = (message: string, hint?: string): never => {
    throw new GraftError('INVALID_CONFIG', message, hint ? { hint } : {});
  };
  if (options === null || typeof options !== 'object') refuse(`train() takes an options object. Received: ${String(options)}`, "e.g. train({ train: 'photos/', out: 'model' })");
  for (const name of ['train', 'out'] as const) {
    const value: unknown = options![name];
    if (typeof value !== 'string' || value.trim() === '') refuse(`train() needs ${name} (--${name === 'train' ? '<train-dir>' : 'out'}): ${name === 'train' ? 'the training images' : 'the model directory to write'}. Received: ${JSON.stringify(value)}`, "e.g. train({ train: 'photos/', out: 'model' })");
  }
  const { engine, signal, onProgress, valSplit, fineTune, resume } = options as unknown as Record<string, unknown>;
  if (engine !== undefined && engine !== 'onnxruntime' && engine !== 'tfjs') refuse(`engine must be 'onnxruntime' or 'tfjs'. Received: ${JSON.stringify(engine)}`);
  if (signal !== undefined && !(signal instanceof AbortSignal)) refuse(`signal must be an AbortSignal. Received: ${typeof signal}`, 'e.g. signal: AbortSignal.timeout(60_000), or an AbortController\'s signal');
  if (onProgress !== undefined && typeof onProgress !== 'function') refuse(`onProgress must be a function of each event. Received: ${typeof onProgress}`);
  if (valSplit !== undefined && typeof valSplit !== 'number') refuse(`valSplit must be a number (a fraction of the training images). Received: ${JSON.stringify(valSplit)}`, 'e.g. valSplit: 0.2');
  if (fineTune !== undefined && (fineTune === null || typeof fineTune !== 'object')) refuse(`fineTune must be an object of fine-tuning options ({} for the defaults). Received: ${JSON.stringify(fineTune)}`, "e.g. fineTune: {} or fineTune: { unfreeze: 'last:3' }");
  if (resume !== undefined && typeof resume !== 'boolean') refuse(`resume must be true or false. Received: ${JSON.stringify(resume)}`);
}

/**
 * The whole path in one call: scan the data, extract (or fetch cached) features, choose and fit the head on the
 * training images alone, score it on validation images if there are any, optionally fine-tune, and write a model
 * directory with one ONNX file (backbone + head).
 *
 * @example
 * const result = await train({ train: './photos', out: './model' });
 * result.selection?.chosen.accuracy; // cross-validated accuracy on the training images, e.g. 0.95
 */
export async function train(trainOptions: TrainOptions): Promise<TrainResult> {
  const started = performance.now();
  refuseUnknownOptions('train', trainOptions ?? {}, TRAIN_OPTIONS);
  checkTrainCall(trainOptions);
  const interrupted = new InterruptedRun(trainOptions.out);
  try {
    return await trainModel(trainOptions, interrupted, started);
  } catch (error) {
    throw interrupted.explain(error);
  }
}

/** Which write of a model folder is there now (its graft.json's inode and time), or 'none'. */
async function modelDirStamp(dir: string): Promise<string> {
  const info = await stat(join(dir, 'graft.json')).catch(() => undefined);
  return info ? `${info.ino}:${info.mtimeMs}` : 'none';
}

/**
 * A class too small for cross-validation after a --val-split took some of its images: the hint says so (a class of 2
 * images trained without the split, and "add images" alone did not say why it failed with it).
 */
function withValSplitHint(error: unknown, data: DataSplit): unknown {
  if (!(error instanceof GraftError) || error.code !== 'INVALID_DATASET') return error;
  const heldOut = [...new Set(data.val.map((item) => item.label))].filter((label) => error.message.includes(`"${label}" has`));
  if (heldOut.length === 0) return error;
  return new GraftError(error.code, error.message, {
    hint: `${optionName('valSplit')} held out images of ${heldOut.map((l) => `"${l}"`).join(', ')}: pass a held-out folder with ${optionName('val')} or a smaller split, or ${error.hint ?? 'add images to that class'}`,
    cause: error,
  });
}

async function trainModel(trainOptions: TrainOptions, interrupted: InterruptedRun, started: number): Promise<TrainResult> {
  // The count of what was kept sees every event, the last one before the cancel too (a batch's features were missed).
  const options: TrainOptions = { ...trainOptions, onProgress: interrupted.listen(abortable(trainOptions.onProgress, trainOptions.signal)) };
  if (options.signal?.aborted) throw new GraftError('CANCELLED', 'Training was cancelled');
  const requested = trainConfigFrom(options.config ?? {});
  await assertReplaceableOutput(options.out, MODEL_DIR_OUTPUT, options.val === undefined ? [options.train] : [options.train, options.val], { outsideFolders: true });
  const outputAtStart = await modelDirStamp(options.out);
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const data = await prepareData({
    train: options.train,
    ...validationSource(options.val, options.valSplit),
    seed: requested.seed,
    labelPattern: options.labelPattern,
    ...(requested.groupBy ? { groupBy: requested.groupBy } : {}),
    ...(options.confineTo ? { confineTo: options.confineTo } : {}),
    // Copies of an image stay on one side of a --val-split (the hashes are cached: extraction reads them again).
    hashFiles: (files) => hashFilesCached(files, cacheDir),
  });
  for (const s of data.skipped) options.onProgress?.({ type: 'skip', file: s.file, reason: s.reason });
  const caseTwins = caseOnlyLabelsNote(data.labels);
  if (caseTwins) options.onProgress?.({ type: 'warning', code: 'CASE_ONLY_LABELS', message: caseTwins });
  // prepareData hashed every listed image (hashFiles above): the duplicate check (in the head phase, over the images
  // that could be read) and a fine-tuning run's fingerprint read those hashes, not the files again.
  const sha256 = data.sha256 ?? new Map<string, string>();
  // Cross-validation needs two images (or --group-by groups) in every class: said before any feature is computed,
  // not after (481 classes took 27 s to be told one had a single image).
  // A class with no listed image at all is left to the head phase, whose message names the files it skipped and why.
  const listed = new Set(data.train.map((item) => item.label));
  if (requested.c === 'auto' && isLinearHead(requested.head) && data.labels.every((label) => listed.has(label))) {
    const index = new Map(data.labels.map((label, i) => [label, i]));
    const labels = Int32Array.from(data.train, (item) => index.get(item.label) ?? -1);
    try {
      assignFolds(labels, data.labels, foldGroups(data.train.map((item) => item.file), requested.groupBy ?? undefined, data.sha256), requested.seed);
    } catch (error) {
      throw options.valSplit ? withValSplitHint(error, data) : error;
    }
  }
  const fine = options.fineTune ? fineTuneConfigFrom(options.fineTune) : undefined;
  const backbone = await backboneFromOptions({ ...options, backbone: options.backbone ?? 'mobilenet_v2', cacheDir });
  const backboneModel = await onnxModelOf(backbone);
  if (fine) requireDynamicBatch(backboneModel, backbone.info.name);
  const config = withinModelLimits(requested, backboneModel, options.onProgress);
  const handle = featureBackbone(backbone, backboneModel, { multiScale: config.multiScale, engine: options.engine, onProgress: options.onProgress });
  options.onProgress?.({ type: 'backbone', name: handle.info.name, engine: options.engine ?? 'onnxruntime', message: `${handle.info.featureDim}-d features from ${redactUrlCredentials(handle.info.source)}${handle.info.scales ? ` at ${handle.info.scales.length} scales` : ''}` });

  const checkpointPath = options.checkpoint ?? `${resolve(options.out)}.checkpoint`;
  const fingerprint = fine ? runFingerprint({ config, fine, data, sha256, backbone: handle.info.sha256, preprocessing: preprocessingHash(handle.info.preprocessing) }) : '';
  const saved = fine && options.resume ? await loadCheckpoint(checkpointPath) : undefined;
  if (saved && saved.fingerprint !== fingerprint) {
    throw otherRunCheckpoint(checkpointPath);
  }
  if (fine && options.resume && !saved) options.onProgress?.({ type: 'info', message: `no checkpoint at ${checkpointPath}: starting from the beginning` });
  const headPhase = saved ? headPhaseFromCheckpoint(saved.extra.headPhase) : await runHeadPhase({ config, data, handle, cacheDir, signal: options.signal, onProgress: options.onProgress });

  let val = headPhase.val;
  let layers = headPhase.layers;
  let fineTune: FineTuneSummary | undefined;
  // The model is the head on `handle`'s features, unless fine-tuning (one scale, `backbone`) is kept.
  let modelHandle = handle;
  let tuned: Uint8Array | undefined;
  const skipped = [...data.skipped, ...headPhase.skipped];
  if (fine) {
    interrupted.stopCounting();
    // tfjs and the ONNX importer load only when fine-tuning.
    const { fineTuneOnHoldout } = await import('../learn/fine-tune-on-holdout.js');
    const result = await fineTuneOnHoldout({
      config,
      fine,
      data,
      cacheDir,
      headPhase,
      headHandle: handle,
      tuneHandle: backbone,
      tuneModel: backboneModel,
      checkpoint: { path: checkpointPath, fingerprint, resume: options.resume ?? false, extra: { headPhase: headPhaseToCheckpoint(headPhase) } },
      signal: options.signal,
      nativeGemm: options.nativeGemm,
      onProgress: options.onProgress,
    }).catch((error: unknown) => {
      throw resumable(error, checkpointPath);
    });
    fineTune = result.summary;
    for (const s of result.skipped) if (!skipped.some((k) => k.file === s.file)) skipped.push(s);
    if (result.model) {
      ({ head: layers, onnxBytes: tuned, val } = result.model);
      modelHandle = backbone;
    }
  }
  const modelOnnx = modelHandle === backbone ? backboneModel : await onnxModelOf(modelHandle);
  const io = modelIo(modelOnnx, modelHandle);
  // Test-time augmentation was chosen for the head on frozen features. A kept fine-tuned network was judged and
  // scored without it (on a set where mirror images mean another class, it would average every answer to a tie).
  const tta = headPhase.tta && tuned === undefined;
  const onnxBytes = tuned ?? headModelBytes(modelOnnx, modelHandle, layers, { classes: data.labels.length, tta });

  const packed = packHeadWeights(layers);
  const head = { ...headSummary(config, headPhase), tta };
  const manifest = buildManifest({ data, info: modelHandle.info, config, head, headPhase, fineTune, packed, val, onnxIO: { ...io, ...(tta ? { tta: 'mirror' as const } : {}) } });
  // The final fit and the model's assembly report no progress: a signal that came during them is honoured here,
  // before anything is written, as the CLI's "stopping at the next step" promised.
  if (options.signal?.aborted) throw new GraftError('CANCELLED', 'Training was cancelled');
  if ((await modelDirStamp(options.out)) !== outputAtStart) {
    // The last run to finish keeps its model, as if it had started last; the one whose model is replaced is told.
    options.onProgress?.({ type: 'warning', code: 'OUTPUT_CHANGED', message: `${options.out} was written by another run while this one trained; this run's model replaces it` });
  }
  const modelDir = await saveModelDir(options.out, manifest, packed.bytes, onnxBytes);
  if (fine) await Promise.all(checkpointFiles(checkpointPath).map(removeCheckpoint));
  // Counts and times say what this run did: a resumed run restored the head phase from the checkpoint, so its
  // feature counts and seconds (another process's) are not this run's.
  const headWork = saved ? { features: { computed: 0, cached: 0, backbone_s: 0 }, extractSeconds: 0, trainSeconds: 0 } : headPhase;
  const trainSeconds = headWork.trainSeconds + (fineTune ? fineTune.timings.activations_s + fineTune.timings.train_s + fineTune.timings.export_s : 0);
  return {
    model: modelDir,
    labels: data.labels,
    val,
    timings: { extract_s: roundSeconds(headWork.extractSeconds), train_s: roundSeconds(trainSeconds), total_s: roundSeconds((performance.now() - started) / 1000) },
    images: { train: headPhase.counts.train, val: headPhase.counts.val, skipped },
    data: data.source,
    features: headWork.features,
    backbone: modelHandle.info,
    head,
    selection: headPhase.selection,
    labelIssues: headPhase.labelIssues,
    ...(headPhase.bestEpoch !== undefined ? { bestEpoch: headPhase.bestEpoch } : {}),
    history: headPhase.history,
    ...(fineTune ? { fineTune } : {}),
  };
}

/** The config with test-time augmentation turned off when the backbone cannot run it, saying why. */
function withinModelLimits(config: TrainConfig, model: ModelProto, onProgress: ProgressListener | undefined): TrainConfig {
  const { noTta } = viewLimits(model);
  if (!noTta || config.tta === 'off') return config;
  onProgress?.({ type: 'info', message: `no test-time augmentation: ${noTta}` });
  return { ...config, tta: 'off' };
}

function headSummary(config: TrainConfig, phase: HeadPhase): TrainedHeadSummary {
  return {
    ...config.head,
    kind: phase.linear ? 'linear' : 'mlp',
    ...(phase.linear ? { c: phase.linear.c, trainViews: phase.linear.trainViews } : {}),
    tta: phase.tta,
  };
}

/** The head phase as a checkpoint keeps it (JSON: weights as plain arrays). */
function headPhaseToCheckpoint(phase: HeadPhase): unknown {
  const { valProbabilities: _notKept, ...rest } = phase;
  return { ...rest, layers: phase.layers.map((l) => ({ ...l, weight: Array.from(l.weight), bias: l.bias ? Array.from(l.bias) : null })) };
}

function headPhaseFromCheckpoint(value: unknown): HeadPhase {
  const phase = value as HeadPhase & { layers: (Omit<DenseLayerWeights, 'weight' | 'bias'> & { weight: number[]; bias: number[] | null })[] };
  return { ...phase, layers: phase.layers.map((l) => ({ ...l, weight: Float32Array.from(l.weight), bias: l.bias ? Float32Array.from(l.bias) : null })) };
}

/**
 * Hash of everything that decides a fine-tuning run: a checkpoint resumes only a run with the same fingerprint. The
 * images count by their bytes (sha256, cached as extraction's), not their names: an image replaced under the same
 * name is other data, and the checkpoint's head phase was trained on the old one.
 */
function runFingerprint(parts: { config: TrainConfig; fine: FineTuneConfig; data: DataSplit; sha256: ReadonlyMap<string, string>; backbone: string; preprocessing: string }): string {
  const { config, fine, data } = parts;
  const files = (list: LabelledItem[]) => list.map((i) => `${i.label}\t${i.file}\t${parts.sha256.get(i.file) ?? 'unreadable'}`);
  const json = JSON.stringify({ config, fine, labels: data.labels, train: files(data.train), val: files(data.val), backbone: parts.backbone, preprocessing: parts.preprocessing });
  return createHash('sha256').update(json).digest('hex');
}


/** Fine-tuning cancelled after writing its checkpoint: the error says how to go on from it. */
function resumable(error: unknown, checkpointPath: string): unknown {
  if (!(error instanceof GraftError) || error.code !== 'CANCELLED' || !existsSync(checkpointPath)) return error;
  return new GraftError('CANCELLED', error.message, { hint: `the run is saved in ${checkpointPath}: run again with ${optionName('resume')} to go on from its last epoch`, cause: error });
}
