import { resolve } from 'node:path';
import { caseOnlyLabelsNote } from '../data/scan-folder.js';
import { refuseUnknownOptions } from './known-options.js';
import { abortable } from './abortable.js';
import { assertReplaceableOutput, MODEL_DIR_OUTPUT } from '../core/replaceable-output.js';
import type { LabelledItem, SkippedFile } from '../data/dataset.js';
import { stratifiedSplit } from '../data/split.js';
import { backboneFromOptions } from '../engine/open-backbone.js';
import { findEntryBySha256 } from '../hub/catalogue.js';
import { preprocessingHash, type Preprocessing } from '../core/preprocessing.js';
import { GraftError } from '../core/errors.js';
import { defaultCacheDir } from '../core/cache-dir.js';
import { materialiseRows } from '../features/feature-rows.js';
import { spillRows } from '../features/spill-rows.js';
import { fitLinearHeadStreamed } from '../learn/select/fit-linear-head-streamed.js';
import { isLinearHead } from '../learn/head-config.js';
import { ShardRows, type ShardRowSelection } from '../features/shard-rows.js';
import { openShardSet, type ShardSet } from '../features/shard-set.js';
import { appendDenseHead } from '../onnx/append-head.js';
import { evaluatePredictions } from '../metrics/classification.js';
import { packHeadWeights, saveModelDir } from '../model/save-model.js';
import type { ProgressListener } from '../core/progress.js';
import { denseForward, type DenseLayerWeights } from '../core/dense-layer.js';
import { trainConfigFrom, type TrainConfig } from '../learn/train-config.js';
import { groupKeys } from '../learn/select/folds.js';
import { checkValSplit, foldGroups, valSplitGroups } from '../learn/prepare-data.js';
import { optionExample, optionName } from '../core/option-name.js';
import type { TrainOptions, TrainResult } from './train.js';
import { classesWithoutRows, fitHeadOn, fitMlp, linearFitted, type FittedHead as FittedOnRows, type HeadPhase } from '../learn/head-phase.js';
import { buildManifest } from './train-manifest.js';
import { featureBackbone } from '../engine/feature-backbone.js';
import { onnxModelOf } from '../engine/onnx-model-of.js';
import { roundSeconds } from '../core/round-seconds.js';

/** Where models come from and how the backbone runs: as {@link train} takes them. */
type BackboneSettings = Pick<TrainOptions, 'cacheDir' | 'offline' | 'modelDirs' | 'mirrors' | 'overrides' | 'featureOutput' | 'engine'>;

/** Options for {@link trainFromFeatures}. */
export interface TrainFromFeaturesOptions extends BackboneSettings {
  /** A store folder written by `graft embed --store` (every shard complete). */
  readonly features: string;
  /** Where the model directory is written. */
  readonly out: string;
  /**
   * The backbone the features were made with (catalogue name, path or URL), needed to write the model's ONNX file.
   * Defaults to the source the shards recorded; another model is refused.
   */
  readonly backbone?: string;
  /**
   * Held-out fraction for a store of a dataset without its own val folder (stratified, seeded by config.seed, as
   * `graft train` splits a folder). Defaults to 0: no validation, as `train` on a folder. Refused for a store that has a val part.
   */
  readonly valSplit?: number;
  readonly config?: TrainOptions['config'];
  /**
   * Most training rows the head is fitted on in memory. A store with more is copied once to a local file (rows x dim
   * x 4 bytes in `workDir`) and the linear head is fitted streamed from it: C chosen on a stratified sample of
   * `selectionRows`, then refitted on every row (see fitLinearHeadStreamed). Defaults to what 256 MiB of floats holds
   * (52 428 rows of 1280).
   */
  readonly inMemoryRows?: number;
  /** Rows the cross-validation samples when the head is fitted streamed. Defaults to 20 000. */
  readonly selectionRows?: number;
  /** Folder for the streamed fit's row file. Defaults to the OS temporary folder. */
  readonly workDir?: string;
  readonly onProgress?: ProgressListener;
  readonly signal?: AbortSignal;
}

