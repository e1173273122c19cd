import { describe, expect, it } from 'vitest';
import { comparePaired, mcnemarExactP } from '../../src/metrics/index.js';

// References: scipy 1.x, `binomtest(min(b, c), b + c, 0.5).pvalue` (two-sided).
const SCIPY: readonly [number, number, number][] = [
  [2, 0, 0.5],
  [4, 2, 0.6875],
  [7, 2, 0.1796875],
  [10, 1, 0.01171875],
  [5, 5, 1],
  [600, 520, 0.018207019279300136],
  [3000, 2900, 0.19743902484357673],
];

describe("McNemar's exact test", () => {
  it.each(SCIPY)('%i against %i disagreements matches scipy', (b, c, p) => {
    expect(mcnemarExactP(b, c)).toBeCloseTo(p, 10);
    expect(mcnemarExactP(c, b)).toBe(mcnemarExactP(b, c));
  });

  it('is 1 when the two never disagree, and stays a probability for thousands of disagreements', () => {
    expect(mcnemarExactP(0, 0)).toBe(1);
    expect(mcnemarExactP(5000, 0)).toBe(0); // 2^-4999 underflows: as near 0 as a double says
    expect(mcnemarExactP(2000, 1700)).toBeGreaterThan(0);
    expect(mcnemarExactP(2000, 1700)).toBeLessThan(1e-6);
  });

  it('counts the four cells image by image', () => {
    const first = [true, true, false, true, false, true];
    const second = [true, false, false, false, true, true];
    expect(comparePaired(first, second)).toEqual({ count: 6, bothRight: 2, onlyFirst: 2, onlySecond: 1, bothWrong: 1, pValue: 1 });
    expect(() => comparePaired([true], [])).toThrow(/1 results against 0/);
    expect(() => comparePaired([], [])).toThrow(/no images/);
  });
});
