import { describe, expect, it } from 'vitest';
import { GraftError } from '../../src/core/errors.js';
import type { LabelledDataset, LabelledItem } from '../../src/data/dataset.js';
import { deriveSeed, mulberry32, shuffleInPlace } from '../../src/core/random.js';
import { alignLabels, labelLookup, stratifiedSplit, unknownLabels } from '../../src/data/split.js';

function items(counts: Record<string, number>): LabelledItem[] {
  return Object.entries(counts).flatMap(([label, n]) =>
    Array.from({ length: n }, (_, i) => ({ file: `/d/${label}/${String(i).padStart(3, '0')}.jpg`, label })),
  );
}

describe('mulberry32', () => {
  it('is deterministic, in [0,1), and differs by seed', () => {
    const a = mulberry32(7);
    const b = mulberry32(7);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(mulberry32(8)()).not.toBe(xs[0]);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.05);
    expect(deriveSeed(1, 'cats')).not.toBe(deriveSeed(1, 'dogs'));
  });
});

describe('stratifiedSplit', () => {
  it('keeps each class share and at least one val item per class with >= 2 items', () => {
    const all = items({ a: 50, b: 10, c: 2, d: 1 });
    const { train, val } = stratifiedSplit(all, { valFraction: 0.2, seed: 3 });
    const count = (list: LabelledItem[], label: string): number => list.filter((i) => i.label === label).length;
    expect([count(val, 'a'), count(val, 'b'), count(val, 'c'), count(val, 'd')]).toEqual([10, 2, 1, 0]);
    expect([count(train, 'a'), count(train, 'b'), count(train, 'c'), count(train, 'd')]).toEqual([40, 8, 1, 1]);
    const files = new Set([...train, ...val].map((i) => i.file));
    expect(files.size).toBe(all.length);
  });

  it('is deterministic for a seed, independent of input order, and changes with the seed', () => {
    const all = items({ a: 30, b: 30 });
    const first = stratifiedSplit(all, { valFraction: 0.3, seed: 42 });
    const shuffled = shuffleInPlace(all.slice(), mulberry32(99));
    expect(stratifiedSplit(shuffled, { valFraction: 0.3, seed: 42 })).toEqual(first);
    expect(stratifiedSplit(all, { valFraction: 0.3, seed: 43 }).val).not.toEqual(first.val);
  });

  it("does not change one class's split when another class is added", () => {
    const before = stratifiedSplit(items({ a: 20, b: 20 }), { seed: 5 });
    const after = stratifiedSplit(items({ a: 20, b: 20, c: 20 }), { seed: 5 });
    expect(after.val.filter((i) => i.label !== 'c')).toEqual(before.val);
  });

  it('with groups that span classes, every class keeps a training image, whatever the seed', () => {
    // gtsrb-like: frame numbers as groups, so frame 15 of class "00" is one group with all of "01" and "02".
    const items = [
      ...['10', '15', '20', '25', '30'].map((f) => ({ file: `/d/00/x_${f}.png`, label: '00' })),
      ...['a', 'b', 'c'].map((t) => ({ file: `/d/01/${t}_15.png`, label: '01' })),
      ...['a', 'b'].map((t) => ({ file: `/d/02/${t}_15.png`, label: '02' })),
    ];
    const groups = items.map((item) => /_(\d+)\.png$/.exec(item.file)![1]!);
    let heldFrame15 = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const { train, val } = stratifiedSplit(items, { valFraction: 0.2, seed, groups });
      for (const label of ['00', '01', '02']) expect(train.some((item) => item.label === label), `seed ${seed}, class ${label}`).toBe(true);
      expect(train.length + val.length).toBe(items.length);
      if (val.some((item) => item.file.endsWith('_15.png'))) heldFrame15++;
    }
    expect(heldFrame15).toBe(0); // frame 15 holds all of "01" and "02": it is always trained on
  });

  it('with groups, holds out whole groups only, about the share, deterministically; singletons split as without', () => {
    const all = items({ a: 40, b: 30 });
    // Tracks of 5 frames: a-0..a-7, b-0..b-5.
    const groups = all.map((item) => `${item.label}-${Math.floor(Number(/(\d+)\.jpg$/.exec(item.file)![1]) / 5)}`);
    const { train, val } = stratifiedSplit(all, { valFraction: 0.25, seed: 7, groups });
    const groupOf = new Map(all.map((item, i) => [item.file, groups[i]!]));
    const trainGroups = new Set(train.map((item) => groupOf.get(item.file)));
    expect(val.filter((item) => trainGroups.has(groupOf.get(item.file))).length).toBe(0);
    expect(val.filter((item) => item.label === 'a').length).toBe(10);
    expect(val.filter((item) => item.label === 'b').length).toBeGreaterThanOrEqual(5);
    expect(train.length + val.length).toBe(all.length);
    expect(stratifiedSplit([...all].reverse(), { valFraction: 0.25, seed: 7, groups: [...groups].reverse() })).toEqual({ train, val });
    // A class in one group trains whole; every item its own group is the ungrouped split.
    const one = items({ a: 6, b: 6 });
    expect(stratifiedSplit(one, { valFraction: 0.3, seed: 1, groups: one.map((item) => item.label) }).val).toEqual([]);
    expect(stratifiedSplit(all, { valFraction: 0.25, seed: 7, groups: all.map((item) => item.file) })).toEqual(stratifiedSplit(all, { valFraction: 0.25, seed: 7 }));
  });

  it('rejects a fraction outside (0, 1)', () => {
    expect(() => stratifiedSplit(items({ a: 3 }), { valFraction: 1 })).toThrow(RangeError);
    expect(() => stratifiedSplit(items({ a: 3 }), { valFraction: 0 })).toThrow(/Received: 0/);
  });
});