/** Bytes of training rows fitted in memory by default (see TrainFromFeaturesOptions.inMemoryRows). */
const IN_MEMORY_BYTES = 256 * 1024 * 1024;

/** Every option {@link trainFromFeatures} reads (the compiler holds it to TrainFromFeaturesOptions). */
const TRAIN_FROM_FEATURES_OPTIONS: Record<keyof TrainFromFeaturesOptions, true> = {
  features: true, out: true, backbone: true, valSplit: true, config: true, inMemoryRows: true, selectionRows: true, workDir: true, onProgress: true, signal: true,
  cacheDir: true, offline: true, modelDirs: true, mirrors: true, overrides: true, featureOutput: true, engine: true,
};

/**
 * Trains a head on the features of a shard store (written by `graft embed --store --shard i/n` on one machine or many)
 * and writes a model directory, as {@link train} does from images. No image is read and the backbone never runs; it is
 * only loaded to build the model's ONNX file.
 *
 * Rows are read in the order `train` reads a class-folder dataset and split the same way, so with the same options the
 * head's weights equal those of a single-process `graft train` on that folder run with mirror rows and test-time
 * augmentation off (`config: { mirror: 'off', tta: 'off' }`): shards hold one vector per image, so those choices,
 * which a folder run may make, are not among this one's candidates.
 *
 * @throws GraftError `INVALID_DATASET` when the store is incomplete or inconsistent (see openShardSet);
 *   `INVALID_CONFIG` when --backbone is not the model the features were made with, or for a bad --val-split.
 * @example
 * const result = await trainFromFeatures({ features: '/mnt/features', out: './model' });
 */
