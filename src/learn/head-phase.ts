import { basename, dirname } from 'node:path';
import type { LabelledItem, SkippedFile } from '../data/dataset.js';
import type { BackboneHandle } from '../engine/open-backbone.js';
import { CacheSpace } from '../features/cache-space.js';
import { extractFeatures } from '../features/extract-features.js';
import { evaluatePredictions, type EvaluationReport } from '../metrics/classification.js';
import type { EpochLogs, ProgressListener } from '../core/progress.js';
import { denseForward, foldNormalization, type DenseLayerWeights } from '../core/dense-layer.js';
import { isLinearHead } from './head-config.js';
import { checkDuplicates } from './check-duplicates.js';
import { classBalanceNote } from './class-weights.js';
import { foldGroups, type DataSplit } from './prepare-data.js';
import { holdoutPart } from './select/folds.js';
import { fitLinearHead, type LinearHead, type SelectionReport } from './select/fit-linear-head.js';
import type { LabelIssue } from './select/label-issues.js';
import type { TrainViews } from './select/cross-validate.js';
import type { TrainConfig } from './train-config.js';
import type { FeatureMatrix } from './train-head.js';
import { CROPS_PER_IMAGE, type CropRows } from './select/crop-rows.js';
import { GraftError } from '../core/errors.js';
import { optionExample, optionName } from '../core/option-name.js';
import { subsetRowSource, type RowSource } from '../features/feature-rows.js';
import { roundSeconds } from '../core/round-seconds.js';

/** Scores on a validation set: reported, never used to choose anything. */
export type ValScores = Pick<EvaluationReport, 'accuracy' | 'top5' | 'perClass' | 'macroF1'> & { loss: number; count: number };

/** The head phase's outcome (kept in a fine-tuning checkpoint so a resumed run need not redo it). */
export interface HeadPhase {
  /** The head on raw features (standardisation folded in). */
  readonly layers: DenseLayerWeights[];
  /** Whether the model averages each image with its mirror image (test-time augmentation). */
  readonly tta: boolean;
  /** The linear head's C and training rows; null for an MLP. */
  readonly linear: { readonly c: number; readonly trainViews: TrainViews } | null;
  readonly selection: SelectionReport | null;
  readonly labelIssues: LabelIssue[];
  /** MLP epochs (empty for the linear head, which has no epochs). */
  readonly history: EpochLogs[];
  /** MLP: the epoch whose weights were kept (1-based). Absent for the linear head, which has no epochs. */
  readonly bestEpoch?: number;
  readonly stoppedEarly: boolean;
  readonly backend: string;
  readonly val: ValScores | null;
  readonly features: { readonly computed: number; readonly cached: number; readonly backbone_s: number };
  readonly skipped: SkippedFile[];
  readonly counts: { readonly train: number; readonly val: number };
  readonly extractSeconds: number;
  readonly trainSeconds: number;
  /** Class probabilities of each validation image by file (not serialised: for comparing heads image by image). */
  readonly valProbabilities?: ReadonlyMap<string, Float32Array>;
}

export interface HeadPhaseInput {
  readonly config: TrainConfig;
  readonly data: DataSplit;
  readonly handle: BackboneHandle;
  readonly cacheDir: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: ProgressListener;
  /** Cross-validate (choices, CV scores, label issues); false fits the config's fixed choices directly. Defaults to true. */
  readonly crossValidate?: boolean;
}

/** Features of a set of images: plain view, optional mirror images, labels and files (unreadable files dropped). */
export interface FeatureSet {
  readonly plain: FeatureMatrix;
  readonly mirrored: FeatureMatrix | undefined;
  /** Corner crops as rows (training images, when the config may use them). */
  readonly crops?: CropRows;
  readonly labels: Int32Array;
  readonly files: string[];
}

