import { describe, expect, it } from 'vitest';
import { evaluatePredictions, wilsonInterval } from '../../src/metrics/index.js';

// References: scipy 1.x, `binomtest(k, n).proportion_ci(confidence_level=0.95, method='wilson')`.
const SCIPY: readonly [number, number, number, number][] = [
  [146, 153, 0.9085814786028893, 0.9776637848953863],
  [2, 3, 0.20765960080204782, 0.9385080552796038],
  [10, 30, 0.1923, 0.5122],
  [20, 20, 0.8388748419471808, 1],
  [1, 1, 0.20654931437723745, 1],
  [0, 5, 0, 0.43448246478317476],
];

describe('wilsonInterval', () => {
  it.each(SCIPY)('%i of %i matches scipy', (k, n, low, high) => {
    const interval = wilsonInterval(k, n);
    const digits = Number.isInteger(low * 1e4) && Number.isInteger(high * 1e4) ? 4 : 12;
    expect(interval.level).toBe(0.95);
    expect(interval.low).toBeCloseTo(low, digits);
    expect(interval.high).toBeCloseTo(high, digits);
  });

  it('contains the proportion, stays in [0, 1] and narrows as n grows', () => {
    let previous = Infinity;
    for (const n of [10, 100, 1000, 10000]) {
      const { low, high } = wilsonInterval(Math.round(n * 0.9), n);
      expect(low).toBeGreaterThan(0);
      expect(high).toBeLessThan(1);
      expect(low).toBeLessThan(0.9);
      expect(high).toBeGreaterThan(0.9);
      expect(high - low).toBeLessThan(previous);
      previous = high - low;
    }
    // ±1.96·√(p(1−p)/n) for large n: 0.9 on 10 000 samples, ±0.0059.
    expect(previous).toBeCloseTo(2 * 1.96 * Math.sqrt((0.9 * 0.1) / 10000), 3);
  });

  it('refuses counts that are not a proportion', () => {
    expect(() => wilsonInterval(1, 0)).toThrow(/n must be an integer >= 1/);
    expect(() => wilsonInterval(4, 3)).toThrow(/successes must be an integer from 0 to n = 3. Received: 4/);
    expect(() => wilsonInterval(1.5, 3)).toThrow(RangeError);
    expect(() => wilsonInterval(-1, 3)).toThrow(RangeError);
  });

  it('is the interval of the accuracy evaluatePredictions reports', () => {
    const report = evaluatePredictions({
      labels: ['ants', 'bees'],
      trueIndex: [0, 1, 1],
      probabilities: new Float32Array([0.9, 0.1, 0.3, 0.7, 0.8, 0.2]),
    });
    expect(report.accuracyInterval).toEqual(wilsonInterval(2, 3));
    expect(report.accuracyInterval.low).toBeCloseTo(0.2077, 4);
  });
});
