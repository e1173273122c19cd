import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import type { SkippedFile } from '../data/dataset.js';
import type { BackboneInfo } from '../engine/backbone.js';
import { backboneFromOptions, type BackboneHandle, type PreprocessingOverrides } from '../engine/open-backbone.js';
import { GraftError } from '../errors.js';
import { extractFeatures } from '../features/extract-features.js';
import { defaultCacheDir } from '../features/default-cache-dir.js';
import { FeatureStore } from '../features/feature-store.js';
import { FileHashIndex } from '../features/file-hash-index.js';
import { appendDenseHead } from '../formats/onnx/append-head.js';
import { decodeOnnxModel } from '../formats/onnx/onnx-model.js';
import { evaluatePredictions, type EvaluationReport } from '../metrics/classification.js';
import { HEAD_WEIGHTS_FILE, ONNX_FILE, type ModelManifest } from '../model/manifest.js';
import { packHeadWeights, saveModelDir } from '../model/save-model.js';
import type { EpochLogs, ProgressListener } from '../progress.js';
import { denseForward, foldNormalization, type DenseLayerWeights } from './dense-layer.js';
import type { HeadConfig } from './head-config.js';
import { prepareData, type DataSplit } from './prepare-data.js';
import { trainConfigFrom, type TrainConfig } from './train-config.js';
import { trainHead, type LabelledFeatures } from './train-head.js';
import type { LabelledItem } from '../data/dataset.js';
import { loadCheckpoint, removeCheckpoint } from './checkpoint.js';
import { fineTuneConfigFrom, type FineTuneConfig } from './fine-tune-config.js';
import { fineTunePhase, type FineTuneSummary } from './fine-tune.js';
import { preprocessingHash } from '../engine/preprocessing.js';

export interface TrainOptions {
  /** Folder with one sub-folder per class (or with train/ and val/ inside), or a CSV of path,label. */
  readonly train: string;
  /** Validation folder or CSV. Default: the dataset's own val/ folder, else a stratified 20% split. */
  readonly val?: string;
  /** Fraction of the training data held out when there is no validation folder; 0 = none. */
  readonly valSplit?: number;
  /** Catalogue name, URL or path. Defaults to `mobilenet_v2`. */
  readonly backbone?: string;
  /** Where the model directory is written. */
  readonly out: string;
  readonly cacheDir?: string;
  readonly offline?: boolean;
  readonly overrides?: PreprocessingOverrides;
  readonly featureOutput?: string;
  /** Where a TF.js backbone runs (see OpenBackboneOptions.engine). Defaults to onnxruntime. */
  readonly engine?: 'onnxruntime' | 'tfjs';
  /** Training hyper-parameters; anything left out takes the measured default (DEFAULT_TRAIN). */
  readonly config?: Partial<Omit<TrainConfig, 'head' | 'version'>> & { head?: Partial<HeadConfig> };
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
}

/** What `graft train --json` prints (snake_case keys are part of the JSON contract). */
export interface TrainResult {
  readonly model: string;
  readonly labels: string[];
  readonly val: (Pick<EvaluationReport, 'accuracy' | 'top5' | 'perClass' | 'macroF1'> & { loss: number; count: number }) | null;
  readonly timings: { extract_s: number; train_s: number; total_s: number };
  readonly images: { train: number; val: number; skipped: SkippedFile[] };
  readonly features: { computed: number; cached: number; backbone_s: number };
  readonly backbone: BackboneInfo;
  readonly head: HeadConfig;
  readonly bestEpoch: number;
  readonly history: EpochLogs[];
  /** Present when the run fine-tuned the backbone; `val` above then scores the fine-tuned model. */
  readonly fineTune?: FineTuneSummary;
}

/** The head phase's outcome, kept in a fine-tuning checkpoint so a resumed run need not redo it. */
export interface HeadPhase {
  readonly layers: DenseLayerWeights[];
  readonly history: EpochLogs[];
  readonly bestEpoch: number;
  readonly stoppedEarly: boolean;
  readonly backend: string;
  readonly val: TrainResult['val'];
  readonly features: TrainResult['features'];
  readonly skipped: SkippedFile[];
  readonly counts: { readonly train: number; readonly val: number };
  readonly extractSeconds: number;
  readonly trainSeconds: number;
}

