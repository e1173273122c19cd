import { hasMirrorRows, type CvScore, type TrainViews } from '../../core/selection-report.js';
import { minimizeSoftmax } from '../linear/minimize.js';
import { SoftmaxObjective } from '../linear/softmax-objective.js';
import type { FeatureMatrix } from '../train-head.js';
import { columnStats } from './column-stats.js';
import { DEFAULT_CV_TOLERANCE, meanOf, scoreProbabilities } from './cross-validate.js';

/**
 * Each training image's corner crops as rows: [corner crop | whole square] at the two scales, four per image,
 * image-major (image i's at rows 4i..4i+3), and the same of its mirror image. With the centre views they are the
 * ten crops of ImageNet's evaluation, used here as training rows: they show the object shifted in the frame.
 */
export interface CropRows {
  readonly plain: FeatureMatrix;
  readonly mirrored?: FeatureMatrix;
}

/** The corners per image in {@link CropRows}. */
export const CROPS_PER_IMAGE = 4;

/**
 * C of the crop-row candidates, as factors of the C the cross-validation chose without them: five times the rows
 * weigh the data term up, and the rows of one image are alike, so the best C lies at or below the chosen one
 * (bench/RESULTS.md, "What the recipe is", item 12).
 */
export const CROP_C_FACTORS: readonly number[] = [10 ** -0.5, 1];

/** The row set of crop rows with or without mirror images. */
export function cropViews(withMirror: boolean): TrainViews {
  return withMirror ? 'plain+flip+crops' : 'plain+crops';
}

/** The rows a head with crop rows trains on, the images of each, and which are centre views. */
export interface CropRowLayout {
  /** Plain centre rows, mirror centre rows (when given), plain crop rows, mirror crop rows (when used). */
  readonly rows: FeatureMatrix;
  readonly image: Int32Array;
  /** 0: a crop row (trains only); 1: an image's plain view; 2: its mirror image (scored under test-time augmentation). */
  readonly role: Uint8Array;
  /** Rows before the first crop row: the centre views. */
  readonly centreCount: number;
}

/** Stacks the centre views and the crop rows into one matrix (mirror crops only `withMirror`). */
export function layOutCropRows(plain: FeatureMatrix, mirrored: FeatureMatrix | undefined, crops: CropRows, withMirror: boolean): CropRowLayout {
  const n = plain.count;
  const parts: { m: FeatureMatrix; role: number; perImage: number }[] = [
    { m: plain, role: 1, perImage: 1 },
    ...(mirrored ? [{ m: mirrored, role: 2, perImage: 1 }] : []),
    { m: crops.plain, role: 0, perImage: CROPS_PER_IMAGE },
    ...(withMirror && crops.mirrored ? [{ m: crops.mirrored, role: 0, perImage: CROPS_PER_IMAGE }] : []),
  ];
  const count = parts.reduce((s, p) => s + p.m.count, 0);
  const data = new Float32Array(count * plain.dim);
  const image = new Int32Array(count);
  const role = new Uint8Array(count);
  let at = 0;
  for (const { m, role: r, perImage } of parts) {
    if (m.count !== n * perImage || m.dim !== plain.dim) throw new RangeError(`crop rows must hold ${perImage} rows of ${plain.dim} per image`);
    data.set(m.data, at * plain.dim);
    for (let i = 0; i < m.count; i++) image[at + i] = Math.floor(i / perImage);
    role.fill(r, at, at + m.count);
    at += m.count;
  }
  return { rows: { data, count, dim: plain.dim }, image, role, centreCount: n + (mirrored ? n : 0) };
}

/** Training weight of each row for a head that trains on every image with `imageWeight` > 0 (mirror rows only `withMirror`). */
export function cropRowWeights(layout: CropRowLayout, imageWeight: (image: number) => number, withMirror: boolean): Float32Array {
  return Float32Array.from(layout.image, (image, r) => (layout.role[r] === 2 && !withMirror ? 0 : imageWeight(image)));
}

export interface ScoreCropRowsOptions {
  readonly labels: Int32Array;
  readonly numClasses: number;
  /** The fold of each image and the number of folds: the cross-validation's own. */
  readonly fold: Int32Array;
  readonly folds: number;
  /** Training weight of each class (class weights). */
  readonly classWeight: Float32Array;
  /** Scoring weight of each class, as the cross-validation scores (undefined: every image counts 1). */
  readonly scoreWeights: Float32Array | undefined;
  /** The head the cross-validation chose without crop rows: rescored here, like for like, as the bar to beat. */
  readonly baseline: { readonly c: number; readonly trainViews: TrainViews };
  /** C values of the crop-row candidates. */
  readonly cs: readonly number[];
  /** Whether the crop-row candidates train on mirror rows (and the mirror images' crops). */
  readonly withMirror: boolean;
  /** Whether every candidate is scored with test-time augmentation (the cross-validation's choice). */
  readonly tta: boolean;
  readonly signal?: AbortSignal;
}

/** A candidate scored out of fold. */
export interface CropRowScore {
  readonly score: CvScore;
  /** Out-of-fold class probabilities, [images, K]. */
  readonly outOfFold: Float32Array;
  /** Mean of its fold solutions: the final fit's warm start. */
  readonly warmStart: Float64Array;
}