export async function trainFromFeatures(options: TrainFromFeaturesOptions): Promise<TrainResult> {
  const started = performance.now();
  refuseUnknownOptions('trainFromFeatures', options, TRAIN_FROM_FEATURES_OPTIONS);
  const onProgress = abortable(options.onProgress, options.signal);
  let config = trainConfigFrom(options.config ?? {});
  // A store holds each image's plain view only: no corner crops to train on, no mirror images for rows or TTA.
  const fromStore = `with ${optionName('features')}`;
  if (config.crops === 'on') throw new GraftError('INVALID_CONFIG', `${optionExample('crops', 'on')} cannot be used ${fromStore}: a feature store holds no corner crops`, { hint: 'leave crops out, or train on the image folder' });
  for (const option of ['mirror', 'tta'] as const) {
    if (config[option] === 'on') throw new GraftError('INVALID_CONFIG', `${optionExample(option, 'on')} cannot be used ${fromStore}: a feature store holds no mirror images`, { hint: `leave ${option} out (the store's rows train plain, without test-time augmentation), or train on the image folder` });
  }
  if (config.crops === 'auto') onProgress?.({ type: 'warning', code: 'CROP_ROWS_SKIPPED', message: `${optionExample('crops', 'auto')} skipped: a feature store holds no corner crops` });
  for (const [option, value, least] of [['inMemoryRows', options.inMemoryRows, 0], ['selectionRows', options.selectionRows, 100]] as const) {
    if (value !== undefined && !(Number.isInteger(value) && value >= least)) {
      throw new GraftError('INVALID_CONFIG', `${optionName(option)} must be an integer of at least ${least}. Received: ${value}`, { hint: `e.g. ${optionExample(option, 20000)}` });
    }
  }
  await assertReplaceableOutput(options.out, MODEL_DIR_OUTPUT, [options.features]);
  const set = openShardSet(options.features);
  try {
    const { meta } = set;
    const cacheDir = options.cacheDir ?? defaultCacheDir();
    // A catalogue model the store recorded by its download address is found by its name (the cache, the model
    // folders) first: an air-gapped cluster has it cached under the name, and online it is not downloaded again.
    const recorded = meta.model.source;
    const byName = /^https?:\/\//i.test(recorded) ? findEntryBySha256(meta.model.sha256)?.name : undefined;
    const source = await backboneFromOptions({
      backbone: options.backbone ?? byName ?? recorded,
      cacheDir,
      offline: options.offline,
      modelDirs: options.modelDirs,
      mirrors: options.mirrors,
      // The pixel scaling cannot be read off a model file; the store recorded the one its features were made with.
      overrides: { scale: meta.model.preprocessing.scale, ...options.overrides },
      featureOutput: options.featureOutput,
      engine: options.engine,
      onProgress,
    }).catch((error: unknown) => {
      // The store names the model it was made with; moved since, it is found again by --backbone.
      if (options.backbone !== undefined || !(error instanceof GraftError) || (error.code !== 'MODEL_NOT_FOUND' && error.code !== 'OFFLINE')) throw error;
      throw new GraftError(error.code, `${error.message} (the backbone ${set.dir} was made with)`, {
        hint: `pass ${optionName('backbone')} with where that model is now (the same file: sha256 ${meta.model.sha256.slice(0, 12)}...)`,
        cause: error,
      });
    });
    // The view of the backbone `graft embed` stored (two scales by default), so the identity check below compares like with like.
    const sourceModel = await onnxModelOf(source);
    let handle = featureBackbone(source, sourceModel, { multiScale: config.multiScale, engine: options.engine, onProgress });
    const isStoreView = (h: typeof handle): boolean => h.info.sha256 === meta.model.sha256 && preprocessingHash(h.info.preprocessing) === meta.model.preprocessingHash;
    // A store embedded with --no-multi-scale (or with it, when this run says --no-multi-scale) is the same model
    // seen at one scale or two: take the store's, unless the flag was given.
    if (!isStoreView(handle) && handle.info.sha256 === meta.model.sha256 && options.config?.multiScale === undefined) {
      const other = featureBackbone(source, sourceModel, { multiScale: !config.multiScale, engine: options.engine, onProgress });
      if (isStoreView(other)) {
        handle = other;
        config = { ...config, multiScale: !config.multiScale };
      }
    }
    if (!isStoreView(handle)) {
      if (handle.info.sha256 === meta.model.sha256) {
        throw new GraftError('INVALID_CONFIG', `The features in ${set.dir} were made with ${meta.model.source} under other preprocessing than this run's (${describeView(meta.model)} against ${describeView(handle.info)}).`, {
          hint: `pass the settings the store was embedded with (${optionName('multiScale')}, overrides such as ${optionName('overrides.inputSize')}), or leave them out`,
        });
      }
      throw new GraftError(
        'INVALID_CONFIG',
        `The backbone ${handle.info.source} (sha256 ${handle.info.sha256.slice(0, 12)}...) is not the one the features in ${set.dir} were made with: ` +
          `${meta.model.source} (sha256 ${meta.model.sha256.slice(0, 12)}..., preprocessing ${meta.model.preprocessingHash}).`,
        { hint: `pass ${optionName('backbone')} with that model (the same file, catalogue name or URL), or embed the data again with this one into another store (graft embed --store)` },
      );
    }
    const split = selections(set, options.valSplit, config.seed, config.groupBy);
    const trainRows = new ShardRows(set, split.train);
    const valRows = split.val ? new ShardRows(set, split.val) : undefined;
    if (trainRows.count === 0) throw new GraftError('INVALID_DATASET', `No training rows in ${set.dir}: every image was unreadable or held out`);
    onProgress?.({ type: 'info', message: `${set.dir}: ${set.stores.length} shard${set.stores.length === 1 ? '' : 's'}, ${trainRows.count} train and ${valRows?.count ?? 0} val rows of ${trainRows.dim} floats` });
    const caseTwins = caseOnlyLabelsNote(meta.dataset.labels);
    if (caseTwins) onProgress?.({ type: 'warning', code: 'CASE_ONLY_LABELS', message: caseTwins });

    const fitted = await fitHead(trainRows, config, { ...options, onProgress, storeDir: set.dir });
    const val = valRows && valRows.count > 0 ? scoreRows(fitted.layers, valRows) : null;
    const skipped = unreadableRows(set);
    const headPhase: HeadPhase = {
      ...fitted,
      val,
      features: { computed: 0, cached: trainRows.count + (valRows?.count ?? 0), backbone_s: 0 },
      skipped,
      counts: { train: trainRows.count, val: valRows?.count ?? 0 },
      extractSeconds: fitted.readSeconds,
      trainSeconds: fitted.trainSeconds,
    };
    const backboneOnnx = await onnxModelOf(handle);
    const onnxBytes = appendDenseHead(backboneOnnx, handle.onnxFeatureOutput, fitted.layers, {});
    const packed = packHeadWeights(fitted.layers);
    const head = { ...config.head, kind: fitted.linear ? ('linear' as const) : ('mlp' as const), ...(fitted.linear ?? {}), tta: false };
    const dataSource = { train: set.dir, val: split.valSource, valSplit: split.valSplit };
    const manifest = buildManifest({
      data: { labels: [...meta.dataset.labels], train: [], val: [], skipped: [], source: dataSource },
      info: handle.info,
      config,
      head,
      headPhase,
      fineTune: undefined,
      packed,
      val,
      onnxIO: { input: backboneOnnx.graph?.input?.[0]?.name ?? 'input', probabilities: 'probabilities', features: handle.onnxFeatureOutput },
    });
    if (options.signal?.aborted) throw new GraftError('CANCELLED', 'Training was cancelled');
    const modelDir = await saveModelDir(options.out, manifest, packed.bytes, onnxBytes);
    return {
      model: modelDir,
      labels: [...meta.dataset.labels],
      val,
      timings: { extract_s: roundSeconds(fitted.readSeconds), train_s: roundSeconds(fitted.trainSeconds), total_s: roundSeconds((performance.now() - started) / 1000) },
      images: { train: trainRows.count, val: valRows?.count ?? 0, skipped },
      data: dataSource,
      features: headPhase.features,
      backbone: handle.info,
      head,
      selection: fitted.selection,
      labelIssues: fitted.labelIssues,
      ...(fitted.bestEpoch !== undefined ? { bestEpoch: fitted.bestEpoch } : {}),
      history: fitted.history,
    };
  } finally {
    set.close();
  }
}