/**
 * The whole feature-extraction path in one call: scan and split the data, extract (or fetch cached) features,
 * train the head, score it on validation, and write a model directory with one ONNX file (backbone + head).
 *
 * @example
 * const result = await train({ train: './photos', out: './model' });
 * result.val?.accuracy; // e.g. 0.95
 */
export async function train(trainOptions: TrainOptions): Promise<TrainResult> {
  const started = performance.now();
  const options: TrainOptions = { ...trainOptions, onProgress: abortable(trainOptions.onProgress, trainOptions.signal) };
  if (options.signal?.aborted) throw new GraftError('CANCELLED', 'Training was cancelled');
  const config = trainConfigFrom(options.config ?? {});
  const data = await prepareData({ train: options.train, val: options.val, valSplit: options.valSplit, seed: config.seed });
  for (const s of data.skipped) options.onProgress?.({ type: 'skip', file: s.file, reason: s.reason });
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const handle = await backboneFromOptions({ ...options, backbone: options.backbone ?? 'mobilenet_v2', cacheDir });
  options.onProgress?.({ type: 'backbone', name: handle.info.name, engine: options.engine ?? 'onnxruntime', message: `${handle.info.featureDim}-d features from ${handle.info.source}` });

  const fine = options.fineTune ? fineTuneConfigFrom(options.fineTune) : undefined;
  const checkpointPath = options.checkpoint ?? `${resolve(options.out)}.checkpoint`;
  const fingerprint = fine ? runFingerprint({ config, fine, data, backbone: handle.info.sha256, preprocessing: preprocessingHash(handle.info.preprocessing) }) : '';
  const saved = fine && options.resume ? await loadCheckpoint(checkpointPath) : undefined;
  if (saved && saved.fingerprint !== fingerprint) {
    throw new GraftError('INVALID_CHECKPOINT', `Checkpoint ${checkpointPath} belongs to a different run (other data, backbone or options)`, {
      hint: 'run without --resume to start over, or resume with the options of the interrupted run',
    });
  }
  if (fine && options.resume && !saved) options.onProgress?.({ type: 'info', message: `no checkpoint at ${checkpointPath}: starting from the beginning` });
  const headPhase = saved ? (saved.extra.headPhase as HeadPhase) : await trainHeadPhase(options, config, data, handle, cacheDir);
  const headLayers = saved ? headPhase.layers.map((l) => ({ ...l, weight: new Float32Array(l.inputDim * l.outputDim), bias: new Float32Array(l.outputDim) })) : headPhase.layers;

  let val = headPhase.val;
  let layers = headLayers;
  let onnxBytes: Uint8Array;
  let fineTune: FineTuneSummary | undefined;
  const skipped = [...data.skipped, ...headPhase.skipped];
  const backboneOnnx = decodeOnnxModel(await handle.onnxBytes(), handle.info.source);
  if (fine) {
    const index = (items: LabelledItem[]) => ({ files: items.map((i) => i.file), labels: Int32Array.from(items, (i) => data.labels.indexOf(i.label)) });
    const phase = await fineTunePhase({
      handle,
      model: backboneOnnx,
      cacheDir,
      train: index(data.train),
      val: index(data.val),
      numClasses: data.labels.length,
      head: headLayers,
      headDropout: config.head.dropout,
      config: fine,
      seed: config.seed,
      checkpoint: { path: checkpointPath, fingerprint, resume: options.resume ?? false, extra: { headPhase: { ...headPhase, layers: headPhase.layers.map(shapeOnly) } } },
      onProgress: options.onProgress,
    });
    fineTune = { ...phase.summary, headOnly: headPhase.val ? { accuracy: headPhase.val.accuracy, loss: headPhase.val.loss } : null };
    layers = phase.head;
    onnxBytes = phase.onnxBytes;
    for (const s of phase.skipped) if (!skipped.some((k) => k.file === s.file)) skipped.push(s);
    val = phase.val ? scoreProbabilities(phase.val, data.labels) : null;
  } else {
    onnxBytes = appendDenseHead(backboneOnnx, handle.onnxFeatureOutput, layers, {});
  }

  const packed = packHeadWeights(layers);
  const manifest = buildManifest({ data, handleInfo: handle.info, config, headPhase, fineTune, packed, val, onnxIO: { input: backboneOnnx.graph?.input?.[0]?.name ?? 'input', probabilities: 'probabilities', features: handle.onnxFeatureOutput } });
  const modelDir = await saveModelDir(options.out, manifest, packed.bytes, onnxBytes);
  if (fine) await removeCheckpoint(checkpointPath);
  const trainSeconds = headPhase.trainSeconds + (fineTune ? fineTune.timings.activations_s + fineTune.timings.train_s + fineTune.timings.export_s : 0);
  return {
    model: modelDir,
    labels: data.labels,
    val,
    timings: { extract_s: round(headPhase.extractSeconds), train_s: round(trainSeconds), total_s: round((performance.now() - started) / 1000) },
    images: { train: headPhase.counts.train, val: headPhase.counts.val, skipped },
    features: headPhase.features,
    backbone: handle.info,
    head: config.head,
    bestEpoch: headPhase.bestEpoch,
    history: headPhase.history,
    ...(fineTune ? { fineTune } : {}),
  };
}