/** The classes no row of `labels` belongs to (a class none of whose images could be read), in class order. */
export function classesWithoutRows(classNames: readonly string[], labels: Int32Array): string[] {
  const rows = new Int32Array(classNames.length);
  for (const label of labels) rows[label]!++;
  return classNames.filter((_, c) => rows[c] === 0);
}

/**
 * Refuses a class none of whose training images could be read: the model would have an output that no image taught
 * (and `--c`, which fits without cross-validation, would let it through). Names the class and why its files failed.
 */
function requireReadableClasses(classNames: readonly string[], labels: Int32Array, items: readonly LabelledItem[], skipped: readonly SkippedFile[]): void {
  const empty = classesWithoutRows(classNames, labels);
  if (empty.length === 0) return;
  const why = new Map(skipped.map((s) => [s.file, s.reason]));
  const listed = items.filter((item) => item.label === empty[0]).map((item) => `${item.file}: ${why.get(item.file) ?? 'unreadable'}`);
  // Files skipped while the data was listed (outside the folders allowed to be read, say) are not items: found by their class folder.
  const files = listed.length ? listed : skipped.filter((s) => basename(dirname(s.file)) === empty[0]).map((s) => `${s.file}: ${s.reason}`);
  throw new GraftError('INVALID_DATASET', `No training image of class ${empty.map((c) => JSON.stringify(c)).join(', ')} could be read (${files.length} file${files.length === 1 ? '' : 's'} of "${empty[0]}" skipped: ${files.slice(0, 3).join('; ')}${files.length > 3 ? '; ...' : ''})`, {
    hint: `replace those files with readable images (JPEG, PNG, WebP, ...), or remove the class's folder`,
  });
}

/**
 * Extracts (or reads cached) features and fits the head on them: the feature-extraction path, and fine-tuning's first
 * phase. Every choice is made on the training images (cross-validation for the linear head, a held-out fifth for
 * the MLP's epochs); the validation set is only scored.
 */
