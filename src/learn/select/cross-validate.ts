import type { ProgressListener } from '../../core/progress.js';
import { arenaSlotsPerRun, minimizeSoftmax } from '../linear/minimize.js';
import { copyHistory, DEFAULT_LBFGS_MEMORY, type LbfgsHistory } from '../linear/lbfgs.js';
import { SoftmaxObjective, type Evaluation } from '../linear/softmax-objective.js';
import { VectorArena } from '../linear/vector-space.js';
import type { FeatureMatrix } from '../train-head.js';
import { assignFolds } from './folds.js';
import { addSums, statsOf } from './column-stats.js';
import { arrangeRows, paysToLayOutByFold, type FoldLayout } from './fold-layout.js';
import { classWeightsFor, unlessAllOne } from '../class-weights.js';
import type { CvScore, MirrorViews, SelectionCriterion } from '../../core/selection-report.js';

// The report's types are plain data in core/ (the manifest records them); learn/ keeps their public names here.
export type { CvScore, HeadCandidate, MirrorViews, SelectionCriterion, TrainViews } from '../../core/selection-report.js';

/** The C grid: the reference probe's 11 values, 1e-4 to 10 in half decades. */
export const DEFAULT_C_GRID: readonly number[] = Array.from({ length: 11 }, (_, i) => 10 ** (-4 + i / 2));

export interface CrossValidateOptions {
  /** Class of each image. */
  readonly labels: Int32Array;
  readonly classNames: readonly string[];
  /** Group key of each image (see groupKeys); images of a group share a fold. */
  readonly groups?: readonly string[];
  readonly seed: number;
  /** Candidate C values, tried from the strongest regularisation up (warm starts). Defaults to DEFAULT_C_GRID. */
  readonly cGrid?: readonly number[];
  /** Which row sets to try; 'plain+flip' needs `flipped`. Defaults to both when `flipped` is given. */
  readonly trainViews?: readonly MirrorViews[];
  /** Test-time augmentation settings to try; true needs `flipped`. Defaults to both when `flipped` is given. */
  readonly tta?: readonly boolean[];
  /** Row weights by class: 'balanced' weighs each class by n / (K n_c). Defaults to 'none'. */
  readonly classWeights?: 'none' | 'balanced';
  /** Defaults to 'log-loss' (smooth, so less noisy than accuracy on small sets). */
  readonly criterion?: SelectionCriterion;
  /** L-BFGS gradient tolerance inside the CV. Defaults to DEFAULT_CV_TOLERANCE. */
  readonly cvTolerance?: number;
  /** Most folds. Defaults to {@link defaultFolds} (fewer when a class has fewer groups). */
  readonly maxFolds?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: ProgressListener;
}

export interface CrossValidation {
  /** Every candidate scored, in the order tried. */
  readonly table: CvScore[];
  readonly chosen: CvScore;
  /** Folds used and the fold of each image. */
  readonly k: number;
  readonly fold: Int32Array;
  /** Out-of-fold class probabilities of the chosen candidate, [images, K]. */
  readonly outOfFold: Float32Array;
  /** Mean of the chosen candidate's fold solutions: a warm start for the final fit. */
  readonly warmStart: Float64Array;
  /** Curvature pairs of one of its fold problems and that problem's L2 weight lambda = 1 / (C S), to move them. */
  readonly warmHistory?: { readonly history: LbfgsHistory; readonly lambda: number };
  /** The rows the problems ran on (see FoldLayout): plain views and (when any candidate used them) mirror images. */
  readonly rows: FeatureMatrix;
  /** The image of each of those rows. */
  readonly rowImages: Int32Array;
  /** Whether the scores count each image as its class's weight (class weights that are not all 1). */
  readonly classWeighted: boolean;
}

/**
 * Scores linear heads by stratified (grouped) k-fold cross-validation on the training images alone, along a
 * regularisation path, and picks the best. Every fold is one problem of a shared SoftmaxObjective, so each L-BFGS
 * step of all of them takes one pass over the rows. Along the path each problem starts from its solution at the
 * previous C, and the path stops two steps after no candidate improves (one, where the loss has clearly risen). The
 * path runs with the richest row set; the other row sets are scored at its best C.
 *
 * @param plain features of each image's plain view, [images, dim].
 * @param flipped features of each image's mirror image, same order; enables 'plain+flip' rows and test-time
 *   augmentation candidates.
 */