/**
 * Scores crop-row candidates by the cross-validation's folds: each fold's head trains on the other folds' images,
 * centre views and crops alike, and is scored on its own images' centre views only (with their mirror images under
 * test-time augmentation), the views the exported model sees. The head chosen without crop rows is scored again
 * beside them, the same way: every run starts from zeros and stops at the same tolerance, so the comparison is like
 * for like. (The cross-validation's own scores come from runs warm-started along its path and stopped at a relative
 * tolerance: they are not converged alike, and on dtd10 that difference alone picked crop rows that lost.)
 */
export async function scoreCropRows(layout: CropRowLayout, options: ScoreCropRowsOptions): Promise<{ baseline: CropRowScore; crops: CropRowScore[] }> {
  const { labels, numClasses: k, fold, folds } = options;
  const n = labels.length;
  const rowLabels = Int32Array.from(layout.image, (image) => labels[image]!);
  const objective = new SoftmaxObjective(layout.rows, rowLabels, k);
  // The held-out images' centre views are scored in an objective of their own: predicting the crop rows too would
  // cost four times the pass.
  const centre = { data: layout.rows.data.subarray(0, layout.centreCount * layout.rows.dim), count: layout.centreCount, dim: layout.rows.dim };
  const scorer = new SoftmaxObjective(centre, rowLabels.subarray(0, layout.centreCount), k);
  try {
    const foldWeight = (f: number) => (image: number): number => (fold[image] === f ? 0 : options.classWeight[labels[image]!]!);
    const baselineMirror = hasMirrorRows(options.baseline.trainViews);
    const candidates = [
      { trainViews: options.baseline.trainViews, c: options.baseline.c, weightsFor: (f: number) => centreRowWeights(layout, foldWeight(f), baselineMirror) },
      ...options.cs.map((c) => ({ trainViews: cropViews(options.withMirror), c, weightsFor: (f: number) => cropRowWeights(layout, foldWeight(f), options.withMirror) })),
    ];
    const problems = candidates.flatMap((candidate, ci) =>
      Array.from({ length: folds }, (_, f) => {
        const weights = candidate.weightsFor(f);
        return { ci, f, c: candidate.c, weights, ...columnStats(layout.rows, weights) };
      }),
    );
    // The head without crop rows first, from zeros: a start fitted on all the images (say, the cross-validation's mean
    // solution) would carry the held-out fold's labels into its own fold's run, and a run stopped at a tolerance keeps
    // some of them (measured: a log-loss 12% lower than from zeros). Then the crop-row runs, each from its own fold's
    // solution (no other fold's labels in it), to the same absolute tolerance: no relative test, which would stop
    // them nearer their start than the head they are compared with.
    const points: Float64Array[] = new Array(problems.length);
    const solve = async (indices: number[], starts: Float64Array[]): Promise<void> => {
      const which = indices.map((j) => objective.addProblem({ rowWeights: problems[j]!.weights, mean: problems[j]!.mean, std: problems[j]!.std, c: problems[j]!.c }));
      const minima = await minimizeSoftmax(objective, which, starts, { gradientTolerance: DEFAULT_CV_TOLERANCE, signal: options.signal });
      objective.forget(which);
      indices.forEach((j, at) => (points[j] = minima[at]!.x));
    };
    const baselineRuns = problems.flatMap((p, j) => (p.ci === 0 ? [j] : []));
    await solve(baselineRuns, baselineRuns.map(() => new Float64Array(objective.size)));
    const cropRuns = problems.flatMap((p, j) => (p.ci > 0 ? [j] : []));
    await solve(cropRuns, cropRuns.map((j) => Float64Array.from(points[baselineRuns[problems[j]!.f]!]!)));
    const ones = new Float32Array(layout.centreCount).fill(1);
    const scoring = problems.map((p) => scorer.addProblem({ rowWeights: ones, mean: p.mean, std: p.std, c: p.c }));
    const outOfFold = candidates.map(() => new Float32Array(n * k));
    const share = options.tta ? 0.5 : 1;
    await scorer.predict(scoring, points, (start, count, probabilities) => {
      for (let r = start; r < start + count; r++) {
        if (layout.role[r] === 2 && !options.tta) continue;
        const image = layout.image[r]!;
        problems.forEach((p, j) => {
          if (p.f !== fold[image]) return;
          const target = outOfFold[p.ci]!;
          const from = ((r - start) * problems.length + j) * k;
          for (let cl = 0; cl < k; cl++) target[image * k + cl] = target[image * k + cl]! + share * probabilities[from + cl]!;
        });
      }
    });
    scorer.forget(scoring);
    const scored = candidates.map((candidate, ci) => ({
      score: { head: 'linear' as const, trainViews: candidate.trainViews, tta: options.tta, c: candidate.c, ...scoreProbabilities(outOfFold[ci]!, labels, k, options.scoreWeights) },
      outOfFold: outOfFold[ci]!,
      warmStart: meanOf(points.filter((_, j) => problems[j]!.ci === ci)),
    }));
    return { baseline: scored[0]!, crops: scored.slice(1) };
  } finally {
    await objective.dispose();
    await scorer.dispose();
  }
}

/** Training weights of the centre views alone (crop rows 0), mirror rows only `withMirror`. */
function centreRowWeights(layout: CropRowLayout, imageWeight: (image: number) => number, withMirror: boolean): Float32Array {
  return Float32Array.from(layout.image, (image, r) => (layout.role[r] === 0 || (layout.role[r] === 2 && !withMirror) ? 0 : imageWeight(image)));
}