interface FittedHead extends FittedOnRows {
  /** Seconds spent reading rows from the store, and fitting. */
  readonly readSeconds: number;
  readonly trainSeconds: number;
}

/**
 * The head fit on the store's rows: the linear head (cross-validated, as `graft train` fits it; a store holds one view
 * per image, so no mirror rows or test-time augmentation) or the MLP. Up to `inMemoryRows` rows are read into memory
 * once, so the solver's passes cost no store reads; more are fitted streamed (see fitStreamed).
 */
async function fitHead(train: ShardRows, config: TrainConfig, options: Pick<TrainFromFeaturesOptions, 'inMemoryRows' | 'selectionRows' | 'workDir' | 'onProgress' | 'signal'> & { readonly storeDir: string }): Promise<FittedHead> {
  const inMemoryRows = options.inMemoryRows ?? Math.floor(IN_MEMORY_BYTES / (4 * train.dim));
  if (train.count > inMemoryRows) return fitStreamed(train, config, options);
  const readStarted = performance.now();
  const trainMatrix = materialiseRows(train);
  requireRowsOfEveryClass(trainMatrix.labels, train.labels, options.storeDir);
  const files: string[] = [];
  const sha256 = new Map<string, string>();
  train.forEachFile((file) => {
    files.push(file.path);
    sha256.set(file.path, file.sha256);
  });
  const readSeconds = (performance.now() - readStarted) / 1000;
  const trainStarted = performance.now();
  const set = { plain: { data: trainMatrix.data, count: train.count, dim: train.dim }, mirrored: undefined, labels: trainMatrix.labels, files };
  // A store holds one view per image: no mirror rows, no test-time augmentation.
  const fitted = await fitHeadOn(set, foldGroups(files, config.groupBy ?? undefined, sha256, options.onProgress), { config: { ...config, mirror: 'off', tta: 'off' }, classNames: train.labels, onProgress: options.onProgress });
  return { ...fitted, readSeconds, trainSeconds: (performance.now() - trainStarted) / 1000 };
}