export async function crossValidateHeads(plain: FeatureMatrix, flipped: FeatureMatrix | undefined, options: CrossValidateOptions): Promise<CrossValidation> {
  const n = plain.count;
  const k = options.classNames.length;
  const { dim } = plain;
  if (flipped && (flipped.count !== n || flipped.dim !== dim)) throw new RangeError('flipped must have the same shape as plain');
  const grid = [...(options.cGrid ?? DEFAULT_C_GRID)].sort((a, b) => a - b);
  const variants = options.trainViews ?? (flipped ? (['plain', 'plain+flip'] as const) : (['plain'] as const));
  const ttas = options.tta ?? (flipped ? [false, true] : [false]);
  if ((variants.includes('plain+flip') || ttas.includes(true)) && !flipped) throw new RangeError("'plain+flip' rows and test-time augmentation need the flipped features");
  const criterion = options.criterion ?? 'log-loss';
  const folds = assignFolds(options.labels, options.classNames, options.groups, options.seed, options.maxFolds ?? defaultFolds(n));
  const usesFlipped = variants.includes('plain+flip') || ttas.includes(true);
  const classWeight = classWeightsFor(options.labels, k, options.classWeights ?? 'none');
  // Candidates are scored on the objective they train for: with class weights, each image counts as its class's.
  const scoreWeights = unlessAllOne(classWeight);
  // May move the caller's rows (laid out by fold in their buffer): every way out below puts them back.
  const byFold = paysToLayOutByFold(n, folds.k, k, dim, usesFlipped);
  const layout = arrangeRows(folds.fold, folds.k, plain, usesFlipped ? flipped : undefined, byFold);
  const { rows } = layout;
  let objective: SoftmaxObjective;
  try {
    objective = new SoftmaxObjective(rows, Int32Array.from(layout.image, (image) => options.labels[image]!), k);
  } catch (error) {
    layout.restore();
    throw error;
  }
  let arena: VectorArena | undefined;
  try {
    // One problem setting (fold, row set); C is set per path step.
    const settings: { fold: number; trainViews: MirrorViews; weights: Float32Array; mean: Float32Array; std: Float32Array }[] = [];
    for (let f = 0; f < folds.k; f++) {
      // Its training rows' column sums: every other fold's.
      const others = layout.sums.filter((_, g) => g !== f);
      const plainPart = addSums(others.map((o) => o.plain));
      for (const trainViews of variants) {
        const weights = new Float32Array(rows.count);
        layout.image.forEach((image, r) => {
          if (folds.fold[image] !== f && (trainViews === 'plain+flip' || layout.mirror[r] === 0)) weights[r] = classWeight[options.labels[image]!]!;
        });
        const sums = trainViews === 'plain+flip' ? addSums([plainPart, ...others.map((o) => o.mirror!)]) : plainPart;
        settings.push({ fold: f, trainViews, weights, ...statsOf(sums) });
      }
    }
    const candidates = variants.flatMap((trainViews) => ttas.map((tta) => ({ trainViews, tta })));
    const pathVariant = variants.at(-1)!;
    const onPath = settings.filter((s) => s.trainViews === pathVariant);
    // L-BFGS's vectors stay in one WebAssembly arena for the whole selection (its SIMD loops; see vector-space.ts),
    // handed from one C to the next uncopied; after each step every slot but the live ones below is given back. It
    // holds, besides a step's runs, the previous step's points and curvature pairs, the best points on the path and
    // each candidate's best curvature pairs.
    const pairs = 2 * DEFAULT_LBFGS_MEMORY;
    arena = VectorArena.create(objective.size, onPath.length * (arenaSlotsPerRun() + pairs + 2) + candidates.length * pairs);
    const inArena = arena ? { arena } : {};
    const table: CvScore[] = [];
    const best = new Map<string, { score: CvScore; step: number; outOfFold: Float32Array; warmStart: Float64Array; warmHistory?: CrossValidation['warmHistory'] }>();
    const record = (step: number, c: number, which: number[], points: Float64Array[], group: typeof settings, histories?: LbfgsHistory[]): Promise<void> =>
      scoreStep({ objective, which, points, settings: group, candidates: candidates.filter((cand) => group.some((g) => g.trainViews === cand.trainViews)), fold: folds.fold, layout, labels: options.labels, k, scoreWeights }).then((scores) => {
        objective.forget(which);
        const scored = scores.map(({ candidate, outOfFold, scores: s2 }) => ({ key: `${candidate.trainViews}/${candidate.tta}`, candidate, outOfFold, score: { head: 'linear', ...candidate, c, ...s2 } as CvScore }));
        table.push(...scored.map((e) => e.score));
        const improved = scored.filter((e) => {
          const previous = best.get(e.key);
          return !previous || isBetter(e.score, previous.score, criterion);
        });
        // The copied curvature pairs these replace go back to the arena first (those no other candidate holds), so that
        // the copies below take their slots: with each candidate's own copy, taken before the old one went, the copies
        // were a third of the arena's high-water mark (100 classes: 100 MB more memory touched).
        const held = new Set([...best.entries()].filter(([key]) => !improved.some((e) => e.key === key)).flatMap(([, b]) => b.warmHistory?.history.y ?? []));
        arena?.giveBack(new Set(improved.flatMap((e) => best.get(e.key)?.warmHistory?.history.y ?? []).filter((y) => !held.has(y))));
        // One warm start for the candidates of a row set that improve at this step (with and without test-time
        // augmentation): the mean of its fold solutions and a copy of one fold's curvature pairs.
        const warm = new Map<MirrorViews, { warmStart: Float64Array; warmHistory?: CrossValidation['warmHistory'] }>();
        const warmFor = (trainViews: MirrorViews): { warmStart: Float64Array; warmHistory?: CrossValidation['warmHistory'] } => {
          const first = group.findIndex((g) => g.trainViews === trainViews);
          const warmStart = meanOf(points.filter((_, j) => group[j]!.trainViews === trainViews));
          // Copied: the path moves its histories on to the next C in place.
          return histories?.[first] ? { warmStart, warmHistory: { history: copyHistory(histories[first]!, arena), lambda: objective.lambda(which[first]!) } } : { warmStart };
        };
        for (const { key, candidate, outOfFold, score } of improved) {
          if (!warm.has(candidate.trainViews)) warm.set(candidate.trainViews, warmFor(candidate.trainViews));
          best.set(key, { score, step, outOfFold, ...warm.get(candidate.trainViews)! });
        }
      });
    // The path runs on the richest row set only (the last variant); the others are scored at its best C, warm-started
    // from its solutions there: a pass over the rows costs in proportion to the problems in it.
    let points: Float64Array[] = onPath.map(() => new Float64Array(objective.size));
    let previous: { which: number[]; histories: LbfgsHistory[]; evaluations: (Evaluation | undefined)[] } | undefined;
    let bestPathPoints = points;
    let bestPathLoss = Infinity;
    let bestPathC = grid[0]!;
    /** The arena's vectors still needed when a step is done: the best points on the path, each candidate's best curvature pairs. */
    const bestVectors = (): Float64Array[] => [...bestPathPoints, ...[...best.values()].flatMap((b) => (b.warmHistory ? vectorsOf(b.warmHistory.history) : []))];
    for (const [step, c] of grid.entries()) {
      const which = onPath.map((s) => objective.addProblem({ rowWeights: s.weights, mean: s.mean, std: s.std, c }));
      // Warm starts: each problem's solution at the previous C, with its value, gradient and curvature pairs moved to
      // this C (no pass over the rows for the start: a tenth of a path's passes).
      const histories = previous && which.map((problem, j) => objective.carryHistory(previous!.histories[j]!, previous!.which[j]!, problem, arena));
      const startEvaluations = previous && which.map((problem, j) => previous!.evaluations[j] && objective.carryEvaluation(previous!.evaluations[j]!, points[j]!, previous!.which[j]!, problem, arena));
      // Each run consumes its carried history: what the best candidates keep of one is copied (see record).
      // The relative goal serves a path: each step need only move on from where the previous C left it. A C given
      // alone (--c) has no path: from zero that goal stopped a fifth of the way down, far from the optimum (flowers12
      // at C 3.16 scored CV 0.957 where the path scores it 0.983). The default path keeps its loose first step, which
      // the defaults were measured with (solving it too moved few-shot scores: bench/RESULTS.md).
      const relativeGradientTolerance = previous || grid.length > 1 ? CV_RELATIVE_TOLERANCE : 0;
      const minima = await minimizeSoftmax(objective, which, points, { gradientTolerance: options.cvTolerance ?? DEFAULT_CV_TOLERANCE, relativeGradientTolerance, histories, startEvaluations, consumesHistory: true, signal: options.signal, ...inArena });
      points = minima.map((m) => m.x);
      previous = { which, histories: minima.map((m) => m.history), evaluations: minima.map((m) => m.gradient && { f: m.f, gradient: m.gradient }) };
      await record(step, c, which, points, onPath, previous.histories);
      const pathBest = [...best.entries()].filter(([key]) => key.startsWith(`${pathVariant}/`)).map(([, b]) => b);
      const stepBest = Math.min(...pathBest.filter((b) => b.step === step).map((b) => b.score.logLoss));
      if (stepBest < bestPathLoss) {
        bestPathLoss = stepBest;
        bestPathPoints = points;
        bestPathC = c;
      }
      options.onProgress?.({ type: 'select', step: step + 1, steps: grid.length, c, best: bestOf([...best.values()].map((b) => b.score), criterion) });
      arena?.retainOnly([...points, ...previous.histories.flatMap(vectorsOf), ...previous.evaluations.flatMap((e) => (e ? [e.gradient] : [])), ...bestVectors()]);
      // The path has passed every candidate's optimum: two steps ago, or one step ago and the loss has clearly risen.
      const here = table.filter((t) => t.c === c && t.trainViews === pathVariant);
      const risen = (b: { score: CvScore }): boolean => criterion === 'log-loss' && here.some((t) => t.tta === b.score.tta && t.logLoss > b.score.logLoss * (1 + CLEAR_RISE));
      if (pathBest.every((b) => step - b.step >= 2 || (step - b.step === 1 && risen(b)))) break;
    }
    arena?.retainOnly(bestVectors());
    for (const variant of variants.filter((v) => v !== pathVariant)) {
      const group = settings.filter((s) => s.trainViews === variant);
      const which = group.map((s) => objective.addProblem({ rowWeights: s.weights, mean: s.mean, std: s.std, c: bestPathC }));
      const starts = group.map((s) => bestPathPoints[onPath.findIndex((p) => p.fold === s.fold)]!);
      const minima = await minimizeSoftmax(objective, which, starts, { gradientTolerance: options.cvTolerance ?? DEFAULT_CV_TOLERANCE, relativeGradientTolerance: CV_RELATIVE_TOLERANCE, signal: options.signal, ...inArena });
      await record(grid.indexOf(bestPathC), bestPathC, which, minima.map((m) => m.x), group, minima.map((m) => m.history));
    }
    const winner = [...best.values()].reduce((a, b) => (isBetter(b.score, a.score, criterion) ? b : a));
    // Copied out of the arena, so that its memory can go once the selection is done.
    const warmHistory = winner.warmHistory && { ...winner.warmHistory, history: { s: winner.warmHistory.history.s.map((v) => new Float64Array(v)), y: winner.warmHistory.history.y.map((v) => new Float64Array(v)) } };
    // The rows the final fit may reuse: the caller's, back in their order, or the copy.
    layout.restore();
    const rowImages = layout.movedInPlace ? Int32Array.from({ length: rows.count }, (_, r) => r % n) : layout.image;
    return { table, chosen: winner.score, k: folds.k, fold: folds.fold, outOfFold: winner.outOfFold, warmStart: winner.warmStart, ...(warmHistory ? { warmHistory } : {}), rows, rowImages, classWeighted: scoreWeights !== undefined };
  } finally {
    layout.restore();
    // Nothing returned lives in the arena: its memory goes to the final fit's.
    arena?.release();
    await objective.dispose();
  }
}