describe('alignLabels', () => {
  /** A dataset with one image in each of `withImages` (default: every label) and none in the others. */
  const ds = (labels: string[], withImages = labels): LabelledDataset => ({
    root: `/d/${labels.join('-')}`,
    labels,
    items: withImages.map((label) => ({ file: `/d/${label}/0.jpg`, label })),
    skipped: [],
  });

  it('takes a class named in another Unicode form (a folder copied from macOS: NFD) as the same class', () => {
    const nfc = '\u00e9clair';
    const nfd = 'e\u0301clair';
    expect(unknownLabels(ds([nfd, 'apple']), [nfc, 'apple'])).toEqual([]);
    const { val } = alignLabels(ds([nfc, 'apple']), ds([nfd, 'apple']));
    expect(val.items.map((item) => item.label)).toEqual([nfc, 'apple']);
    expect(labelLookup([nfc])(nfd)).toBe(nfc);
    expect(labelLookup([nfc])('eclair')).toBeUndefined();
  });

  it("gives val the train label list when val's classes are a subset", () => {
    const { val } = alignLabels(ds(['a', 'b', 'c']), ds(['a', 'c']));
    expect(val.labels).toEqual(['a', 'b', 'c']);
  });

  it('names a val class that train lacks', () => {
    let error: unknown;
    try {
      alignLabels(ds(['a', 'b']), ds(['a', 'z']));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GraftError);
    expect((error as GraftError).code).toBe('INVALID_DATASET');
    expect((error as GraftError).message).toMatch(/"z"/);
  });

  it('takes a val set of one class, passes over an empty folder of an unknown class, and refuses one with no images', () => {
    expect(alignLabels(ds(['a', 'b']), ds(['b'])).val.items).toHaveLength(1);
    expect(alignLabels(ds(['a', 'b']), ds(['a', 'z'], ['a'])).val.labels).toEqual(['a', 'b']);
    expect(() => alignLabels(ds(['a', 'b']), ds(['a'], []))).toThrow(/No images found in the validation set/);
  });
});
