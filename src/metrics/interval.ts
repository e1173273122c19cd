/**
 * How sure an accuracy measured on a test set can be: its confidence interval. A score on 150 images moves by
 * several points with the images drawn; the interval says how many, so two models are not ranked on noise.
 */

/** A confidence interval for a proportion (an accuracy). */
export interface ProportionInterval {
  /** The interval's coverage: 0.95 for a 95% interval. */
  readonly level: number;
  readonly low: number;
  readonly high: number;
}

/** The normal quantile of the 95% interval (two-sided). */
const Z_95 = 1.959963984540054;

/**
 * The Wilson score interval (Wilson, 1927) of `successes` out of `n` at 95%: the interval Agresti and Coull
 * (1998) and Brown, Cai and DasGupta (2001) recommend over the textbook p ± z·√(p(1−p)/n), which shrinks to
 * nothing at 0 or n successes (a perfect score on 20 images is not certain) and can leave [0, 1].
 * statsmodels' `proportion_confint(successes, n, method='wilson')` gives the same numbers.
 *
 * @throws RangeError unless 0 ≤ successes ≤ n are integers and n ≥ 1.
 * @example
 * ```ts
 * wilsonInterval(146, 153); // { level: 0.95, low: ≈0.909, high: ≈0.978 }
 * wilsonInterval(20, 20);   // { level: 0.95, low: ≈0.839, high: 1 }
 * ```
 */
export function wilsonInterval(successes: number, n: number): ProportionInterval {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`wilsonInterval: n must be an integer >= 1. Received: ${n}`);
  if (!Number.isInteger(successes) || successes < 0 || successes > n) {
    throw new RangeError(`wilsonInterval: successes must be an integer from 0 to n = ${n}. Received: ${successes}`);
  }
  const z2 = Z_95 * Z_95;
  const p = successes / n;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (Z_95 / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // At 0 or n successes the bound is exactly 0 or 1; rounding must not move it past.
  return {
    level: 0.95,
    low: successes === 0 ? 0 : Math.max(0, centre - half),
    high: successes === n ? 1 : Math.min(1, centre + half),
  };
}