function vectorsOf(history: LbfgsHistory): Float64Array[] {
  return [...history.s, ...history.y];
}

/** Out-of-fold probabilities and scores of each candidate trained by the given problems (one per fold). */
async function scoreStep(parts: {
  objective: SoftmaxObjective;
  which: number[];
  points: Float64Array[];
  settings: readonly { fold: number; trainViews: MirrorViews }[];
  candidates: readonly { trainViews: MirrorViews; tta: boolean }[];
  fold: Int32Array;
  layout: Pick<FoldLayout, 'image' | 'mirror'>;
  labels: Int32Array;
  k: number;
  scoreWeights: Float32Array | undefined;
}): Promise<{ candidate: { trainViews: MirrorViews; tta: boolean }; outOfFold: Float32Array; scores: { accuracy: number; logLoss: number } }[]> {
  const { settings, candidates, fold, k } = parts;
  const n = parts.labels.length;
  const outOfFold = candidates.map(() => new Float32Array(n * k));
  await parts.objective.predict(parts.which, parts.points, (start, count, probabilities) => {
    for (let r = start; r < start + count; r++) {
      const image = parts.layout.image[r]!;
      const isFlip = parts.layout.mirror[r] === 1;
      settings.forEach((s, j) => {
        if (fold[image] !== s.fold) return;
        candidates.forEach((cand, ci) => {
          if (cand.trainViews !== s.trainViews || (isFlip && !cand.tta)) return;
          const share = cand.tta ? 0.5 : 1;
          const target = outOfFold[ci]!;
          const from = ((r - start) * settings.length + j) * k;
          for (let c = 0; c < k; c++) target[image * k + c] = target[image * k + c]! + share * probabilities[from + c]!;
        });
      });
    }
  });
  return candidates.map((candidate, ci) => ({ candidate, outOfFold: outOfFold[ci]!, scores: scoreProbabilities(outOfFold[ci]!, parts.labels, k, parts.scoreWeights) }));
}

