import { argmax } from '../metrics/classification.js';

/** Fine-tuning's best epoch against the head alone on the same held-out images, image by image. */
export interface HoldoutComparison {
  /** Mean of fine-tuning's log-loss minus the head's per image (each image counted as its class's weight). */
  readonly mean: number;
  /** That mean in standard errors of the paired differences. */
  readonly t: number;
  /** Held-out log-loss and accuracy of each (weighted the same way: with balanced weights, accuracy is close to the mean recall). */
  readonly headLoss: number;
  readonly tunedLoss: number;
  readonly headAccuracy: number;
  readonly tunedAccuracy: number;
  /** Fine-tuning is clearly better: lower log-loss by more than two standard errors, and no lower accuracy. */
  readonly isClear: boolean;
}

/**
 * Whether fine-tuning is clearly better than the head on the held-out images, image by image. Its log-loss must be
 * lower by more than two standard errors of the paired differences: the trial also chose its epoch on these images,
 * so its loss there flatters it, and demanding a clear margin keeps a lucky epoch from replacing a head that
 * generalises as well (measured: marginal wins lost 2-3 test images on flowers12, bench/RESULTS.md). And it must
 * not get fewer of them right: a strongly regularised head (what cross-validation picks for a class of a dozen
 * images) is under-confident, so a more confident model wins on log-loss while ranking worse (measured: hymenoptera
 * cut to 10:1, TM base, seed 2: kept on log-loss alone, it lost 7 of 153 test images).
 * With class weights each image counts as its class's weight: the weighted mean, and its standard error
 * sqrt(n / (n - 1) * sum w^2 (d - mean)^2) / sum w, which is sd / sqrt(n) when every weight is 1. Exported for
 * tests. @internal
 */
export function compareOnHoldout(
  tuned: { readonly probabilities: Float32Array; readonly labels: Int32Array; readonly files: readonly string[] } | null,
  head: ReadonlyMap<string, ArrayLike<number>> | undefined,
  classWeights?: Float32Array,
): HoldoutComparison | undefined {
  if (!tuned || !head) return undefined;
  const k = tuned.probabilities.length / Math.max(tuned.labels.length, 1);
  const diffs: number[] = [];
  const weights: number[] = [];
  let headRight = 0;
  let tunedRight = 0;
  let headLoss = 0;
  let tunedLoss = 0;
  tuned.files.forEach((file, i) => {
    const headP = head.get(file);
    if (headP === undefined) return;
    const label = tuned.labels[i]!;
    const w = classWeights ? classWeights[label]! : 1;
    const [mine, theirs] = [-Math.log(Math.max(tuned.probabilities[i * k + label]!, 1e-12)), -Math.log(Math.max(headP[label]!, 1e-12))];
    diffs.push(mine - theirs);
    weights.push(w);
    tunedLoss += w * mine;
    headLoss += w * theirs;
    if (argmax(headP) === label) headRight += w;
    if (argmax(tuned.probabilities, i * k, k) === label) tunedRight += w;
  });
  const n = diffs.length;
  if (n < 2) return undefined;
  const total = weights.reduce((a, b) => a + b, 0);
  const mean = diffs.reduce((a, d, i) => a + weights[i]! * d, 0) / total;
  const spread = diffs.reduce((a, d, i) => a + (weights[i]! * (d - mean)) ** 2, 0);
  const t = mean / Math.max(Math.sqrt((n / (n - 1)) * spread) / total, 1e-12);
  const [headAccuracy, tunedAccuracy] = [headRight / total, tunedRight / total];
  return { mean, t, headLoss: headLoss / total, tunedLoss: tunedLoss / total, headAccuracy, tunedAccuracy, isClear: t < -2 && tunedAccuracy >= headAccuracy };
}

/**
 * Below this many held-out images of a class, one fifth says little about that class, and fine-tuning is judged on a
 * second fifth too (measured: hymenoptera cut to 10:1, int8, seed 2, 2 held-out images of the rare class: judged on
 * one fifth, fine-tuning, better there in log-loss and accuracy, lost 5 of 153 test images; on the second fifth no
 * epoch beat the head).
 */
export const FEW_HELD_OUT = 5;

/** The class with the fewest images in a set, and how many. */
export function thinnestClass(labels: Int32Array, names: readonly string[]): { label: string; count: number } {
  const counts = names.map(() => 0);
  for (const l of labels) counts[l]!++;
  const i = counts.indexOf(Math.min(...counts));
  return { label: names[i]!, count: counts[i]! };
}

/**
 * The head's log-loss on the held-out images, each counted as its class's weight as {@link compareOnHoldout} counts
 * it: the figure the epochs' `val_loss` and the verdict are compared with. Undefined without images.
 */
export function holdoutLogLoss(head: ReadonlyMap<string, ArrayLike<number>> | undefined, held: { readonly files: readonly string[]; readonly labels: Int32Array }, classWeights?: Float32Array): number | undefined {
  let loss = 0;
  let total = 0;
  held.files.forEach((file, i) => {
    const p = head?.get(file);
    if (p === undefined) return;
    const label = held.labels[i]!;
    const w = classWeights ? classWeights[label]! : 1;
    loss += w * -Math.log(Math.max(p[label]!, 1e-12));
    total += w;
  });
  return total > 0 ? loss / total : undefined;
}
