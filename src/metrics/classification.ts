/**
 * Classification metrics as pure functions: no I/O, no globals, nothing kept between calls.
 * `evaluatePredictions` composes the small building blocks below into one report; each block is usable alone.
 */

import { argmax } from './argmax.js';
import { calibration, isProbabilityMatrix, logLoss, type Calibration } from './calibration.js';
import { wilsonInterval, type ProportionInterval } from './interval.js';

export { argmax };

/** Scores of one class. */
export interface ClassScores {
  /** Of the samples predicted as this class, the fraction that are it. 0 when the class was never predicted. */
  readonly precision: number;
  /** Of the samples of this class, the fraction predicted as it. 0 when the class has no samples (support 0). */
  readonly recall: number;
  /** Harmonic mean of precision and recall; 0 when both are 0. */
  readonly f1: number;
  /** Number of samples whose true class is this one. */
  readonly support: number;
}

/** A wrongly classified sample. */
export interface Misclassification {
  /** Position of the sample in the inputs. */
  readonly index: number;
  /** The sample's file, when `files` was given. */
  readonly file: string | undefined;
  readonly true: string;
  readonly predicted: string;
  /** Probability the model gave the predicted (wrong) class. */
  readonly confidence: number;
}

/** Samples of one class predicted as another, as counted in a confusion matrix cell off its diagonal. */
export interface ConfusedPair {
  readonly true: string;
  readonly predicted: string;
  readonly count: number;
}

/** Everything `evaluatePredictions` measures. Plain data: serialises to JSON as is. */
export interface EvaluationReport {
  /** Number of samples. */
  readonly count: number;
  readonly accuracy: number;
  /**
   * The 95% confidence interval of `accuracy` (Wilson score): where the accuracy on all images like these probably
   * lies. On 150 test images it is about ±4 points wide; two models whose intervals overlap well are not told apart.
   */
  readonly accuracyInterval: ProportionInterval;
  /** Mean recall over the classes that occur (scikit-learn's `balanced_accuracy_score`): each class counts alike. */
  readonly balancedAccuracy: number;
  /** Fraction whose true class is among the 5 most probable; present only when there are more than 5 classes. */
  readonly top5?: number;
  readonly perClass: Record<string, ClassScores>;
  /**
   * Unweighted mean of the per-class F1 over the classes that occur in the evaluation set or were predicted
   * (scikit-learn's default label set): a class that neither occurs nor is predicted says nothing about the model.
   */
  readonly macroF1: number;
  /** `matrix[t][p]` counts samples of true class `t` predicted as `p` (rows = true, columns = predicted). */
  readonly confusion: { readonly labels: readonly string[]; readonly matrix: number[][] };
  /** Every wrong prediction, most confident first (ties: input order). */
  readonly misclassified: readonly Misclassification[];
  /** Every (true, predicted) pair of classes confused at least once, most often first: the confusion matrix read for its mistakes. */
  readonly mostConfused: readonly ConfusedPair[];
  /** Mean cross-entropy of the true class; present when every row of scores is a probability distribution. */
  readonly logLoss?: number;
  /** The calibration of the top-1 confidence (10 bins); present when every row of scores is a probability distribution. */
  readonly calibration?: Calibration;
}

/** Input of {@link evaluatePredictions}. */
export interface PredictionSet {
  /** Class names; index i names column i of `probabilities`. */
  readonly labels: readonly string[];
  /** True class index of each sample. */
  readonly trueIndex: Int32Array | readonly number[];
  /** n x k row-major scores (probabilities or logits: only their order and the predicted class's value are used). */
  readonly probabilities: Float32Array;
  /** Optional file of each sample, reported in `misclassified`. */
  readonly files?: readonly string[];
}

type IndexArray = Int32Array | readonly number[];

/**
 * The predicted class (argmax, ties to the lowest index) of every row of an n x k row-major matrix.
 *
 * @example
 * ```ts
 * predictedIndices(new Float32Array([0.2, 0.8, 0.6, 0.4]), 2); // Int32Array [1, 0]
 * ```
 */