/**
 * Folds by data size: 5 (the reference probe's) below 2000 images; 3 from there, where each fold's estimate is
 * already steady and every fold costs a fit.
 */
export function defaultFolds(images: number): number {
  return images < 2000 ? 5 : 3;
}

/**
 * L-BFGS tolerances inside the cross-validation: done when the largest gradient component is below the absolute
 * one, or has fallen to the relative share of where the warm start left it. Choices between candidates need no
 * more (measured in bench/RESULTS.md); the final fit goes to FINAL_GRADIENT_TOLERANCE (1e-4, sklearn's default).
 */
export const DEFAULT_CV_TOLERANCE = 3e-4;

/**
 * One step past a candidate's best C is enough once its CV log-loss has risen there by more than this share: the
 * second step is for plateaus, where a later C may still win. In 48 CV tables (bench/cv-tables.mjs: five datasets and
 * three 3 000-image sets, two backbones, three seeds), a later step beat the best twice, both on flowers12 where the
 * next step had moved the loss by < 0.001%; a rise of 0.01% to 5% was never undone. Steps at large C are the dearest
 * of a path (bench/RESULTS.md).
 */
const CLEAR_RISE = 0.005;
const CV_RELATIVE_TOLERANCE = 0.2;

/**
 * Log-losses closer than this share are a tie, kept by the candidate found first (on the path: the smaller C, the
 * stronger regularisation). They come from float32 probabilities, so the 7th digit is rounding: at large C the runs
 * barely move from their warm starts and consecutive C steps score within 1e-7 of each other, one way or the other.
 */
