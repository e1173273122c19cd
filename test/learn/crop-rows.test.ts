import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/core/random.js';
import { fitLinearHead, type HeadTrainingSet, type LinearHeadOptions } from '../../src/learn/select/fit-linear-head.js';
import { CROPS_PER_IMAGE, layOutCropRows, type CropRows } from '../../src/learn/select/crop-rows.js';
import type { FeatureMatrix } from '../../src/learn/train-head.js';
import { clusters } from './clusters.js';

const names = (k: number): string[] => Array.from({ length: k }, (_, i) => `class${i}`);

/** Four crop rows per image, each `row(image, corner)`, image-major. */
function cropRowsOf(count: number, dim: number, row: (image: number, corner: number) => number[]): FeatureMatrix {
  const data = new Float32Array(count * CROPS_PER_IMAGE * dim);
  for (let i = 0; i < count; i++) for (let j = 0; j < CROPS_PER_IMAGE; j++) data.set(row(i, j), (i * CROPS_PER_IMAGE + j) * dim);
  return { data, count: count * CROPS_PER_IMAGE, dim };
}

const base: LinearHeadOptions = { c: 'auto', trainViews: 'plain', tta: false, classWeights: 'none', maxFolds: 'auto', seed: 1 };

function setOf(plain: FeatureMatrix, labels: Int32Array, crops: CropRows): HeadTrainingSet {
  return { plain, labels, classNames: names(Math.max(...labels) + 1), files: Array.from({ length: plain.count }, (_, i) => `img${i}.png`), crops };
}

describe('crop rows', () => {
  it("never train the head of their own image's fold: copies of the centre views with random labels score at chance", async () => {
    const random = mulberry32(3);
    const n = 200;
    const dim = 256; // more dimensions than images: a head that saw a crop row of an image could remember its label
    const plain = { data: Float32Array.from({ length: n * dim }, () => random() * 2 - 1), count: n, dim };
    const labels = Int32Array.from({ length: n }, () => (random() < 0.5 ? 0 : 1));
    // Were an image's crop rows (its own features, slightly moved) in the training rows of its fold, a weakly
    // regularised head would remember its label and score it right out of fold.
    const crops = { plain: cropRowsOf(n, dim, (i) => Array.from(plain.data.subarray(i * dim, (i + 1) * dim), (v) => v + 1e-3 * (random() - 0.5))) };
    const head = await fitLinearHead(setOf(plain, labels, crops), { ...base, c: 100, crops: true });
    expect(head.trainViews).toBe('plain+crops');
    const scored = head.selection!.table.filter((row) => row.trainViews === 'plain+crops');
    expect(scored.length).toBe(1);
    expect(scored[0]!.accuracy).toBeLessThan(0.65);
  });

  it("are chosen where their out-of-fold log-loss on the centre views beats the head without them, and not where it does not", async () => {
    const dim = 8;
    // Centre views: two overlapping classes.
    const { rows: plain, labels } = clusters(240, dim, 2, 11, 6);
    // More draws of each image's class (the clusters' centres depend only on dim and classes): what a crop of a
    // photo adds, another look at the same class.
    const extra = clusters(plain.count * CROPS_PER_IMAGE * 2, dim, 2, 12, 6);
    const pools = [0, 1].map((l) => Array.from(extra.labels.keys()).filter((r) => extra.labels[r] === l));
    const draw = (l: number, at: number): number[] => Array.from(extra.rows.data.subarray(pools[l]![at]! * dim, (pools[l]![at]! + 1) * dim));
    const helpful = { plain: cropRowsOf(plain.count, dim, (i, j) => draw(labels[i]!, i * CROPS_PER_IMAGE + j)) };
    // Crop rows that look like the other class: training on them can only hurt the centre views' scores.
    const harmful = { plain: cropRowsOf(plain.count, dim, (i, j) => draw(1 - labels[i]!, i * CROPS_PER_IMAGE + j)) };
    const withHelpful = await fitLinearHead(setOf(plain, labels, helpful), { ...base, crops: 'auto' });
    const withHarmful = await fitLinearHead(setOf(plain, labels, harmful), { ...base, crops: 'auto' });
    const without = await fitLinearHead(setOf(plain, labels, helpful), base);
    expect(without.selection!.table.some((row) => row.trainViews.endsWith('crops'))).toBe(false);
    expect(withHelpful.trainViews).toBe('plain+crops');
    expect(withHelpful.selection!.chosen.logLoss).toBeLessThan(without.selection!.chosen.logLoss);
    expect(withHarmful.trainViews).toBe('plain');
    // The bar each crop candidate had to beat is in the report: the chosen head scored the same way.
    expect(withHelpful.selection!.chosen.logLoss).toBeLessThan(withHelpful.selection!.cropRows!.baseline.logLoss);
    expect(withHarmful.selection!.cropRows!.baseline).toEqual(expect.objectContaining({ c: withHarmful.c, trainViews: 'plain', tta: false }));
    expect(without.selection!.cropRows).toBeUndefined();
    // Both crop candidates were scored (at the chosen C and a half-decade below) and kept in the table.
    const harmfulCrops = withHarmful.selection!.table.filter((row) => row.trainViews === 'plain+crops');
    expect(harmfulCrops.map((row) => row.c)).toEqual([withHarmful.c * 10 ** -0.5, withHarmful.c]);
    expect(Math.min(...harmfulCrops.map((row) => row.logLoss))).toBeGreaterThan(withHarmful.selection!.chosen.logLoss);
    // The same seed gives the same head.
    const again = await fitLinearHead(setOf(plain, labels, helpful), { ...base, crops: 'auto' });
    expect(Array.from(again.layers[0]!.weight)).toEqual(Array.from(withHelpful.layers[0]!.weight));
  });

  it('lay out as centre views first (scored), then crop rows (trained on only), mirror crops only with mirror rows', () => {
    const dim = 2;
    const plain = { data: Float32Array.from([1, 1, 2, 2]), count: 2, dim };
    const mirrored = { data: Float32Array.from([3, 3, 4, 4]), count: 2, dim };
    const crops = { plain: cropRowsOf(2, dim, (i, j) => [10 + i, j]), mirrored: cropRowsOf(2, dim, (i, j) => [20 + i, j]) };
    const noMirror = layOutCropRows(plain, mirrored, crops, false);
    expect(noMirror.rows.count).toBe(2 + 2 + 8);
    expect(noMirror.centreCount).toBe(4);
    expect(Array.from(noMirror.role)).toEqual([1, 1, 2, 2, ...new Array(8).fill(0)]);
    expect(Array.from(noMirror.image)).toEqual([0, 1, 0, 1, 0, 0, 0, 0, 1, 1, 1, 1]);
    const withMirror = layOutCropRows(plain, mirrored, crops, true);
    expect(withMirror.rows.count).toBe(2 + 2 + 16);
    expect(Array.from(withMirror.rows.data.subarray(withMirror.rows.data.length - 2))).toEqual([21, 3]);
    expect(() => layOutCropRows(plain, mirrored, { plain: cropRowsOf(1, dim, () => [0, 0]) }, false)).toThrow(/4 rows of 2 per image/);
  });
});
