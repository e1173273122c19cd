import { GraftError } from '../../core/errors.js';
import { foldNormalization, type DenseLayerWeights } from '../../core/dense-layer.js';
import { minimizeSoftmax } from '../linear/minimize.js';
import type { LbfgsStatus } from '../linear/lbfgs.js';
import { SoftmaxObjective } from '../linear/softmax-objective.js';
import type { FeatureMatrix } from '../train-head.js';
import { columnStats } from './column-stats.js';
import { classWeightsFor } from '../class-weights.js';
import { crossValidateHeads, DEFAULT_C_GRID, isBetter, type CrossValidation, type CvScore, type MirrorViews, type SelectionCriterion, type TrainViews } from './cross-validate.js';
import { CROP_C_FACTORS, cropRowWeights, cropViews, layOutCropRows, scoreCropRows } from './crop-rows.js';
import { findLabelIssues, type LabelIssue } from './label-issues.js';
import { checkLinearHeadCall } from './check-linear-head-call.js';
import type { HeadTrainingSet, LinearHeadOptions } from './linear-head-options.js';
import { hasCropRows, hasMirrorRows, type SelectionReport } from '../../core/selection-report.js';

// The report is plain data in core/ (the manifest records it); learn/ keeps its public name here.
export type { SelectionReport };
export type { HeadTrainingSet, LinearHeadOptions };

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
  readonly fit: { readonly iterations: number; readonly status: LbfgsStatus; readonly seconds: number };
}

/**
 * The default head: multinomial logistic regression with L2 on standardised features, the textbook linear probe,
 * with everything that can be chosen (C, whether mirror images are extra training rows, test-time augmentation)
 * chosen by cross-validation on the training images only, then refitted on all of them to convergence.
 * @throws GraftError `INVALID_DATASET` for fewer than 2 classes or no rows; `INVALID_CONFIG` for options it cannot
 *   run (`crossValidate: false` with a choice left 'auto', mirror rows or crop rows the set lacks) and for a set whose
 *   parts disagree in shape (see checkLinearHeadCall).
 */
export async function fitLinearHead(set: HeadTrainingSet, options: LinearHeadOptions): Promise<LinearHead> {
  const { plain, mirrored, labels, classNames } = set;
  const k = classNames.length;
  if (k < 2) throw new GraftError('INVALID_DATASET', `Training needs at least 2 classes. Received: ${k}`);
  if (plain.count === 0) throw new GraftError('INVALID_DATASET', 'No training images left after skipping unreadable files');
  checkLinearHeadCall(set, options);
  const started = performance.now();
  const criterion = options.criterion ?? 'log-loss';
  const wantsCrops = options.crops === true || options.crops === 'auto';
  const cv = options.crossValidate === false ? undefined : await crossValidateUnlessTooSmall(set, options, criterion);
  const withCrops = cv && wantsCrops ? await chooseCropRows(set, options, cv, criterion) : undefined;
  const table = [...(cv?.table ?? []), ...(withCrops?.table ?? [])];
  const winner = withCrops?.chosen ?? cv;
  // Without cross-validation (a fixed C and a class too small to be judged) a choice left open takes what helps on
  // average (RESULTS.md, "What the recipe is"): mirror rows and test-time augmentation, where mirror images exist.
  const mirrorViews: MirrorViews = options.trainViews === 'auto' ? (mirrored ? 'plain+flip' : 'plain') : options.trainViews;
  const fixedViews = options.crops === true ? cropViews(hasMirrorRows(mirrorViews)) : mirrorViews;
  const chosen = winner?.chosen ?? { c: options.c as number, trainViews: fixedViews, tta: options.tta === 'auto' ? mirrored !== undefined : options.tta };
  const selection: SelectionReport | null = cv
    ? { criterion, folds: cv.k, grouped: set.groups !== undefined, chosen: winner!.chosen, table, seconds: (performance.now() - started) / 1000, ...(cv.classWeighted ? { classWeighted: true } : {}), ...(withCrops ? { cropRows: { baseline: withCrops.baseline } } : {}) }
    : null;
  const labelIssues = winner ? findLabelIssues(winner.outOfFold, labels, classNames, set.files) : [];
  const fitStarted = performance.now();
  const final = await fitFinal(set, chosen, options, withCrops?.chosen ? { warmStart: withCrops.chosen.warmStart } : cv);
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
 * The crop-row candidates, scored in the cross-validation's folds at the C it chose and a half-decade below, with its
 * choice of test-time augmentation; `chosen` is the best of them where it beats the cross-validation's choice scored
 * the same way (or always, with `crops: true`), else undefined.
 */
async function chooseCropRows(
  set: HeadTrainingSet,
  options: LinearHeadOptions,
  cv: CrossValidation,
  criterion: SelectionCriterion,
): Promise<{ table: CvScore[]; baseline: CvScore; chosen?: { chosen: CvScore; outOfFold: Float32Array; warmStart: Float64Array } }> {
  const k = set.classNames.length;
  const withMirror = set.mirrored !== undefined && (options.trainViews === 'auto' ? true : hasMirrorRows(options.trainViews));
  const layout = layOutCropRows(set.plain, set.mirrored, set.crops!, withMirror);
  const classWeight = classWeightsFor(set.labels, k, options.classWeights);
  const cs = typeof options.c === 'number' ? [options.c] : CROP_C_FACTORS.map((f) => f * cv.chosen.c);
  options.onProgress?.({ type: 'info', message: `cross-validating crop rows at C = ${cs.map((c) => c.toPrecision(2)).join(', ')}` });
  const scored = await scoreCropRows(layout, {
    labels: set.labels,
    numClasses: k,
    fold: cv.fold,
    folds: cv.k,
    classWeight,
    scoreWeights: cv.classWeighted ? classWeight : undefined,
    baseline: cv.chosen,
    cs,
    withMirror,
    tta: cv.chosen.tta,
    signal: options.signal,
  });
  const best = scored.crops.reduce((a, b) => (isBetter(b.score, a.score, criterion) ? b : a));
  const table = scored.crops.map((s) => s.score);
  const baseline = scored.baseline.score;
  if (options.crops !== true && !isBetter(best.score, baseline, criterion)) return { table, baseline };
  return { table, baseline, chosen: { chosen: best.score, outOfFold: best.outOfFold, warmStart: best.warmStart } };
}

/**
 * The cross-validation; undefined when a class is too small for it and C is fixed (the head is then fitted without
 * CV scores).
 */
async function crossValidateUnlessTooSmall(set: HeadTrainingSet, options: LinearHeadOptions, criterion: SelectionCriterion): Promise<CrossValidation | undefined> {
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
    if (!(typeof options.c === 'number' && error instanceof GraftError && error.code === 'INVALID_DATASET')) throw error;
    const open = [options.trainViews === 'auto' ? 'mirror rows' : '', options.tta === 'auto' ? 'test-time augmentation' : ''].filter(Boolean);
    options.onProgress?.({ type: 'info', message: `no cross-validation scores: ${error.message}${open.length > 0 ? `; ${open.join(' and ')} on without being judged` : ''}` });
    return undefined;
  }
}