/**
 * The head on more rows than memory holds: the rows are copied once from the shards to a flat local file (a pass
 * through SQLite, row by row, costs about what the copy does; the file is then read at page-cache speed). The linear head is then fitted by fitLinearHeadStreamed; the MLP trains on
 * batches gathered from the file. Process memory stays flat as rows grow: a block or batch of rows, plus a few numbers
 * per row (labels, weights, the last pass's probabilities).
 */
async function fitStreamed(train: ShardRows, config: TrainConfig, options: Pick<TrainFromFeaturesOptions, 'selectionRows' | 'workDir' | 'onProgress' | 'signal'> & { readonly storeDir: string }): Promise<FittedHead> {
  const { onProgress } = options;
  const readStarted = performance.now();
  const step = Math.max(1, Math.ceil(train.count / 10));
  onProgress?.({ type: 'info', message: `${train.count} training rows (${gib(train.count * train.dim * 4)}) are more than memory is given: copying them to a local file to fit the head streamed` });
  const spilled = spillRows(train, { workDir: options.workDir, onRows: (n) => n % step < 1024 && onProgress?.({ type: 'info', message: `read ${n} of ${train.count} rows` }) });
  try {
    requireRowsOfEveryClass(spilled.labels, train.labels, options.storeDir);
    const readSeconds = (performance.now() - readStarted) / 1000;
    onProgress?.({ type: 'info', message: `copied ${train.count} rows to ${spilled.file} in ${readSeconds.toFixed(1)} s` });
    const trainStarted = performance.now();
    if (!isLinearHead(config.head)) {
      const groups = config.groupBy ? groupKeys(spilled.filesOf(Array.from(spilled.labels.keys())), config.groupBy, onProgress) : undefined;
      const fitted = await fitMlp(spilled, spilled.labels, groups, { config: { ...config, tta: 'off' }, classNames: train.labels, signal: options.signal, onProgress });
      return { ...fitted, readSeconds, trainSeconds: (performance.now() - trainStarted) / 1000 };
    }
    const head = await fitLinearHeadStreamed(spilled, {
      c: config.c,
      classWeights: config.classWeights,
      maxFolds: config.folds,
      seed: config.seed,
      selectionRows: options.selectionRows,
      groupBy: config.groupBy ?? undefined,
      signal: options.signal,
      onProgress,
    });
    return { ...linearFitted(head), readSeconds, trainSeconds: (performance.now() - trainStarted) / 1000 };
  } finally {
    spilled.close();
  }
}

/**
 * Refuses a class with no training row: the model would have an output no image taught (`graft train` on the folder
 * refuses it alike). Its images were all unreadable, or a Parquet file imported had none of its train rows.
 */
function requireRowsOfEveryClass(labels: Int32Array, classNames: readonly string[], storeDir: string): void {
  const empty = classesWithoutRows(classNames, labels);
  if (empty.length === 0) return;
  throw new GraftError('INVALID_DATASET', `No training row of class ${empty.map((c) => JSON.stringify(c)).join(', ')} in the store ${storeDir}: its images could not be read, or none is in the training part`, {
    hint: `graft features status ${storeDir} lists the files skipped; add readable images to the class and embed again, or remove the class's folder and embed again`,
  });
}