export function predictedIndices(probabilities: ArrayLike<number>, numClasses: number): Int32Array {
  checkMatrix(probabilities, numClasses);
  const n = probabilities.length / numClasses;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = argmax(probabilities, i * numClasses, numClasses);
  return out;
}

/**
 * Counts of (true, predicted) pairs: `matrix[t][p]`, rows = true class, columns = predicted class.
 *
 * @throws RangeError when the arrays differ in length or hold an index outside [0, numClasses).
 * @example
 * ```ts
 * confusionMatrix([0, 0, 1, 2], [0, 1, 1, 1], 3); // [[1, 1, 0], [0, 1, 0], [0, 1, 0]]
 * ```
 */
export function confusionMatrix(trueIndex: IndexArray, predictedIndex: IndexArray, numClasses: number): number[][] {
  checkPairs(trueIndex, predictedIndex, numClasses);
  const matrix = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < trueIndex.length; i++) matrix[trueIndex[i]!]![predictedIndex[i]!]! += 1;
  return matrix;
}

/**
 * Fraction of samples whose predicted class is the true class.
 *
 * @throws RangeError when the arrays are empty or differ in length.
 * @example
 * ```ts
 * accuracy([0, 0, 1, 2], [0, 1, 1, 1]); // 0.5
 * ```
 */
export function accuracy(trueIndex: IndexArray, predictedIndex: IndexArray): number {
  checkPairs(trueIndex, predictedIndex);
  let correct = 0;
  for (let i = 0; i < trueIndex.length; i++) if (trueIndex[i] === predictedIndex[i]) correct++;
  return correct / trueIndex.length;
}

/**
 * Fraction of samples whose true class is among the `topK` highest scores of its row.
 * Ties are ranked as `argmax` breaks them (lower index first), so `topKAccuracy(..., 1)` equals `accuracy`.
 *
 * @param probabilities - n x numClasses row-major scores.
 * @throws RangeError for mismatched sizes, an index out of range, or `topK` < 1.
 * @example
 * ```ts
 * // rows: [0.5, 0.3, 0.2] (true 1: rank 2) and [0.1, 0.1, 0.8] (true 0: rank 2, ahead of class 1 on the tie)
 * topKAccuracy([1, 0], new Float32Array([0.5, 0.3, 0.2, 0.1, 0.1, 0.8]), 3, 2); // 1
 * topKAccuracy([1, 0], new Float32Array([0.5, 0.3, 0.2, 0.1, 0.1, 0.8]), 3, 1); // 0
 * ```
 */
export function topKAccuracy(trueIndex: IndexArray, probabilities: ArrayLike<number>, numClasses: number, topK: number): number {
  checkMatrix(probabilities, numClasses);
  const n = probabilities.length / numClasses;
  if (trueIndex.length !== n) {
    throw new RangeError(`topKAccuracy: ${trueIndex.length} true indices for ${n} rows of probabilities`);
  }
  if (!Number.isInteger(topK) || topK < 1) throw new RangeError(`topKAccuracy: topK must be an integer >= 1. Received: ${topK}`);
  checkIndices('trueIndex', trueIndex, numClasses);
  if (n === 0) throw new RangeError('topKAccuracy: no samples');
  let hits = 0;
  for (let i = 0; i < n; i++) {
    const row = i * numClasses;
    const t = trueIndex[i]!;
    const trueScore = normalise(probabilities[row + t]!);
    let ahead = 0; // classes ranked before the true one
    for (let c = 0; c < numClasses && ahead < topK; c++) {
      const score = normalise(probabilities[row + c]!);
      if (score > trueScore || (score === trueScore && c < t)) ahead++;
    }
    if (ahead < topK) hits++;
  }
  return hits / n;
}

/**
 * Precision, recall, F1 and support of every class, from a confusion matrix (rows = true, columns = predicted).
 * Precision is 0 for a class never predicted, recall is 0 for a class with no samples, F1 is 0 when both are 0
 * (scikit-learn's `zero_division=0`).
 *
 * @example
 * ```ts
 * perClassScores([[1, 1, 0], [0, 1, 0], [0, 1, 0]]);
 * // [{ precision: 1, recall: 0.5, f1: 2/3, support: 2 },
 * //  { precision: 1/3, recall: 1, f1: 0.5, support: 1 },
 * //  { precision: 0, recall: 0, f1: 0, support: 1 }]   (class 2 is never predicted)
 * ```
 */