export async function runHeadPhase(input: HeadPhaseInput): Promise<HeadPhase> {
  const { config, data, handle, onProgress } = input;
  const started = performance.now();
  const linear = isLinearHead(config.head);
  // Mirror images: extra training rows and the other half of test-time augmentation, when either may be used.
  const mirror = linear ? config.mirror !== 'off' || config.tta !== 'off' : config.tta === 'on';
  const crops = config.crops !== 'off' && cropRowsPossible(config.crops, linear, handle, data.train.length, onProgress);
  // The cache saves the next run's time; on a full disk this one goes on without it (said once).
  const space = new CacheSpace(input.cacheDir, onProgress);
  const { store, fileIndex } = space.openStores();
  let extraction;
  try {
    const files = [...data.train, ...data.val].map((item) => item.file);
    const trainCount = data.train.length;
    // The mirror images' corners train only beside mirror rows.
    const corners = crops ? { corners: (i: number) => i < trainCount, mirrorCorners: config.mirror !== 'off' } : {};
    extraction = await extractFeatures(files, handle, store, { fileIndex, mirror, ...corners, onProgress, cacheSpace: space });
  } finally {
    store.close();
    fileIndex.close();
  }
  const extractSeconds = (performance.now() - started) / 1000;
  const dim = handle.info.featureDim;
  const setOf = (items: LabelledItem[], offset: number): FeatureSet => {
    const kept = items.flatMap((item, i) => (extraction.vectors[offset + i] ? [{ item, i: offset + i }] : []));
    // Plain rows, then the mirror images' rows, in one buffer: the cross-validation trains on both stacked, and
    // takes them as they lie instead of copying (on gtsrb43, 35 MB less memory to fault in and copy).
    const both = new Float32Array((mirror ? 2 : 1) * kept.length * dim);
    const matrix = (source: (Float32Array | undefined)[], part: number): FeatureMatrix => {
      const out = both.subarray(part * kept.length * dim, (part + 1) * kept.length * dim);
      kept.forEach(({ i }, r) => out.set(source[i]!, r * dim));
      return { data: out, count: kept.length, dim };
    };
    const plain = matrix(extraction.vectors, 0);
    const mirrored = mirror ? matrix(extraction.mirrored, 1) : undefined;
    const withCrops = crops && offset === 0;
    return {
      plain,
      mirrored,
      ...(withCrops ? { crops: cropRowsOf(kept.map(({ i }) => i), plain, mirrored, extraction) } : {}),
      labels: Int32Array.from(kept, ({ item }) => data.labels.indexOf(item.label)),
      files: kept.map(({ item }) => item.file),
    };
  };
  const trainSet = setOf(data.train, 0);
  requireReadableClasses(data.labels, trainSet.labels, data.train, [...data.skipped, ...extraction.skipped]);
  const valSet = setOf(data.val, data.train.length);
  // Said of the images that could be read: nine truncated copies of one file are no duplicate, nor a class's size.
  const isRead = (offset: number) => (_item: LabelledItem, i: number): boolean => extraction.vectors[offset + i] !== undefined;
  const balance = classBalanceNote(Array.from(trainSet.labels, (c) => data.labels[c]!), config.classWeights);
  if (balance) onProgress?.({ type: 'info', message: balance });
  checkDuplicates({ ...data, train: data.train.filter(isRead(0)), val: data.val.filter(isRead(data.train.length)) }, data.sha256 ?? new Map(), onProgress);
  const groups = foldGroups(trainSet.files, config.groupBy ?? undefined, data.sha256, onProgress);

  const trainStarted = performance.now();
  const fitted = await fitHeadOn(trainSet, groups, { ...input, classNames: data.labels });
  return {
    ...fitted,
    ...scoreVal(fitted, valSet, data.labels),
    features: { computed: extraction.computed, cached: extraction.cached, backbone_s: roundSeconds(extraction.backboneSeconds) },
    skipped: extraction.skipped,
    counts: { train: trainSet.plain.count, val: valSet.plain.count },
    extractSeconds,
    trainSeconds: (performance.now() - trainStarted) / 1000,
  };
}

/** A fitted head and what was chosen for it. */
export type FittedHead = Pick<HeadPhase, 'layers' | 'tta' | 'linear' | 'selection' | 'labelIssues' | 'history' | 'bestEpoch' | 'stoppedEarly' | 'backend'>;

/** What a head fit needs besides the features. */
export interface FitHeadContext {
  readonly config: TrainConfig;
  readonly classNames: readonly string[];
  /** See HeadPhaseInput.crossValidate. */
  readonly crossValidate?: boolean;
  readonly signal?: AbortSignal;
  readonly onProgress?: ProgressListener;
}

/**
 * The head the config asks for, on features already in memory: the linear head (cross-validated) or the MLP. Every
 * choice is made on these training rows alone. Used by the head phase and by training from feature stores.
 */
export async function fitHeadOn(set: FeatureSet, groups: readonly string[] | undefined, context: FitHeadContext): Promise<FittedHead> {
  return isLinearHead(context.config.head) ? fitLinear(set, groups, context) : fitMlp(set.plain, set.labels, groups, context);
}

async function fitLinear(set: FeatureSet, groups: readonly string[] | undefined, input: FitHeadContext): Promise<FittedHead> {
  const { config } = input;
  const head = await fitLinearHead(
    { ...set, mirrored: set.mirrored, classNames: input.classNames, ...(groups ? { groups } : {}) },
    {
      c: config.c,
      trainViews: config.mirror === 'auto' ? 'auto' : config.mirror === 'on' ? 'plain+flip' : 'plain',
      ...(set.crops ? { crops: config.crops === 'auto' ? 'auto' : config.crops === 'on' } : {}),
      tta: config.tta === 'auto' ? 'auto' : config.tta === 'on',
      classWeights: config.classWeights,
      maxFolds: config.folds,
      crossValidate: input.crossValidate ?? true,
      seed: config.seed,
      signal: input.signal,
      onProgress: input.onProgress,
    },
  );
  return linearFitted(head);
}