function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

/**
 * Which rows train and which validate: the store's own val part; else a stratified split made here as `train` makes
 * it, from the training part alone on a store with a val part (as `graft train <folder> --val-split` leaves val/ aside).
 */
function selections(set: ShardSet, valSplit: number | undefined, seed: number, groupBy: string | null): { train: ShardRowSelection; val: ShardRowSelection | undefined; valSource: string | null; valSplit: number | null } {
  const isSplit = set.meta.dataset.layout === 'split';
  if (isSplit && valSplit === undefined) return { train: { part: 0 }, val: { part: 1 }, valSource: `${set.dir} (val part)`, valSplit: null };
  const part: ShardRowSelection = isSplit ? { part: 0 } : {};
  const fraction = checkValSplit(valSplit ?? 0);
  if (fraction === 0) return { train: part, val: undefined, valSource: null, valSplit: 0 };
  // The split is made over every listed image, unreadable ones included, as `train` splits before it decodes; paths
  // are relative to one root, so sorting them sorts the absolute paths `train` sorts. Files a manifest lists but that do
  // not exist are left out, as scanning a manifest leaves them out.
  // Groups as `train` makes them: --group-by's, joined where rows are copies of one image (their sha256).
  const items: LabelledItem[] = [];
  const hashes: (string | null)[] = [];
  for (const store of set.stores) {
    for (const row of store.iterateListing()) {
      if (row.reason === 'file not found' || (isSplit && row.part !== 0)) continue;
      items.push({ file: row.path, label: row.label });
      hashes.push(row.sha256);
    }
  }
  const groups = valSplitGroups(items.map((item) => item.file), groupBy ?? undefined, hashes);
  const held = new Set(stratifiedSplit(items, { valFraction: fraction, seed, ...(groups ? { groups } : {}) }).val.map((item) => item.file));
  return { train: { ...part, exclude: held }, val: { ...part, only: held }, valSource: null, valSplit: fraction };
}

/** Validation metrics of the folded head, streamed block by block (memory: the probabilities, n x classes). */
function scoreRows(layers: DenseLayerWeights[], rows: ShardRows): NonNullable<TrainResult['val']> {
  const k = rows.labels.length;
  const probabilities = new Float32Array(rows.count * k);
  const trueIndex = new Int32Array(rows.count);
  let loss = 0;
  rows.forEachBlock(({ data, labels, start, count }) => {
    for (let i = 0; i < count; i++) {
      const p = denseForward(layers, data.subarray(i * rows.dim, (i + 1) * rows.dim));
      probabilities.set(p, (start + i) * k);
      trueIndex[start + i] = labels[i]!;
      loss -= Math.log(Math.max(p[labels[i]!]!, 1e-12));
    }
  });
  const files: string[] = [];
  rows.forEachFile((file) => files.push(file.path));
  const report = evaluatePredictions({ labels: [...rows.labels], trueIndex, probabilities, files });
  return { accuracy: report.accuracy, top5: report.top5, perClass: report.perClass, macroF1: report.macroF1, loss: loss / rows.count, count: rows.count };
}

function unreadableRows(set: ShardSet): SkippedFile[] {
  const out: SkippedFile[] = [];
  for (const store of set.stores) {
    for (const row of store.iterateListing()) if (row.reason !== null) out.push({ file: resolve(set.meta.dataset.root, row.path), reason: row.reason });
  }
  return out;
}


/** A backbone view in words, for a preprocessing mismatch: its scales and its preprocessing. */
function describeView(view: { readonly featureDim: number; readonly preprocessing: Preprocessing }): string {
  const p = view.preprocessing;
  return `${view.featureDim} features, ${p.inputSize} px, scale ${p.scale}, ${p.resize}${p.cropFraction === undefined ? '' : ` ${p.cropFraction}`}`;
}