const TIE = 1e-6;

/** Whether score `a` beats `b` (found earlier) under the criterion; ties (see TIE) keep `b`. */
export function isBetter(a: CvScore, b: CvScore, criterion: SelectionCriterion): boolean {
  if (criterion === 'accuracy' && a.accuracy !== b.accuracy) return a.accuracy > b.accuracy;
  return a.logLoss < b.logLoss * (1 - TIE);
}

function bestOf(scores: CvScore[], criterion: SelectionCriterion): CvScore {
  return scores.reduce((a, b) => (isBetter(b, a, criterion) ? b : a));
}

/**
 * Accuracy and mean log-loss of probabilities [n, K] against labels; with `classWeights`, each image counts as its
 * class's weight (with 'balanced' weights the accuracy is then the mean recall over classes).
 */
export function scoreProbabilities(probabilities: Float32Array, labels: Int32Array, k: number, classWeights?: Float32Array): { accuracy: number; logLoss: number } {
  let correct = 0;
  let loss = 0;
  let total = 0;
  for (let i = 0; i < labels.length; i++) {
    const w = classWeights ? classWeights[labels[i]!]! : 1;
    let argmax = 0;
    for (let c = 1; c < k; c++) if (probabilities[i * k + c]! > probabilities[i * k + argmax]!) argmax = c;
    if (argmax === labels[i]) correct += w;
    loss -= w * Math.log(Math.max(probabilities[i * k + labels[i]!]!, 1e-15));
    total += w;
  }
  return { accuracy: correct / total, logLoss: loss / total };
}

/** The mean of fold solutions: a warm start for a fit on all the rows. */
export function meanOf(points: Float64Array[]): Float64Array {
  const mean = new Float64Array(points[0]!.length);
  for (const p of points) for (let i = 0; i < mean.length; i++) mean[i] = mean[i]! + p[i]! / points.length;
  return mean;
}

