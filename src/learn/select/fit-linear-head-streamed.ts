import { GraftError } from '../../core/errors.js';
import { foldNormalization, type DenseLayerWeights } from '../../core/dense-layer.js';
import { deriveSeed, mulberry32, shuffleInPlace } from '../../core/random.js';
import { subsetRowSource, type RowSource } from '../../features/feature-rows.js';
import { minimizeSoftmax } from '../linear/minimize.js';
import { SoftmaxObjective } from '../linear/softmax-objective.js';
import { columnStats } from './column-stats.js';
import { classWeightsFor } from '../class-weights.js';
import { FINAL_GRADIENT_TOLERANCE, fitLinearHead, type LinearHead, type LinearHeadOptions } from './fit-linear-head.js';
import { groupKeys } from './folds.js';

/** Rows of the cross-validation when the caller does not say: 20k rows of 1280 floats is 100 MB. */
export const DEFAULT_SELECTION_ROWS = 20_000;

/** Training rows too many to hold in memory, read by position (e.g. spilled to a file, see spillRows). */
export interface StreamedTrainingRows extends RowSource {
  /** Label id of every row. */
  readonly labels: Int32Array;
  readonly classNames: readonly string[];
  /** Files of the given rows (ascending row indexes), for label issues and --group-by. */
  filesOf(rows: readonly number[]): string[];
}

/** Options for {@link fitLinearHeadStreamed}: those of {@link fitLinearHead} for one view of each image. */
export interface StreamedLinearHeadOptions extends Omit<LinearHeadOptions, 'trainViews' | 'tta'> {
  /** Rows the cross-validation runs on (a stratified sample). Defaults to {@link DEFAULT_SELECTION_ROWS}. */
  readonly selectionRows?: number;
  /** A regular expression whose first match in a file's path names its group (see groupKeys). */
  readonly groupBy?: string;
  /** Most passes of the full fit. Defaults to 500. */
  readonly maxIterations?: number;
}

/**
 * The default linear head on more rows than memory holds. What is chosen (C) is chosen by the same cross-validation
 * as {@link fitLinearHead}, on a stratified, seeded sample of the rows (a choice of C needs thousands of rows, not a
 * million); label issues are those of the sample. The chosen head is then refitted on every row to sklearn's
 * tolerance by L-BFGS, one streamed pass over the rows per evaluation, warm-started from the sample's solution. Memory
 * is one block of rows plus O(rows x classes) numbers (labels, weights, the last pass's probabilities), never the
 * rows x dim matrix.
 */
export async function fitLinearHeadStreamed(rows: StreamedTrainingRows, options: StreamedLinearHeadOptions): Promise<LinearHead> {
  const k = rows.classNames.length;
  if (k < 2) throw new GraftError('INVALID_DATASET', `Training needs at least 2 classes. Received: ${k}`);
  if (rows.count === 0) throw new GraftError('INVALID_DATASET', 'No training rows');
  const sample = stratifiedSample(rows.labels, k, options.selectionRows ?? DEFAULT_SELECTION_ROWS, options.seed);
  const files = rows.filesOf(sample);
  options.onProgress?.({ type: 'info', message: `choosing the head by cross-validation on a stratified sample of ${sample.length} of ${rows.count} training rows` });
  const onSample = await fitLinearHead(
    {
      plain: { data: subsetRowSource(rows, sample).read(0, sample.length), count: sample.length, dim: rows.dim },
      labels: Int32Array.from(sample, (r) => rows.labels[r]!),
      classNames: rows.classNames,
      files,
      ...(options.groupBy ? { groups: groupKeys(files, options.groupBy) } : {}),
    },
    { ...options, trainViews: 'plain', tta: false },
  );
  if (sample.length === rows.count) return onSample;

  const started = performance.now();
  const perClass = classWeightsFor(rows.labels, k, options.classWeights);
  const weights = Float32Array.from(rows.labels, (l) => perClass[l]!);
  const stats = columnStats(rows, weights);
  const objective = new SoftmaxObjective(rows, rows.labels, k);
  try {
    const problem = objective.addProblem({ rowWeights: weights, mean: stats.mean, std: stats.std, c: onSample.c });
    const [minimum] = await minimizeSoftmax(objective, [problem], [standardised(onSample.layers[0]!, stats)], {
      gradientTolerance: FINAL_GRADIENT_TOLERANCE,
      maxIterations: options.maxIterations ?? 500,
      signal: options.signal,
      onPass: (passes, [f]) => options.onProgress?.({ type: 'info', message: `full fit on ${rows.count} rows: pass ${passes}, loss ${f!.toFixed(5)}` }),
    });
    const { x, iterations, status } = minimum!;
    const dim = rows.dim;
    const layer: DenseLayerWeights = { inputDim: dim, outputDim: k, weight: Float32Array.from(x.subarray(0, dim * k)), bias: Float32Array.from(x.subarray(dim * k)), activation: 'softmax' };
    return {
      ...onSample,
      layers: foldNormalization([layer], stats),
      selection: onSample.selection ? { ...onSample.selection, sample: { rows: sample.length, of: rows.count } } : null,
      fit: { iterations, status, seconds: (performance.now() - started) / 1000 },
    };
  } finally {
    await objective.dispose();
  }
}

/**
 * Up to `size` row indexes, ascending, each class sampled in proportion to its rows (seeded), with at least
 * min(rows of the class, 10) from every class so that small classes can still be cross-validated.
 */
export function stratifiedSample(labels: Int32Array, k: number, size: number, seed: number): number[] {
  if (labels.length <= size) return Array.from(labels.keys());
  const byClass: number[][] = Array.from({ length: k }, () => []);
  labels.forEach((label, row) => byClass[label]!.push(row));
  const random = mulberry32(deriveSeed(seed, 'stratified-sample'));
  const picked: number[] = [];
  for (const members of byClass) {
    const take = Math.min(members.length, Math.max(10, Math.round((members.length * size) / labels.length)));
    picked.push(...shuffleInPlace(members, random).slice(0, take));
  }
  return picked.sort((a, b) => a - b);
}

/** Parameters [W, b] on standardised features equal to a Dense layer on raw features: the inverse of foldNormalization. */
function standardised(layer: DenseLayerWeights, stats: { mean: Float32Array; std: Float32Array }): Float64Array {
  const { inputDim: dim, outputDim: k } = layer;
  const x = new Float64Array(dim * k + k);
  for (let c = 0; c < k; c++) x[dim * k + c] = layer.bias?.[c] ?? 0;
  for (let i = 0; i < dim; i++) {
    for (let c = 0; c < k; c++) {
      const w = layer.weight[i * k + c]!;
      x[i * k + c] = w * stats.std[i]!;
      x[dim * k + c] = x[dim * k + c]! + stats.mean[i]! * w;
    }
  }
  return x;
}