/** Extracts (or reads cached) features and trains the head on them: the feature-extraction path, and fine-tuning's first phase. */
async function trainHeadPhase(options: TrainOptions, config: TrainConfig, data: DataSplit, handle: BackboneHandle, cacheDir: string): Promise<HeadPhase> {
  const started = performance.now();
  const store = FeatureStore.open(cacheDir);
  const fileIndex = FileHashIndex.open(cacheDir);
  let extraction;
  try {
    const files = [...data.train, ...data.val].map((item) => item.file);
    extraction = await extractFeatures(files, handle, store, { fileIndex, onProgress: options.onProgress });
  } finally {
    store.close();
    fileIndex.close();
  }
  const extractSeconds = (performance.now() - started) / 1000;
  const toMatrix = (items: LabelledItem[], offset: number): LabelledFeatures & { files: string[] } => {
    const rows: Float32Array[] = [];
    const labels: number[] = [];
    const files: string[] = [];
    items.forEach((item, i) => {
      const v = extraction.vectors[offset + i];
      if (!v) return;
      rows.push(v);
      labels.push(data.labels.indexOf(item.label));
      files.push(item.file);
    });
    const dim = handle.info.featureDim;
    const matrix = new Float32Array(rows.length * dim);
    rows.forEach((r, i) => matrix.set(r, i * dim));
    return { features: { data: matrix, count: rows.length, dim }, labels: Int32Array.from(labels), files };
  };
  const trainSet = toMatrix(data.train, 0);
  const valSet = toMatrix(data.val, data.train.length);

  const trainStarted = performance.now();
  const head = await trainHead(trainSet, valSet.features.count ? valSet : undefined, data.labels.length, config, options.onProgress);
  const layers = foldNormalization(head.layers, head.normalization);
  return {
    layers,
    history: head.history,
    bestEpoch: head.bestEpoch,
    stoppedEarly: head.stoppedEarly,
    backend: head.backend,
    val: valSet.features.count ? scoreHead(layers, valSet, data.labels) : null,
    features: { computed: extraction.computed, cached: extraction.cached, backbone_s: round(extraction.backboneSeconds) },
    skipped: extraction.skipped,
    counts: { train: trainSet.features.count, val: valSet.features.count },
    extractSeconds,
    trainSeconds: (performance.now() - trainStarted) / 1000,
  };
}

/**
 * Every loop reports progress at least once per batch, so checking the signal there stops a run within a batch
 * without threading it through each layer of the code.
 */
function abortable(listener: ProgressListener | undefined, signal: AbortSignal | undefined): ProgressListener | undefined {
  if (!signal) return listener;
  return (event) => {
    if (signal.aborted) throw new GraftError('CANCELLED', 'Training was cancelled');
    listener?.(event);
  };
}

/** A layer's shape without its weights (the checkpoint holds the weights themselves). */
function shapeOnly(layer: DenseLayerWeights): DenseLayerWeights {
  return { ...layer, weight: new Float32Array(0), bias: null };
}

/** Hash of everything that decides a fine-tuning run: a checkpoint resumes only a run with the same fingerprint. */
function runFingerprint(parts: { config: TrainConfig; fine: FineTuneConfig; data: DataSplit; backbone: string; preprocessing: string }): string {
  const { config, fine, data } = parts;
  const files = (items: LabelledItem[]) => items.map((i) => `${i.label}\t${i.file}`);
  const json = JSON.stringify({ config, fine, labels: data.labels, train: files(data.train), val: files(data.val), backbone: parts.backbone, preprocessing: parts.preprocessing });
  return createHash('sha256').update(json).digest('hex');
}

