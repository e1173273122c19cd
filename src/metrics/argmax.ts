/** The argmax every metric ranks by: its own file, so that classification.ts and calibration.ts share it. */

/**
 * Index of the largest value of `values[offset .. offset + length)`, relative to `offset`.
 * Ties go to the lowest index; NaN never wins (an all-NaN row gives 0).
 *
 * @param offset - start of the row in a flat array. Defaults to 0.
 * @param length - row length. Defaults to the rest of the array.
 * @throws RangeError when the row is empty or outside the array.
 * @example
 * ```ts
 * argmax([0.1, 0.7, 0.7]);            // 1 (tie: lowest index)
 * argmax([9, 9, 0.2, 0.5], 2, 2);     // 1 (row [0.2, 0.5])
 * ```
 */
export function argmax(values: ArrayLike<number>, offset = 0, length = values.length - offset): number {
  if (!Number.isInteger(offset) || !Number.isInteger(length) || length < 1 || offset < 0 || offset + length > values.length) {
    throw new RangeError(`argmax: row [${offset}, ${offset + length}) is empty or outside [0, ${values.length})`);
  }
  let best = 0;
  let bestValue = values[offset]!;
  for (let i = 1; i < length; i++) {
    const v = values[offset + i]!;
    if (v > bestValue || (Number.isNaN(bestValue) && !Number.isNaN(v))) {
      best = i;
      bestValue = v;
    }
  }
  return best;
}
