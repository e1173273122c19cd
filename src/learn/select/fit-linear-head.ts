import { GraftError } from '../../core/errors.js';
import type { ProgressListener } from '../../core/progress.js';
import { foldNormalization, type DenseLayerWeights } from '../../core/dense-layer.js';
import { minimizeSoftmax } from '../linear/minimize.js';
import { SoftmaxObjective } from '../linear/softmax-objective.js';
import type { FeatureMatrix } from '../train-head.js';
import { columnStats } from './column-stats.js';
import { classWeightsFor } from '../class-weights.js';
import { crossValidateHeads, DEFAULT_C_GRID, type CrossValidation, type SelectionCriterion, type TrainViews } from './cross-validate.js';
import { findLabelIssues, type LabelIssue } from './label-issues.js';
import type { SelectionReport } from '../../core/selection-report.js';

// The report is plain data in core/ (the manifest records it); learn/ keeps its public name here.
export type { SelectionReport };

/** Training images' features for a head. */
export interface HeadTrainingSet {
  /** Plain view of each image, [images, dim]. */
  readonly plain: FeatureMatrix;
  /** Mirror image of each image, same order; needed for 'plain+flip' rows and test-time augmentation. */
  readonly mirrored?: FeatureMatrix;
  readonly labels: Int32Array;
  readonly classNames: readonly string[];
  /** File of each image (for label issues). */
  readonly files: readonly string[];
  /** Group key of each image (see groupKeys); undefined: every image its own group. */
  readonly groups?: readonly string[];
}

/** What may be chosen: a fixed value, or 'auto' for cross-validation to decide. */
export interface LinearHeadOptions {
  /** sklearn's C (inverse L2 strength), or 'auto' to search DEFAULT_C_GRID. */
  readonly c: number | 'auto';
  readonly trainViews: TrainViews | 'auto';
  readonly tta: boolean | 'auto';
  readonly classWeights: 'none' | 'balanced';
  /** Most folds; 'auto' = defaultFolds. */
  readonly maxFolds: number | 'auto';
  readonly criterion?: SelectionCriterion;
  /** Run the cross-validation (needs fixed c, trainViews and tta when false: nothing is chosen then). Defaults to true. */
  readonly crossValidate?: boolean;
  readonly seed: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: ProgressListener;
}

export interface LinearHead {
  /** Dense(K, softmax) on raw features (standardisation folded in). */
  readonly layers: DenseLayerWeights[];
  readonly c: number;
  readonly trainViews: TrainViews;
  readonly tta: boolean;
  /** Null when every choice was fixed and cross-validation could not run (a class with one image). */
  readonly selection: SelectionReport | null;
  /** Training images whose label the out-of-fold prediction confidently contradicts. */
  readonly labelIssues: LabelIssue[];
  /** L-BFGS iterations of the final fit, and how it ended. */
  readonly fit: { readonly iterations: number; readonly status: string; readonly seconds: number };
}

/**
 * The default head: multinomial logistic regression with L2 on standardised features, the textbook linear probe,
 * with everything that can be chosen (C, whether mirror images are extra training rows, test-time augmentation)
 * chosen by cross-validation on the training images only, then refitted on all of them to convergence.
 */
export async function fitLinearHead(set: HeadTrainingSet, options: LinearHeadOptions): Promise<LinearHead> {
  const { plain, mirrored, labels, classNames } = set;
  const k = classNames.length;
  if (k < 2) throw new GraftError('INVALID_DATASET', `Training needs at least 2 classes. Received: ${k}`);
  if (plain.count === 0) throw new GraftError('INVALID_DATASET', 'No training images left after skipping unreadable files');
  const wantsMirror = options.trainViews === 'plain+flip' || options.tta === true;
  if (wantsMirror && !mirrored) throw new RangeError('mirrored features are needed for plain+flip rows or test-time augmentation');
  const started = performance.now();
  const fixed = typeof options.c === 'number' && options.trainViews !== 'auto' && options.tta !== 'auto';
  if (options.crossValidate === false && !fixed) throw new RangeError('crossValidate: false needs a fixed c, trainViews and tta');
  const criterion = options.criterion ?? 'log-loss';
  const cv = options.crossValidate === false ? undefined : await crossValidateUnlessTooSmall(set, options, criterion, fixed);
  const chosen = cv?.chosen ?? { c: options.c as number, trainViews: options.trainViews as TrainViews, tta: options.tta as boolean };
  const selection: SelectionReport | null = cv
    ? { criterion, folds: cv.k, grouped: set.groups !== undefined, chosen: cv.chosen, table: cv.table, seconds: (performance.now() - started) / 1000, ...(cv.classWeighted ? { classWeighted: true } : {}) }
    : null;
  const labelIssues = cv ? findLabelIssues(cv.outOfFold, labels, classNames, set.files) : [];
  const fitStarted = performance.now();
  const final = await fitFinal(set, chosen, options, cv);
  return {
    layers: final.layers,
    c: chosen.c,
    trainViews: chosen.trainViews,
    tta: chosen.tta,
    selection,
    labelIssues,
    fit: { iterations: final.iterations, status: final.status, seconds: (performance.now() - fitStarted) / 1000 },
  };
}