/** A fitted linear head (in memory or streamed) as the head phase records it: no epochs, solved in onnxruntime. */
export function linearFitted(head: LinearHead): FittedHead {
  return {
    layers: head.layers,
    tta: head.tta,
    linear: { c: head.c, trainViews: head.trainViews },
    selection: head.selection,
    labelIssues: head.labelIssues,
    history: [],
    stoppedEarly: false,
    backend: 'onnxruntime',
  };
}

/**
 * The MLP head (`--hidden N`): Adam with early stopping on a held-out fifth of the training images (grouped and
 * stratified like a cross-validation fold), never on the validation set. Rows read by position (too many for memory)
 * are trained on a batch at a time.
 */
export async function fitMlp(plain: FeatureMatrix | RowSource, labels: Int32Array, groups: readonly string[] | undefined, input: FitHeadContext): Promise<FittedHead> {
  const { config, classNames } = input;
  const held = holdoutPart(labels, classNames, groups, config.seed);
  const { dim } = plain;
  const part = (inHoldout: boolean) => {
    const rows = [...held.keys()].filter((i) => (held[i] === 1) === inHoldout);
    const partLabels = Int32Array.from(rows, (r) => labels[r]!);
    // Rows read by position stay where they are (a held-out part of a million rows is not copied into memory).
    if (!('data' in plain)) return { features: subsetRowSource(plain, rows), labels: partLabels };
    const out = new Float32Array(rows.length * dim);
    rows.forEach((r, j) => out.set(plain.data.subarray(r * dim, (r + 1) * dim), j * dim));
    return { features: { data: out, count: rows.length, dim }, labels: partLabels };
  };
  // tfjs loads only for an MLP (~0.6 s of start-up the linear head does not pay).
  const { trainHead } = await import('./train-head.js');
  const head = await trainHead(part(false), part(true), classNames.length, config, input.onProgress, input.signal);
  return {
    layers: foldNormalization(head.layers, head.normalization),
    tta: config.tta === 'on',
    linear: null,
    selection: null,
    labelIssues: [],
    history: head.history,
    bestEpoch: head.bestEpoch,
    stoppedEarly: head.stoppedEarly,
    backend: head.backend,
  };
}

function scoreVal(fitted: FittedHead, set: FeatureSet, labels: readonly string[]): Pick<HeadPhase, 'val' | 'valProbabilities'> {
  if (!set.plain.count) return { val: null };
  const probabilities = headProbabilities(fitted.layers, set, fitted.tta, labels.length);
  const k = labels.length;
  const valProbabilities = new Map(set.files.map((file, i) => [file, probabilities.subarray(i * k, (i + 1) * k)]));
  return { val: scoreProbabilities({ probabilities, labels: set.labels, files: set.files }, labels), valProbabilities };
}

/** Class probabilities of the folded head on each image, [count, K], averaged with the mirror image under TTA. */
function headProbabilities(layers: readonly DenseLayerWeights[], set: FeatureSet, tta: boolean, k: number): Float32Array {
  const { count, dim, data } = set.plain;
  const probabilities = new Float32Array(count * k);
  for (let i = 0; i < count; i++) {
    const p = denseForward(layers, data.subarray(i * dim, (i + 1) * dim));
    if (tta && set.mirrored) {
      const q = denseForward(layers, set.mirrored.data.subarray(i * dim, (i + 1) * dim));
      for (let c = 0; c < k; c++) p[c] = (p[c]! + q[c]!) / 2;
    }
    probabilities.set(p, i * k);
  }
  return probabilities;
}