/** Validation metrics from class probabilities (row per image). */
function scoreProbabilities(set: { probabilities: Float32Array; labels: Int32Array; files: string[] }, labels: string[]): NonNullable<TrainResult['val']> {
  const k = labels.length;
  let loss = 0;
  for (let i = 0; i < set.labels.length; i++) loss -= Math.log(Math.max(set.probabilities[i * k + set.labels[i]!]!, 1e-12));
  const report = evaluatePredictions({ labels, trueIndex: set.labels, probabilities: set.probabilities, files: set.files });
  return { accuracy: report.accuracy, top5: report.top5, perClass: report.perClass, macroF1: report.macroF1, loss: loss / Math.max(set.labels.length, 1), count: set.labels.length };
}

/** Validation metrics of the folded head on cached features (the same numbers the ONNX model gives, to ~1e-6). */
function scoreHead(layers: ReturnType<typeof foldNormalization>, set: LabelledFeatures & { files: string[] }, labels: string[]): NonNullable<TrainResult['val']> {
  const { count, dim, data } = set.features;
  const k = labels.length;
  const probabilities = new Float32Array(count * k);
  let loss = 0;
  for (let i = 0; i < count; i++) {
    const p = denseForward(layers, data.subarray(i * dim, (i + 1) * dim));
    probabilities.set(p, i * k);
    loss -= Math.log(Math.max(p[set.labels[i]!]!, 1e-12));
  }
  const report = evaluatePredictions({ labels, trueIndex: set.labels, probabilities, files: set.files });
  return { accuracy: report.accuracy, top5: report.top5, perClass: report.perClass, macroF1: report.macroF1, loss: loss / count, count };
}

/** The model manifest of a finished run (also used by trainFromFeatures, which trains from shard stores). */
export function buildManifest(parts: {
  data: DataSplit;
  handleInfo: BackboneInfo;
  config: TrainConfig;
  headPhase: HeadPhase;
  fineTune: FineTuneSummary | undefined;
  packed: ReturnType<typeof packHeadWeights>;
  val: TrainResult['val'];
  onnxIO: ModelManifest['onnx'];
}): ModelManifest {
  const { data, handleInfo: info, config, headPhase, fineTune, packed, val } = parts;
  const history = [...headPhase.history, ...(fineTune?.history ?? [])];
  return {
    format: 'graft-model',
    version: 1,
    labels: data.labels,
    preprocessing: info.preprocessing,
    backbone: { name: info.name, source: info.source, format: info.format, sha256: info.sha256, featureDim: info.featureDim, featureOutput: info.featureOutput },
    head: { ...config.head, tensors: packed.tensors, activations: headPhase.layers.map((l) => l.activation) },
    training: {
      ...config,
      data: data.source,
      images: { train: headPhase.counts.train, val: headPhase.counts.val, skipped: data.skipped.length + headPhase.skipped.length },
      bestEpoch: headPhase.bestEpoch,
      stoppedEarly: headPhase.stoppedEarly,
      backend: headPhase.backend,
      ...(fineTune
        ? {
            fineTune: {
              ...fineTune.config,
              cut: fineTune.cut,
              firstEpoch: headPhase.history.length + 1,
              bestEpoch: fineTune.bestEpoch,
              stoppedEarly: fineTune.stoppedEarly,
              exportCheck: fineTune.exportCheck,
            },
          }
        : {}),
    },
    metrics: { val: val ? { accuracy: val.accuracy, loss: val.loss, ...(val.top5 === undefined ? {} : { top5: val.top5 }) } : null, history },
    files: { onnx: ONNX_FILE, headWeights: HEAD_WEIGHTS_FILE },
    onnx: parts.onnxIO,
    created: new Date().toISOString(),
    versions: versions(),
  };
}

const require = createRequire(import.meta.url);
/** Versions of Graft and the engines that made a model, for the manifest. */
export function versions(): Record<string, string> {
  const v = (name: string): string => {
    try {
      return (require(`${name}/package.json`) as { version: string }).version;
    } catch {
      return 'unknown';
    }
  };
  return { graft: (require('../../package.json') as { version: string }).version, node: process.versions.node, 'onnxruntime-node': v('onnxruntime-node'), '@tensorflow/tfjs': v('@tensorflow/tfjs'), sharp: v('sharp') };
}

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
