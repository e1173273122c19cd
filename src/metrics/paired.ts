/**
 * Two classifiers scored on the same images: is one better, or did the images happen to suit it? Only the images
 * where they disagree (one right, the other wrong) tell them apart; McNemar's test asks whether those split more
 * unevenly than a coin would.
 */

/** How two classifiers fared image by image on the same set. */
export interface PairedComparison {
  /** Images both were scored on. */
  readonly count: number;
  readonly bothRight: number;
  /** Right by the first only. */
  readonly onlyFirst: number;
  /** Right by the second only. */
  readonly onlySecond: number;
  readonly bothWrong: number;
  /**
   * McNemar's exact test (two-sided): the chance of a split of the disagreements at least this uneven if both were
   * equally good. 1 when they never disagree. Below 0.05 the difference is unlikely to be chance alone.
   */
  readonly pValue: number;
}

/**
 * Counts where the first and second classifier were right, image by image, and McNemar's exact p-value.
 * scipy's `binomtest(min(b, c), b + c).pvalue` gives the same p (b, c: the images only one of them got right).
 *
 * @throws RangeError when the arrays differ in length or are empty.
 * @example
 * ```ts
 * comparePaired([true, true, false, true], [true, false, false, false]);
 * // { count: 4, bothRight: 1, onlyFirst: 2, onlySecond: 0, bothWrong: 1, pValue: 0.5 }
 * ```
 */
export function comparePaired(firstRight: readonly boolean[], secondRight: readonly boolean[]): PairedComparison {
  if (firstRight.length !== secondRight.length) throw new RangeError(`comparePaired: ${firstRight.length} results against ${secondRight.length}`);
  if (firstRight.length === 0) throw new RangeError('comparePaired: no images to compare');
  let bothRight = 0;
  let onlyFirst = 0;
  let onlySecond = 0;
  for (let i = 0; i < firstRight.length; i++) {
    if (firstRight[i] && secondRight[i]) bothRight++;
    else if (firstRight[i]) onlyFirst++;
    else if (secondRight[i]) onlySecond++;
  }
  const count = firstRight.length;
  return { count, bothRight, onlyFirst, onlySecond, bothWrong: count - bothRight - onlyFirst - onlySecond, pValue: mcnemarExactP(onlyFirst, onlySecond) };
}

/**
 * The two-sided exact McNemar p-value of `b` against `c` disagreements: twice the binomial(b + c, ½) tail at the
 * smaller count, at most 1. Summed in logs, so thousands of disagreements do not underflow.
 */
export function mcnemarExactP(b: number, c: number): number {
  const n = b + c;
  if (n === 0) return 1;
  const k = Math.min(b, c);
  let logTerm = -n * Math.LN2; // log C(n, 0) / 2^n
  let tail = Math.exp(logTerm);
  for (let i = 0; i < k; i++) {
    logTerm += Math.log((n - i) / (i + 1));
    tail += Math.exp(logTerm);
  }
  return Math.min(1, 2 * tail);
}