export function perClassScores(matrix: readonly (readonly number[])[]): ClassScores[] {
  const k = matrix.length;
  for (const row of matrix) {
    if (row.length !== k) throw new RangeError(`perClassScores: the confusion matrix must be square; got a row of ${row.length} in ${k} rows`);
  }
  return matrix.map((row, c) => {
    const truePositives = row[c]!;
    const support = row.reduce((sum, v) => sum + v, 0);
    const predicted = matrix.reduce((sum, r) => sum + r[c]!, 0);
    const precision = predicted === 0 ? 0 : truePositives / predicted;
    const recall = support === 0 ? 0 : truePositives / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    return { precision, recall, f1, support };
  });
}

/**
 * Whether class `c` has no image in the confusion matrix and none predicted as it: its precision and recall are 0/0,
 * undefined rather than 0, so it is left out of macro F1 and printed as a dash.
 */
export function isAbsentClass(matrix: readonly (readonly number[])[], c: number): boolean {
  return matrix.every((row, t) => row[c] === 0 && (t !== c || row.every((v) => v === 0)));
}

/**
 * Every off-diagonal cell of a confusion matrix that is not 0, as (true, predicted, count), the largest count first
 * (ties: by true class, then predicted class, in label order). fastai's `most_confused`.
 *
 * @example
 * ```ts
 * mostConfused([[5, 2, 0], [1, 4, 0], [0, 2, 3]], ['a', 'b', 'c']);
 * // [{ true: 'a', predicted: 'b', count: 2 }, { true: 'c', predicted: 'b', count: 2 }, { true: 'b', predicted: 'a', count: 1 }]
 * ```
 */
export function mostConfused(matrix: readonly (readonly number[])[], labels: readonly string[]): ConfusedPair[] {
  if (matrix.length !== labels.length) throw new RangeError(`mostConfused: ${matrix.length} matrix rows for ${labels.length} labels`);
  const pairs: ConfusedPair[] = [];
  matrix.forEach((row, t) =>
    row.forEach((count, p) => {
      if (t !== p && count > 0) pairs.push({ true: labels[t]!, predicted: labels[p]!, count });
    }),
  );
  return pairs.sort((a, b) => b.count - a.count); // stable: ties keep row-major (label) order
}

/**
 * Scores a classifier's outputs on a labelled set: accuracy, balanced accuracy, top-5 (when there are more than 5
 * classes), per-class precision/recall/F1, macro F1, the confusion matrix, the pairs of classes most confused, the
 * misclassified samples, and, for probabilities, log-loss and calibration.
 *
 * @throws RangeError when sizes disagree (probabilities not n x labels.length, files not n long), a true index is
 *   out of range, or there are no samples; TypeError when labels repeat.
 * @example
 * ```ts
 * const report = evaluatePredictions({
 *   labels: ['ants', 'bees'],
 *   trueIndex: [0, 1, 1],
 *   probabilities: new Float32Array([0.9, 0.1, 0.3, 0.7, 0.8, 0.2]),
 *   files: ['a.jpg', 'b.jpg', 'c.jpg'],
 * });
 * report.accuracy;         // 2/3
 * report.accuracyInterval; // { level: 0.95, low: ≈0.208, high: ≈0.939 }: 3 samples say little
 * report.misclassified[0]; // { index: 2, file: 'c.jpg', true: 'bees', predicted: 'ants', confidence: 0.8 }
 * report.balancedAccuracy; // 0.75 (ants 1 of 1, bees 1 of 2)
 * report.mostConfused;     // [{ true: 'bees', predicted: 'ants', count: 1 }]
 * report.logLoss;          // (−ln 0.9 − ln 0.7 − ln 0.2) / 3 ≈ 0.6905
 * report.calibration?.ece; // (|1 − 0.9| + |1 − 0.7| + |0 − 0.8|) / 3 = 0.4
 * ```
 */