/**
 * The cross-validation; undefined when a class is too small for it and nothing needs choosing (the fixed head is
 * then fitted without CV scores).
 */
async function crossValidateUnlessTooSmall(set: HeadTrainingSet, options: LinearHeadOptions, criterion: SelectionCriterion, fixed: boolean): Promise<CrossValidation | undefined> {
  try {
    return await crossValidateHeads(set.plain, set.mirrored, {
      labels: set.labels,
      classNames: set.classNames,
      groups: set.groups,
      seed: options.seed,
      cGrid: typeof options.c === 'number' ? [options.c] : DEFAULT_C_GRID,
      trainViews: options.trainViews === 'auto' ? undefined : [options.trainViews],
      tta: options.tta === 'auto' ? undefined : [options.tta],
      classWeights: options.classWeights,
      criterion,
      maxFolds: options.maxFolds === 'auto' ? undefined : options.maxFolds,
      signal: options.signal,
      onProgress: options.onProgress,
    });
  } catch (error) {
    if (!(fixed && error instanceof GraftError && error.code === 'INVALID_DATASET')) throw error;
    options.onProgress?.({ type: 'info', message: `no cross-validation scores: ${error.message}` });
    return undefined;
  }
}

/** Fits the chosen head on every training image, to a tight tolerance. */
async function fitFinal(
  set: HeadTrainingSet,
  chosen: { c: number; trainViews: TrainViews },
  options: LinearHeadOptions,
  cv: Pick<CrossValidation, 'warmStart' | 'warmHistory' | 'rows' | 'rowImages'> | undefined,
): Promise<{ layers: DenseLayerWeights[]; iterations: number; status: string }> {
  const { plain, mirrored, labels } = set;
  const k = set.classNames.length;
  const useMirror = chosen.trainViews === 'plain+flip';
  // Plain and mirror rows: the cross-validation's own matrix when it made one (a copy of every row saved), laid out
  // its way.
  const reuse = useMirror && cv?.rows.count === plain.count * 2;
  const rows: FeatureMatrix = !useMirror ? plain : reuse ? cv!.rows : { data: concat(plain.data, mirrored!.data), count: plain.count * 2, dim: plain.dim };
  const imageOf = (r: number): number => (reuse ? cv!.rowImages[r]! : r % plain.count);
  const rowLabels = useMirror ? Int32Array.from({ length: rows.count }, (_, r) => labels[imageOf(r)]!) : labels;
  const perClass = classWeightsFor(labels, k, options.classWeights);
  const weights = Float32Array.from(rowLabels, (l) => perClass[l]!);
  const stats = columnStats(rows, weights);
  const objective = new SoftmaxObjective(rows, rowLabels, k);
  try {
    const problem = objective.addProblem({ rowWeights: weights, mean: stats.mean, std: stats.std, c: chosen.c });
    // Warm start from the cross-validation: the folds' mean solution, and one fold's curvature moved to this problem.
    const history = cv?.warmHistory && objective.carryHistory(cv.warmHistory.history, { lambda: cv.warmHistory.lambda }, problem);
    const [minimum] = await minimizeSoftmax(objective, [problem], [cv?.warmStart ?? new Float64Array(objective.size)], {
      histories: [history],
      // sklearn's default tolerance (1e-4 on the gradient of the mean loss): on plantseedlings12 the test predictions
      // equal those of a 1e-6 solve, at 119 iterations from a cold start instead of 186 (bench/RESULTS.md).
      gradientTolerance: 1e-4,
      maxIterations: 1000,
      signal: options.signal,
    });
    const { x, iterations, status } = minimum!;
    const dim = plain.dim;
    const layer: DenseLayerWeights = {
      inputDim: dim,
      outputDim: k,
      weight: Float32Array.from(x.subarray(0, dim * k)),
      bias: Float32Array.from(x.subarray(dim * k)),
      activation: 'softmax',
    };
    return { layers: foldNormalization([layer], stats), iterations, status };
  } finally {
    await objective.dispose();
  }
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
