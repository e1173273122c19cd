import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/core/random.js';
import { inMemoryRows } from '../../src/features/feature-rows.js';
import { spillRows } from '../../src/features/spill-rows.js';
import { addSums, columnStats, columnSums, statsOf } from '../../src/learn/select/column-stats.js';

const bits = (a: Float32Array | Float64Array): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

/** Plain rows then their mirror rows, as the cross-validation stacks them, with values over six decades (rounding shows). */
function stacked(images: number, dim: number) {
  const random = mulberry32(7);
  const data = Float32Array.from({ length: 2 * images * dim }, () => (random() - 0.3) * 10 ** Math.floor(random() * 6 - 3));
  // One fold's weights: a fifth of the images held out, class weights 0.5-2, mirror rows weighted like their images.
  const weights = new Float32Array(2 * images);
  for (let i = 0; i < images; i++) {
    if (i % 5 === 2) continue;
    weights[i] = 0.5 + 1.5 * random();
    weights[images + i] = weights[i]!;
  }
  return { rows: { data, count: 2 * images, dim }, weights };
}

describe('column sums', () => {
  it('of disjoint sets of rows, added, give the statistics of all of them, across read blocks, leaving the parts as they were', () => {
    // 1 500 images: 3 000 rows over 1 024-row blocks of a spilled read.
    const images = 1500;
    const { rows, weights } = stacked(images, 24);
    const whole = columnStats(rows, weights);
    const labels = new Int32Array(rows.count);
    const spilled = spillRows(inMemoryRows(rows.data, labels, 24, ['a']), { rowsPerBlock: 97 });
    try {
      for (const source of [rows, spilled]) {
        const plainOnly = weights.map((w, r) => (r < images ? w : 0));
        const plain = columnSums(source, plainOnly);
        const mirror = columnSums(source, weights.map((w, r) => (r < images ? 0 : w)));
        const before = bits(plain.sum) + bits(plain.sumSq);
        const added = statsOf(addSums([plain, mirror]));
        expect(addSums([plain, mirror]).used).toBe(plain.used + mirror.used);
        // Equal to float32 rounding (the float64 sums are added in another order).
        const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));
        for (let d = 0; d < 24; d++) {
          expect(close(added.mean[d]!, whole.mean[d]!)).toBe(true);
          expect(close(added.std[d]!, whole.std[d]!)).toBe(true);
        }
        expect(bits(plain.sum) + bits(plain.sumSq)).toBe(before);
        // The plain rows alone: the statistics of the same weights with the mirror rows left out.
        expect(statsOf(plain)).toEqual(columnStats(rows, plainOnly));
      }
    } finally {
      spilled.close();
    }
  });

  it('count only rows with a positive weight, once each', () => {
    const rows = { data: Float32Array.from([1, 10, 3, 30, 100, 1000]), count: 3, dim: 2 };
    const sums = columnSums(rows, Float32Array.from([2, 0.5, 0]));
    expect(sums.used).toBe(2);
    expect(Array.from(sums.sum)).toEqual([4, 40]);
    expect(Array.from(statsOf(sums).mean)).toEqual([2, 20]);
  });
});
