/**
 * How far a classifier's probabilities can be taken at their word: log-loss and the calibration of its top-1
 * confidence. Pure functions over n x k row-major probability matrices, like the rest of `metrics/`.
 */

import { mulberry32 } from '../core/random.js';
import { argmax } from './argmax.js';

/** One confidence bin of a reliability diagram. */
export interface CalibrationBin {
  /** The bin's confidence range, `[from, to)` (the last bin includes 1). */
  readonly from: number;
  readonly to: number;
  /** Samples whose top-1 confidence falls in the bin. */
  readonly count: number;
  /** Their mean top-1 confidence. */
  readonly confidence: number;
  /** The fraction of them predicted right. */
  readonly accuracy: number;
}

/** The calibration of the top-1 confidence: does "90% sure" come true 90% of the time? */
export interface Calibration {
  /**
   * Expected calibration error (Guo et al., 2017): |accuracy − mean confidence| of each bin, weighted by its share of
   * the samples. 0 for a calibrated model; 0.05 means its confidence is off by 5 points on average.
   */
  readonly ece: number;
  /**
   * The calibration error a perfectly calibrated model would reach 1 time in 20 with these confidences on this many
   * samples (each right with the probability it was given; 400 seeded simulations). An `ece` below it is within
   * chance: on 150 test images it is about 0.04, so a small set cannot show a small miscalibration.
   */
  readonly eceByChance: number;
  /** Mean top-1 confidence over all samples; above `accuracy` the model is overconfident, below it underconfident. */
  readonly confidence: number;
  /** The bins that hold samples, lowest confidence first. */
  readonly bins: readonly CalibrationBin[];
}

/** Probabilities are clipped here before the log, as scikit-learn does, so a confident mistake costs ~34.5, not ∞. */
const MIN_PROBABILITY = 1e-15;

/**
 * True when every row of the n x k matrix is a probability distribution: values in [0, 1] summing to 1 (to 1e-6 and
 * 1e-3, for float32 rounding: a softmax may round a sure answer to 1.0000001). Scores that are not (logits, a model's
 * raw outputs) have no log-loss or calibration.
 */
export function isProbabilityMatrix(values: ArrayLike<number>, numClasses: number): boolean {
  if (!Number.isInteger(numClasses) || numClasses < 1 || values.length % numClasses !== 0) return false;
  for (let row = 0; row < values.length; row += numClasses) {
    let sum = 0;
    for (let c = 0; c < numClasses; c++) {
      const v = values[row + c]!;
      if (!(v >= -1e-6 && v <= 1 + 1e-6)) return false; // NaN fails too
      sum += v;
    }
    if (Math.abs(sum - 1) > 1e-3) return false;
  }
  return true;
}

/**
 * Mean negative log-probability of the true class (cross-entropy), the probability clipped at 1e-15 from below.
 *
 * @throws RangeError when sizes disagree or there are no samples.
 * @example
 * ```ts
 * logLoss([0, 1], new Float32Array([0.8, 0.2, 0.4, 0.6]), 2); // (−ln 0.8 − ln 0.6) / 2 ≈ 0.367
 * ```
 */
export function logLoss(trueIndex: ArrayLike<number>, probabilities: ArrayLike<number>, numClasses: number): number {
  const n = checkSizes(trueIndex, probabilities, numClasses, 'logLoss');
  let total = 0;
  for (let i = 0; i < n; i++) total -= Math.log(Math.max(MIN_PROBABILITY, probabilities[i * numClasses + trueIndex[i]!]!));
  return total / n;
}

/**
 * The calibration of the top-1 confidence over `bins` equal-width bins of [0, 1] (default 10). The top-1 class is
 * the argmax (ties to the lowest index), as everywhere in `metrics/`.
 *
 * @throws RangeError when sizes disagree, there are no samples, or `bins` is not a positive integer.
 * @example
 * ```ts
 * // two samples at 0.9 (one right), one at 0.6 (right): bins [0.6, 0.7) and [0.9, 1]
 * calibration([0, 0, 1], new Float32Array([0.9, 0.1, 0.1, 0.9, 0.4, 0.6]), 2).ece;
 * // (2/3)·|0.5 − 0.9| + (1/3)·|1 − 0.6| = 0.4
 * ```
 */