export function evaluatePredictions(input: PredictionSet): EvaluationReport {
  const { labels, trueIndex, probabilities, files } = input;
  const k = labels.length;
  if (k < 1) throw new RangeError('evaluatePredictions: labels is empty');
  if (trueIndex.length === 0) throw new RangeError('evaluatePredictions: no samples to evaluate');
  if (new Set(labels).size !== k) throw new TypeError(`evaluatePredictions: labels must be distinct. Received: ${JSON.stringify(labels)}`);
  if (!(probabilities instanceof Float32Array)) throw new TypeError('evaluatePredictions: probabilities must be a Float32Array (n x k, row-major)');
  if (probabilities.length !== trueIndex.length * k) {
    throw new RangeError(
      `evaluatePredictions: probabilities has ${probabilities.length} values; expected ${trueIndex.length} samples x ${k} labels = ${trueIndex.length * k}`,
    );
  }
  if (files !== undefined && files.length !== trueIndex.length) {
    throw new RangeError(`evaluatePredictions: ${files.length} files for ${trueIndex.length} samples`);
  }
  const predicted = predictedIndices(probabilities, k);
  const matrix = confusionMatrix(trueIndex, predicted, k);
  const scores = perClassScores(matrix);

  // Defined, not assigned: a class named __proto__ would otherwise set the object's prototype and vanish.
  const perClass: Record<string, ClassScores> = Object.fromEntries(labels.map((label, c) => [label, scores[c]!]));
  const counted = scores.filter((_, c) => !isAbsentClass(matrix, c));
  const macroF1 = counted.reduce((sum, s) => sum + s.f1, 0) / counted.length;

  const misclassified: Misclassification[] = [];
  for (let i = 0; i < predicted.length; i++) {
    const t = trueIndex[i]!;
    const p = predicted[i]!;
    if (t === p) continue;
    misclassified.push({ index: i, file: files?.[i], true: labels[t]!, predicted: labels[p]!, confidence: probabilities[i * k + p]! });
  }
  misclassified.sort((a, b) => b.confidence - a.confidence || a.index - b.index);

  const present = scores.filter((s) => s.support > 0);
  const probabilistic = isProbabilityMatrix(probabilities, k);
  return {
    count: predicted.length,
    accuracy: accuracy(trueIndex, predicted),
    accuracyInterval: wilsonInterval(predicted.length - misclassified.length, predicted.length),
    balancedAccuracy: present.reduce((sum, s) => sum + s.recall, 0) / present.length,
    ...(k > 5 ? { top5: topKAccuracy(trueIndex, probabilities, k, 5) } : {}),
    perClass,
    macroF1,
    confusion: { labels: [...labels], matrix },
    misclassified,
    mostConfused: mostConfused(matrix, labels),
    ...(probabilistic ? { logLoss: logLoss(trueIndex, probabilities, k), calibration: calibration(trueIndex, probabilities, k) } : {}),
  };
}

/** NaN ranks below every number, as in `argmax`. */
function normalise(score: number): number {
  return Number.isNaN(score) ? -Infinity : score;
}

function checkMatrix(values: ArrayLike<number>, numClasses: number): void {
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new RangeError(`numClasses must be an integer >= 1. Received: ${numClasses}`);
  if (values.length % numClasses !== 0) {
    throw new RangeError(`${values.length} scores do not make rows of ${numClasses} classes`);
  }
}

function checkPairs(trueIndex: IndexArray, predictedIndex: IndexArray, numClasses?: number): void {
  if (trueIndex.length !== predictedIndex.length) {
    throw new RangeError(`${trueIndex.length} true indices but ${predictedIndex.length} predicted indices`);
  }
  if (numClasses === undefined) {
    if (trueIndex.length === 0) throw new RangeError('no samples');
    return;
  }
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new RangeError(`numClasses must be an integer >= 1. Received: ${numClasses}`);
  checkIndices('trueIndex', trueIndex, numClasses);
  checkIndices('predictedIndex', predictedIndex, numClasses);
}

function checkIndices(name: string, indices: IndexArray, numClasses: number): void {
  for (let i = 0; i < indices.length; i++) {
    const v = indices[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= numClasses) {
      throw new RangeError(`${name}[${i}] must be a class index in [0, ${numClasses}). Received: ${v}`);
    }
  }
}