/** Validation metrics from class probabilities (row per image). */
export function scoreProbabilities(set: { probabilities: Float32Array; labels: Int32Array; files: string[] }, labels: readonly string[]): ValScores {
  const k = labels.length;
  let loss = 0;
  for (let i = 0; i < set.labels.length; i++) loss -= Math.log(Math.max(set.probabilities[i * k + set.labels[i]!]!, 1e-12));
  const report = evaluatePredictions({ labels: [...labels], trueIndex: set.labels, probabilities: set.probabilities, files: set.files });
  return { accuracy: report.accuracy, top5: report.top5, perClass: report.perClass, macroF1: report.macroF1, loss: loss / Math.max(set.labels.length, 1), count: set.labels.length };
}

/**
 * Crop rows hold 10 rows per training image in memory while they are scored and fitted (the centre views, the four
 * corners, and their mirror images): past this many bytes of them, `--crops auto` is skipped (with a warning) and
 * `--crops on` refused. 1 GiB is ~10 000 images of 2 x 1280 features; larger sets train from a feature store.
 */
const CROP_ROWS_MAX_BYTES = 2 ** 30;

/**
 * Whether crop rows can be had in this run: a linear head, features at two scales (the corner model cuts the
 * two-scale input), and rows that fit in memory. Otherwise `on` is a usage error and `auto` a warning, never silent.
 */
function cropRowsPossible(mode: 'on' | 'auto', linear: boolean, handle: BackboneHandle, images: number, onProgress: ProgressListener | undefined): boolean {
  const bytes = 10 * images * handle.info.featureDim * 4;
  const why = !linear
    ? `the head is an MLP (${optionName('head.hidden')}); crop rows are for the linear head`
    : !handle.loadCorners
      ? `the features are at one scale (${optionExample('multiScale', false)}, fine-tuning or ${optionExample('engine', 'tfjs')}), and the corner crops are cut from the two-scale input`
      : bytes > CROP_ROWS_MAX_BYTES
        ? `${images} training images would hold ${(bytes / 2 ** 30).toFixed(1)} GiB of crop rows in memory (at most 1 GiB)`
        : undefined;
  if (!why) return true;
  if (mode === 'on') throw new GraftError('INVALID_CONFIG', `Crop rows (${optionExample('crops', 'on')}) cannot be used here: ${why}`, { hint: `drop ${optionExample('crops', 'on')}` });
  onProgress?.({ type: 'warning', code: 'CROP_ROWS_SKIPPED', message: `${optionExample('crops', 'auto')} skipped: ${why}` });
  return false;
}

/**
 * The crop rows of the images `files` (indices into the extraction): [corner crop | whole square] with the whole
 * square's half taken from the image's own two-scale vector, four per image; likewise of the mirror images.
 */
function cropRowsOf(files: readonly number[], plain: FeatureMatrix, mirrored: FeatureMatrix | undefined, extraction: { corners: (Float32Array | undefined)[]; mirroredCorners: (Float32Array | undefined)[] }): CropRows {
  const { dim } = plain;
  const half = dim / 2;
  const rowsOf = (centre: FeatureMatrix, corners: (Float32Array | undefined)[]): FeatureMatrix => {
    const out = new Float32Array(files.length * CROPS_PER_IMAGE * dim);
    files.forEach((file, r) => {
      const vector = corners[file]!;
      const whole = centre.data.subarray(r * dim + half, (r + 1) * dim);
      for (let j = 0; j < CROPS_PER_IMAGE; j++) {
        const at = (r * CROPS_PER_IMAGE + j) * dim;
        out.set(vector.subarray(j * half, (j + 1) * half), at);
        out.set(whole, at + half);
      }
    });
    return { data: out, count: files.length * CROPS_PER_IMAGE, dim };
  };
  const mirroredCorners = mirrored && extraction.mirroredCorners.length > 0;
  return { plain: rowsOf(plain, extraction.corners), ...(mirroredCorners ? { mirrored: rowsOf(mirrored, extraction.mirroredCorners) } : {}) };
}

