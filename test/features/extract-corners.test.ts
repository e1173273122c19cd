import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backboneFromOptions } from '../../src/engine/open-backbone.js';
import { multiScaleBackbone } from '../../src/engine/multi-scale-backbone.js';
import { extractFeatures } from '../../src/features/extract-features.js';
import { FeatureStore } from '../../src/features/feature-store.js';
import { hasShared, hymenoptera, int8Model, skipReason, tempDir } from '../support.js';

skipReason('corner extraction');
describe.skipIf(!hasShared)('corner crops in feature extraction', () => {
  it('computes the four corners (and of the mirror image) for the files asked, caches them, and serves them back unchanged', async () => {
    const cacheDir = await tempDir('graft-corners-');
    const handle = multiScaleBackbone(await backboneFromOptions({ backbone: int8Model, cacheDir }));
    const dir = join(hymenoptera, 'train', 'ants');
    const files = readdirSync(dir).sort().slice(0, 3).map((f) => join(dir, f));
    const d = handle.info.featureDim / 2;
    const run = async () => {
      const store = FeatureStore.open(cacheDir);
      try {
        return await extractFeatures(files, handle, store, { mirror: true, corners: (i) => i < 2 });
      } finally {
        store.close();
      }
    };
    const first = await run();
    expect(first.computed).toBe(3);
    expect(first.corners.map((c) => c?.length)).toEqual([4 * d, 4 * d, undefined]);
    expect(first.mirroredCorners.map((c) => c?.length)).toEqual([4 * d, 4 * d, undefined]);
    const differ = (a: Float32Array, b: Float32Array): boolean => a.some((v, i) => Math.abs(v - b[i]!) > 1e-2);
    const corners = first.corners[0]!;
    // Each corner is its own view: unlike the centre crop (the plain vector's first half) and unlike the others.
    for (let j = 0; j < 4; j++) expect(differ(corners.subarray(j * d, (j + 1) * d), first.vectors[0]!.subarray(0, d))).toBe(true);
    expect(differ(corners.subarray(0, d), corners.subarray(3 * d, 4 * d))).toBe(true);
    expect(differ(corners, first.mirroredCorners[0]!)).toBe(true);
    const second = await run();
    expect(second.computed).toBe(0);
    expect(second.cached).toBe(3);
    expect(Array.from(second.corners[1]!)).toEqual(Array.from(first.corners[1]!));
    expect(Array.from(second.mirroredCorners[0]!)).toEqual(Array.from(first.mirroredCorners[0]!));
    // Without mirror rows, the mirror images' corners are not asked for (nor computed).
    const store2 = FeatureStore.open(cacheDir);
    try {
      const noMirrorCorners = await extractFeatures(files, handle, store2, { mirror: true, corners: () => true, mirrorCorners: false });
      expect(noMirrorCorners.mirroredCorners).toEqual([]);
      expect(noMirrorCorners.corners[2]!.length).toBe(4 * d);
      expect(noMirrorCorners.computed).toBe(1);
    } finally {
      store2.close();
    }
        // A handle with one scale has no corner model: asking for corners is a programming error, said at once.
    const store = FeatureStore.open(cacheDir);
    try {
      await expect(extractFeatures(files, await backboneFromOptions({ backbone: int8Model, cacheDir }), store, { corners: () => true })).rejects.toThrow(/multi-scale/);
    } finally {
      store.close();
    }
  });
});
