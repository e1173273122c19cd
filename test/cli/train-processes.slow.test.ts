// Two `graft train` processes at once on one cache folder and one --out, as two terminals with the default cache do:
// the real CLI (dist/), real photos and the int8 backbone. Nothing may crash (SQLITE_BUSY, a rename's ENOENT), the
// cache must hold each feature once and right, and --out must be one whole model.
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FeatureStore } from '../../src/features/feature-store.js';
import { copySubset, hasShared, hymenoptera, int8Model, parseJsonOutput, runCli, skipReason, tempDir } from '../support.js';

interface TrainJson {
  images: { train: number };
  features: { computed: number; cached: number };
}

skipReason('two graft train processes on one cache');
describe.skipIf(!hasShared)('two graft train processes at once on one cache', () => {
  let root = '';
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('both succeed, the cache holds their features once, and a third run reads them and trains the same head', async () => {
    root = await tempDir();
    const data = await copySubset(join(hymenoptera, 'train'), join(root, 'data'), 8);
    const env = { GRAFT_CACHE_DIR: join(root, 'cache') };
    const train = (out: string) => runCli(['train', data, '--backbone', int8Model, '--no-multi-scale', '--out', join(root, out), '--json'], env);

    // A fresh cache: both create the SQLite files, extract the same images and write the same keys at the same time.
    const runs = await Promise.all([train('model'), train('model')]);
    for (const run of runs) {
      expect(run.code, run.stderr).toBe(0);
      const { images, features } = parseJsonOutput<TrainJson>(run);
      expect(images.train).toBe(16);
      expect(features.computed + features.cached).toBeGreaterThanOrEqual(16);
    }
    // One whole model in --out, and nothing left beside it (staging, the displaced copy).
    expect((await readdir(join(root, 'model'))).sort()).toEqual(['graft.json', 'head.bin', 'model.onnx']);
    expect((await readdir(root)).sort()).toEqual(['cache', 'data', 'model']);

    const store = FeatureStore.open(env.GRAFT_CACHE_DIR);
    const stored = store.count();
    store.close();
    expect(stored).toBeGreaterThanOrEqual(16);

    // The features the two left behind are the right ones: a warm run computes nothing and fits the same head.
    const warm = await train('again');
    expect(warm.code, warm.stderr).toBe(0);
    expect(parseJsonOutput<TrainJson>(warm).features.computed).toBe(0);
    expect((await readFile(join(root, 'again/head.bin'))).equals(await readFile(join(root, 'model/head.bin')))).toBe(true);
    const after = FeatureStore.open(env.GRAFT_CACHE_DIR);
    expect(after.count()).toBe(stored);
    after.close();
  }, 120_000);
});