export function calibration(trueIndex: ArrayLike<number>, probabilities: ArrayLike<number>, numClasses: number, bins = 10): Calibration {
  const n = checkSizes(trueIndex, probabilities, numClasses, 'calibration');
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`calibration: bins must be an integer >= 1. Received: ${bins}`);
  const counts = new Float64Array(bins);
  const confidenceSums = new Float64Array(bins);
  const right = new Float64Array(bins);
  const confidences = new Float64Array(n);
  const binIndex = new Int32Array(n);
  let confidenceTotal = 0;
  for (let i = 0; i < n; i++) {
    const row = i * numClasses;
    const best = argmax(probabilities, row, numClasses);
    const confidence = probabilities[row + best]!;
    const b = binOf(confidence, bins);
    confidences[i] = confidence;
    binIndex[i] = b;
    counts[b]! += 1;
    confidenceSums[b]! += confidence;
    confidenceTotal += confidence;
    if (best === trueIndex[i]) right[b]! += 1;
  }
  const filled: CalibrationBin[] = [];
  let ece = 0;
  for (let b = 0; b < bins; b++) {
    const count = counts[b]!;
    if (count === 0) continue;
    const confidence = confidenceSums[b]! / count;
    const accuracy = right[b]! / count;
    ece += (count / n) * Math.abs(accuracy - confidence);
    filled.push({ from: b / bins, to: (b + 1) / bins, count, confidence, accuracy });
  }
  return { ece, eceByChance: eceByChance(confidences, binIndex, bins), confidence: confidenceTotal / n, bins: filled };
}

/** Simulated draws of the calibration error of a calibrated model; their 95th percentile is `eceByChance`. */
const CHANCE_RUNS = 400;
/** From this many samples a bin's sum of (outcome − confidence) is drawn as the normal it is close to, not sample by sample. */
const NORMAL_FROM = 50;

/**
 * The 95th percentile of the ECE of outcomes drawn as a calibrated model's (sample i right with probability
 * `confidences[i]`), the bins as they are. Seeded, so the same predictions give the same number.
 */
function eceByChance(confidences: Float64Array, binIndex: Int32Array, bins: number): number {
  const n = confidences.length;
  const members: number[][] = Array.from({ length: bins }, () => []);
  for (let i = 0; i < n; i++) members[binIndex[i]!]!.push(confidences[i]!);
  const spread = members.map((cs) => Math.sqrt(cs.reduce((sum, c) => sum + c * (1 - c), 0)));
  const random = mulberry32(0x5eed);
  const gaussian = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const draws = new Float64Array(CHANCE_RUNS);
  for (let run = 0; run < CHANCE_RUNS; run++) {
    let total = 0;
    for (let b = 0; b < bins; b++) {
      const cs = members[b]!;
      if (cs.length === 0) continue;
      let gap = 0;
      if (cs.length >= NORMAL_FROM) gap = spread[b]! * gaussian();
      else for (const c of cs) gap += (random() < c ? 1 : 0) - c;
      total += Math.abs(gap);
    }
    draws[run] = total / n;
  }
  draws.sort();
  return draws[Math.ceil(0.95 * CHANCE_RUNS) - 1]!;
}

/**
 * The bin of a confidence. The nudge puts a float32 0.9 (0.899999976) in the bin from 0.9, where the number it
 * stands for belongs; it moves the edges by 1e-6 of a bin at most.
 */
export function binOf(confidence: number, bins: number): number {
  return Math.max(0, Math.min(bins - 1, Math.floor(confidence * bins + 1e-6)));
}

function checkSizes(trueIndex: ArrayLike<number>, probabilities: ArrayLike<number>, numClasses: number, name: string): number {
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new RangeError(`${name}: numClasses must be an integer >= 1. Received: ${numClasses}`);
  const n = trueIndex.length;
  if (n === 0) throw new RangeError(`${name}: no samples`);
  if (probabilities.length !== n * numClasses) throw new RangeError(`${name}: ${probabilities.length} probabilities for ${n} samples x ${numClasses} classes`);
  for (let i = 0; i < n; i++) {
    const t = trueIndex[i]!;
    if (!Number.isInteger(t) || t < 0 || t >= numClasses) throw new RangeError(`${name}: trueIndex[${i}] must be a class index in [0, ${numClasses}). Received: ${t}`);
  }
  return n;
}

/**
 * The fewest decimals, from `least` (at most `least + 4`), that print `a` and `b` apart: a calibration error and its
 * chance line printed alike ("0.0004 … stays under 0.0004") read as a verdict that contradicts itself.
 */
export function decimalsApart(a: number, b: number, least: number): number {
  if (Math.abs(a - b) <= 1e-9) return least; // equal but for rounding (isBeyondChance): printed alike, and read so
  for (let digits = least; digits < least + 4; digits++) if (a.toFixed(digits) !== b.toFixed(digits)) return digits;
  return least + 4;
}

/**
 * Whether a calibration error is more than a calibrated model shows by chance on the same images. Past rounding only:
 * where every simulated model scores what this one does (every image right at one confidence), the two differ in the
 * last bits of their sums, and that is no verdict.
 */
export function isBeyondChance(c: { readonly ece: number; readonly eceByChance: number }): boolean {
  return c.ece > c.eceByChance + 1e-9;
}
