import { createRequire } from 'node:module';
import type { SkippedFile } from '../data/dataset.js';
import type { BackboneInfo } from '../engine/backbone.js';
import { backboneFromOptions, type PreprocessingOverrides } from '../engine/open-backbone.js';
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
import { denseForward, foldNormalization } from './dense-layer.js';
import type { HeadConfig } from './head-config.js';
import { prepareData, type DataSplit } from './prepare-data.js';
import { trainConfigFrom, type TrainConfig } from './train-config.js';
import { trainHead, type LabelledFeatures } from './train-head.js';
import type { LabelledItem } from '../data/dataset.js';

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
  readonly onProgress?: ProgressListener;
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
}

/**
 * The whole feature-extraction path in one call: scan and split the data, extract (or fetch cached) features,
 * train the head, score it on validation, and write a model directory with one ONNX file (backbone + head).
 *
 * @example
 * const result = await train({ train: './photos', out: './model' });
 * result.val?.accuracy; // e.g. 0.95
 */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const started = performance.now();
  const config = trainConfigFrom(options.config ?? {});
  const data = await prepareData({ train: options.train, val: options.val, valSplit: options.valSplit, seed: config.seed });
  for (const s of data.skipped) options.onProgress?.({ type: 'skip', file: s.file, reason: s.reason });
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const handle = await backboneFromOptions({ ...options, backbone: options.backbone ?? 'mobilenet_v2', cacheDir });
  options.onProgress?.({ type: 'backbone', name: handle.info.name, engine: options.engine ?? 'onnxruntime', message: `${handle.info.featureDim}-d features from ${handle.info.source}` });

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
  const trainSeconds = (performance.now() - trainStarted) / 1000;
  const layers = foldNormalization(head.layers, head.normalization);
  const val = valSet.features.count ? scoreHead(layers, valSet, data.labels) : null;

  const backboneOnnx = decodeOnnxModel(await handle.onnxBytes(), handle.info.source);
  const onnxBytes = appendDenseHead(backboneOnnx, handle.onnxFeatureOutput, layers, {});
  const packed = packHeadWeights(layers);
  const manifest = buildManifest({ data, handleInfo: handle.info, config, head, packed, val, extractionSkipped: extraction.skipped.length, trainCount: trainSet.features.count, valCount: valSet.features.count, onnxIO: { input: backboneOnnx.graph?.input?.[0]?.name ?? 'input', probabilities: 'probabilities', features: handle.onnxFeatureOutput } });
  const modelDir = await saveModelDir(options.out, manifest, packed.bytes, onnxBytes);
  return {
    model: modelDir,
    labels: data.labels,
    val,
    timings: { extract_s: round(extractSeconds), train_s: round(trainSeconds), total_s: round((performance.now() - started) / 1000) },
    images: { train: trainSet.features.count, val: valSet.features.count, skipped: [...data.skipped, ...extraction.skipped] },
    features: { computed: extraction.computed, cached: extraction.cached, backbone_s: round(extraction.backboneSeconds) },
    backbone: handle.info,
    head: config.head,
    bestEpoch: head.bestEpoch,
    history: head.history,
  };
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

function buildManifest(parts: {
  data: DataSplit;
  handleInfo: BackboneInfo;
  config: TrainConfig;
  head: Awaited<ReturnType<typeof trainHead>>;
  packed: ReturnType<typeof packHeadWeights>;
  val: TrainResult['val'];
  extractionSkipped: number;
  trainCount: number;
  valCount: number;
  onnxIO: ModelManifest['onnx'];
}): ModelManifest {
  const { data, handleInfo: info, config, head, packed, val } = parts;
  return {
    format: 'graft-model',
    version: 1,
    labels: data.labels,
    preprocessing: info.preprocessing,
    backbone: { name: info.name, source: info.source, format: info.format, sha256: info.sha256, featureDim: info.featureDim, featureOutput: info.featureOutput },
    head: { ...config.head, tensors: packed.tensors, activations: head.layers.map((l) => l.activation) },
    training: {
      ...config,
      data: data.source,
      images: { train: parts.trainCount, val: parts.valCount, skipped: data.skipped.length + parts.extractionSkipped },
      bestEpoch: head.bestEpoch,
      stoppedEarly: head.stoppedEarly,
      backend: head.backend,
    },
    metrics: { val: val ? { accuracy: val.accuracy, loss: val.loss, ...(val.top5 === undefined ? {} : { top5: val.top5 }) } : null, history: head.history },
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
