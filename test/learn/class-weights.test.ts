import { describe, expect, it } from 'vitest';
import { classBalanceNote, classWeightsFor } from '../../src/learn/class-weights.js';

describe('class weights', () => {
  it("'balanced' class weights make each class's total weight equal", () => {
    const labels = Int32Array.from([0, 0, 0, 0, 0, 0, 1, 1, 2]);
    const w = classWeightsFor(labels, 3, 'balanced');
    expect(6 * w[0]!).toBeCloseTo(2 * w[1]!, 6);
    expect(2 * w[1]!).toBeCloseTo(1 * w[2]!, 6);
    expect([...classWeightsFor(labels, 3, 'none')]).toEqual([1, 1, 1]);
  });

  it('are exactly 1 on classes of one size, so the balanced default changes nothing there', () => {
    const labels = Int32Array.from({ length: 36 }, (_, i) => i % 12);
    expect([...classWeightsFor(labels, 12, 'balanced')]).toEqual(Array(12).fill(1));
  });

  it('a note names the rarest and commonest class when sizes differ by 2x, and says how to change the weighting', () => {
    const labels = [...Array(24).fill('ants'), ...Array(12).fill('bees'), ...Array(5).fill('wasps')];
    expect(classBalanceNote(labels, 'balanced')).toMatch(/"wasps" has 5 training images, "ants" 24; rare classes are weighed up \(classWeights: 'none' \(--class-weights none\) weighs/);
    expect(classBalanceNote(labels, 'none')).toMatch(/every image weighs the same \(classWeights: 'balanced' \(--class-weights balanced\) weighs/);
    expect(classBalanceNote([...Array(10).fill('ants'), ...Array(6).fill('bees')], 'balanced')).toBeUndefined();
    expect(classBalanceNote(['wasps', 'ants', 'ants'], 'balanced')).toMatch(/"wasps" has 1 training image, "ants" 2;/);
  });
});