/**
 * The final fit's gradient tolerance (largest component, on the mean loss): sklearn's default, 1e-4, from the folds'
 * mean solution. That is the estimator the cross-validation scored: its runs stop at their own loose tolerances,
 * warm-started along the C path, so at a large C they validate an under-converged, implicitly regularised head. A
 * head converged further is a less regularised model than the one C was chosen for. Tried twice and not kept
 * (bench/RESULTS.md): at 1e-6 the same C gives the same head whatever the seed, but with 5 images per class the ten
 * pairs lost 0.1 point on average (flowers12 int8 fell to 0.6 below the probe), and the head phase took 10-30% longer.
 * The cost: at a large C on a small set the head, and a borderline answer, depend slightly on the seed.
 */
export const FINAL_GRADIENT_TOLERANCE = 1e-4;

/** Fits the chosen head on every training image, to a tight tolerance. */
async function fitFinal(
  set: HeadTrainingSet,
  chosen: { c: number; trainViews: TrainViews },
  options: LinearHeadOptions,
  cv: (Pick<CrossValidation, 'warmStart'> & Partial<Pick<CrossValidation, 'warmHistory' | 'rows' | 'rowImages'>>) | undefined,
): Promise<{ layers: DenseLayerWeights[]; iterations: number; status: LbfgsStatus }> {
  const { plain, labels } = set;
  const k = set.classNames.length;
  const perClass = classWeightsFor(labels, k, options.classWeights);
  const { rows, rowLabels, weights } = finalRows(set, chosen.trainViews, perClass, cv);
  const stats = columnStats(rows, weights);
  const objective = new SoftmaxObjective(rows, rowLabels, k);
  try {
    const problem = objective.addProblem({ rowWeights: weights, mean: stats.mean, std: stats.std, c: chosen.c });
    // Warm start from the cross-validation: the folds' mean solution, and one fold's curvature moved to this problem.
    const history = cv?.warmHistory && objective.carryHistory(cv.warmHistory.history, { lambda: cv.warmHistory.lambda }, problem);
    const [minimum] = await minimizeSoftmax(objective, [problem], [cv?.warmStart ?? new Float64Array(objective.size)], {
      histories: [history],
      gradientTolerance: FINAL_GRADIENT_TOLERANCE,
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

/** The final fit's rows (with crop rows: the centre views, then the crops), their labels and weights. */
function finalRows(
  set: HeadTrainingSet,
  trainViews: TrainViews,
  perClass: Float32Array,
  cv: Partial<Pick<CrossValidation, 'rows' | 'rowImages'>> | undefined,
): { rows: FeatureMatrix; rowLabels: Int32Array; weights: Float32Array } {
  const { plain, mirrored, labels } = set;
  if (hasCropRows(trainViews)) {
    const withMirror = hasMirrorRows(trainViews);
    const layout = layOutCropRows(plain, withMirror ? mirrored : undefined, set.crops!, withMirror);
    return { rows: layout.rows, rowLabels: Int32Array.from(layout.image, (i) => labels[i]!), weights: cropRowWeights(layout, (i) => perClass[labels[i]!]!, withMirror) };
  }
  const useMirror = trainViews === 'plain+flip';
  // Plain and mirror rows: the cross-validation's own matrix when it made one (a copy of every row saved), laid out
  // its way.
  const reuse = useMirror && cv?.rows?.count === plain.count * 2;
  const rows: FeatureMatrix = !useMirror ? plain : reuse ? cv!.rows! : { data: concat(plain.data, mirrored!.data), count: plain.count * 2, dim: plain.dim };
  const imageOf = (r: number): number => (reuse ? cv!.rowImages![r]! : r % plain.count);
  const rowLabels = useMirror ? Int32Array.from({ length: rows.count }, (_, r) => labels[imageOf(r)]!) : labels;
  return { rows, rowLabels, weights: Float32Array.from(rowLabels, (l) => perClass[l]!) };
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
