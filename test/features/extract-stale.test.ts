import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { preprocessingHash } from '../../src/core/preprocessing.js';
import { backboneFromOptions } from '../../src/engine/open-backbone.js';
import { featureKey } from '../../src/features/cache-key.js';
import { extractFeatures } from '../../src/features/extract-features.js';
import { FeatureStore } from '../../src/features/feature-store.js';
import { hasShared, hymenoptera, int8Model, skipReason, tempDir } from '../support.js';

skipReason('stale feature entries');
describe.skipIf(!hasShared)('stale cache entries', () => {
  it('recomputes a stored vector of another length (a model whose automatic feature choice changed) instead of serving it', async () => {
    const cacheDir = await tempDir('graft-stale-');
    const handle = await backboneFromOptions({ backbone: int8Model, cacheDir });
    const dir = join(hymenoptera, 'train', 'bees');
    const files = readdirSync(dir).sort().slice(0, 2).map((f) => join(dir, f));
    const extract = async () => {
      const store = FeatureStore.open(cacheDir);
      try {
        return await extractFeatures(files, handle, store);
      } finally {
        store.close();
      }
    };
    const first = await extract();
    expect(first.computed).toBe(2);
    // What an older build stored under the same key: the 1 000 logits, say.
    const key = featureKey({
      imageSha256: createHash('sha256').update(readFileSync(files[0]!)).digest('hex'),
      modelSha256: handle.info.sha256,
      preprocessingHash: preprocessingHash(handle.info.preprocessing),
    });
    const store = FeatureStore.open(cacheDir);
    store.putMany([{ key, model: handle.info.sha256, data: new Float32Array(1000).fill(1) }]);
    store.close();
    const second = await extract();
    expect(second.computed).toBe(1);
    expect(second.cached).toBe(1);
    expect(Array.from(second.vectors[0]!)).toEqual(Array.from(first.vectors[0]!));
  });
});
