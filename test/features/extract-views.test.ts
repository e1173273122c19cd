import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_AUGMENT } from '../../src/data/augment.js';
import { decodeImageBytes } from '../../src/data/decode-image.js';
import { createSession, runOutput } from '../../src/runtime/ort-session.js';
import { makePreprocessing } from '../../src/core/preprocessing.js';
import { extractViews, type CutPrefix, type ExtractViewsOptions } from '../../src/features/extract-views.js';
import { FeatureStore } from '../../src/features/feature-store.js';
import { FileHashIndex } from '../../src/features/file-hash-index.js';
import type { ProgressEvent } from '../../src/core/progress.js';
import { copySubset, hymenoptera, int8FeatModel, tempDir } from '../support.js';

// Counts image reads: a warm run must read no image at all.
const reads = vi.hoisted(() => ({ files: [] as string[] }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  const readFile = ((...args: Parameters<typeof actual.readFile>) => {
    reads.files.push(String(args[0]));
    return actual.readFile(...args);
  }) as typeof actual.readFile;
  return { ...actual, readFile, default: { ...actual, readFile } };
});

const hasData = existsSync(int8FeatModel) && existsSync(join(hymenoptera, 'train/ants'));
if (!hasData) console.warn(`skipping extractViews tests: ${int8FeatModel} or ${hymenoptera} not found (set GRAFT_SHARED_DIR)`);

const pre = makePreprocessing({ inputSize: 224, scale: 'imagenet', layout: 'nchw' });
const K = 2;

describe.skipIf(!hasData)('extractViews', () => {
  let dir: string;
  let files: string[];
  let trainCount: number;
  let badFile: string;
  let prefix: CutPrefix;
  let cacheDir: string;
  let options: ExtractViewsOptions;

  beforeAll(async () => {
    dir = await tempDir('graft-views-');
    // 3 training photos a class: the f16 test below takes 6 of them (their augmented views are cached), no more.
    await copySubset(join(hymenoptera, 'train'), join(dir, 'train'), 3);
    await copySubset(join(hymenoptera, 'val'), join(dir, 'val'), 1);
    const list = async (split: string): Promise<string[]> => {
      const out: string[] = [];
      for (const label of (await readdir(join(dir, split))).sort()) {
        for (const f of (await readdir(join(dir, split, label))).sort()) out.push(join(dir, split, label, f));
      }
      return out;
    };
    const train = await list('train');
    badFile = join(dir, 'train/ants/zz-truncated.jpg');
    const whole = await readFile(train[0]!);
    await writeFile(badFile, whole.subarray(0, Math.floor(whole.length / 3)));
    files = [...train, badFile, ...(await list('val'))];
    trainCount = train.length + 1;
    const bytes = await readFile(int8FeatModel);
    prefix = { bytes, output: 'features', sha256: createHash('sha256').update(bytes).digest('hex') };
    cacheDir = join(dir, 'cache');
    options = { views: K, seed: 7, viewsFor: (i) => (i < trainCount ? K + 1 : 1) };
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('computes K+1 views of training images and only view 0 of validation ones; skips a bad image', async () => {
    const store = FeatureStore.open(cacheDir);
    const fileIndex = FileHashIndex.open(cacheDir);
    const events: ProgressEvent[] = [];
    try {
      const result = await extractViews(files, prefix, pre, store, { ...options, fileIndex, onProgress: (e) => events.push(e) });
      const good = files.length - 1;
      const valCount = files.length - trainCount;
      expect(result.skipped).toEqual([{ file: badFile, reason: expect.stringMatching(/truncated|corrupt/) as unknown as string }]);
      expect(result.activations[files.indexOf(badFile)]).toBeUndefined();
      expect(result.computed).toBe((trainCount - 1) * (K + 1) + valCount);
      expect(result.cached).toBe(0);
      expect(result.shape).toEqual([1280, 1, 1]);
      for (const [i, views] of result.activations.entries()) {
        if (files[i] === badFile) continue;
        const expected = i < trainCount ? K + 1 : 1;
        expect(views).toHaveLength(expected);
        expect(result.viewNumbers[i]).toEqual([...Array(expected).keys()]);
        for (const v of views!) expect(v.length).toBe(1280);
      }
      // augmented views are other images: their features differ from the plain view's and from each other
      const [v0, v1, v2] = result.activations[0]!;
      expect(relativeDistance(v0!, v1!)).toBeGreaterThan(0.05);
      expect(relativeDistance(v1!, v2!)).toBeGreaterThan(0.05);
      expect(events[0]).toEqual({ type: 'extract-start', total: files.length });
      expect(events).toContainEqual(expect.objectContaining({ type: 'skip', file: badFile }));
      expect(events.at(-1)).toMatchObject({ type: 'extract', done: files.length, total: files.length, computed: result.computed });
      expect(good).toBe(result.activations.filter(Boolean).length);
      console.log(
        `extractViews cold: ${files.length} files, ${result.computed} views in ${result.seconds.toFixed(2)} s ` +
          `(prefix ${result.prefixSeconds.toFixed(2)} s, ${(result.computed / result.seconds).toFixed(1)} views/s end to end)`,
      );
    } finally {
      store.close();
      fileIndex.close();
    }
  });

  it('a second run with the file index computes nothing and reads no image (only the bad one again)', async () => {
    const store = FeatureStore.open(cacheDir);
    const fileIndex = FileHashIndex.open(cacheDir);
    try {
      reads.files.length = 0;
      const result = await extractViews(files, prefix, pre, store, { ...options, fileIndex });
      expect(result.computed).toBe(0);
      expect(result.cached).toBe((trainCount - 1) * (K + 1) + (files.length - trainCount));
      expect(result.prefixSeconds).toBe(0);
      expect(result.shape).toEqual([1280, 1, 1]);
      expect(reads.files.filter((f) => f.startsWith(dir) && !f.startsWith(cacheDir))).toEqual([badFile]);
      expect(result.skipped.map((s) => s.file)).toEqual([badFile]);
    } finally {
      store.close();
      fileIndex.close();
    }
  });

  it('keep: false holds no values, returns the cache key of every view, and the cache holds what a kept run returns', async () => {
    const kept = FeatureStore.open(cacheDir);
    const fileIndex = FileHashIndex.open(cacheDir);
    const freshDir = join(dir, 'cache-not-kept');
    const fresh = FeatureStore.open(freshDir);
    try {
      const reference = await extractViews(files, prefix, pre, kept, { ...options, fileIndex });
      // Cold (every view computed) and warm (every view found by the file index): no values, the same keys.
      for (const [store, computed] of [[fresh, true], [fresh, false], [kept, false]] as const) {
        const result = await extractViews(files, prefix, pre, store, { ...options, keep: false, ...(store === kept ? { fileIndex } : {}) });
        expect(result.computed > 0).toBe(computed);
        expect(result.activations.every((a) => a === undefined)).toBe(true);
        expect(result.shape).toEqual([1280, 1, 1]);
        expect(result.keys[files.indexOf(badFile)]).toBeUndefined();
        for (const [i, views] of reference.activations.entries()) {
          if (!views) continue;
          const keys = result.keys[i]!;
          expect(keys).toHaveLength(views.length);
          const stored = store.getMany(keys);
          keys.forEach((key, v) => expect(stored.get(key)).toEqual(views[v]));
        }
      }
    } finally {
      kept.close();
      fresh.close();
      fileIndex.close();
    }
  });

  it('without the file index it reads and hashes but decodes and runs nothing; another seed recomputes only augmented views', async () => {
    const store = FeatureStore.open(cacheDir);
    try {
      const again = await extractViews(files, prefix, pre, store, options);
      expect(again.computed).toBe(0);
      const reseeded = await extractViews(files, prefix, pre, store, { ...options, seed: 8 });
      expect(reseeded.computed).toBe((trainCount - 1) * K);
      expect(reseeded.cached).toBe(trainCount - 1 + (files.length - trainCount));
      expect(reseeded.activations[0]![0]).toEqual(again.activations[0]![0]);
      expect(relativeDistance(reseeded.activations[0]![1]!, again.activations[0]![1]!)).toBeGreaterThan(0.05);
      const augmentedOnly = await extractViews(files, prefix, pre, store, { ...options, augmentedOnly: true });
      expect(augmentedOnly.computed).toBe(0);
      expect(augmentedOnly.viewNumbers[0]).toEqual([1, 2]);
      expect(augmentedOnly.viewNumbers.at(-1)).toEqual([0]);
      expect(augmentedOnly.activations[0]).toEqual(again.activations[0]!.slice(1));
    } finally {
      store.close();
    }
  });

  it('f16 storage stays within 1e-3 relative of f32, and view 0 matches running the prefix on the plain decode', async () => {
    const store16 = FeatureStore.open(cacheDir);
    const store32 = FeatureStore.open(join(dir, 'cache-f32'));
    const session = await createSession(prefix.bytes);
    try {
      const subset = files.filter((f) => f !== badFile).slice(0, 6);
      const half = await extractViews(subset, prefix, pre, store16, { ...options, viewsFor: undefined });
      const full = await extractViews(subset, prefix, pre, store32, { ...options, viewsFor: undefined, dtype: 'f32' });
      expect(half.computed).toBe(0); // cached above, in f16
      expect(full.computed).toBe(subset.length * (K + 1));
      let worst = 0;
      for (const [i, views] of full.activations.entries()) {
        for (const [v, exact] of views!.entries()) {
          const rounded = half.activations[i]![v]!;
          for (let j = 0; j < exact.length; j++) {
            const error = Math.abs(rounded[j]! - exact[j]!);
            expect(error).toBeLessThanOrEqual(1e-3 * Math.abs(exact[j]!) + 2 ** -25);
            if (exact[j] !== 0) worst = Math.max(worst, error / Math.abs(exact[j]!));
          }
        }
      }
      console.log(`f16 vs f32 activations: max relative error ${worst.toExponential(2)} over ${subset.length * (K + 1)} views`);
      // view 0 in f32 is exactly the prefix's output for the plain decode
      const plain = await decodeImageBytes(await readFile(subset[0]!), pre);
      const direct = await runOutput(session, plain, 1, 'features', { inputSize: 224, layout: 'nchw' });
      expect(full.activations[0]![0]).toEqual(direct);
    } finally {
      store16.close();
      store32.close();
      await session.release();
    }
  });

  it('rejects bad options', async () => {
    const store = FeatureStore.open(cacheDir);
    const empty = FeatureStore.open(join(dir, 'cache-empty'));
    try {
      await expect(extractViews(files, prefix, pre, store, { ...options, views: -1 })).rejects.toThrow(RangeError);
      await expect(extractViews(files, prefix, pre, store, { ...options, viewsFor: () => K + 2 })).rejects.toThrow(/viewsFor/);
      await expect(extractViews(files, prefix, pre, store, { ...options, augment: { ...DEFAULT_AUGMENT, rotateDegrees: 99 } })).rejects.toThrow(
        expect.objectContaining({ code: 'INVALID_CONFIG' }),
      );
      await expect(extractViews(files.slice(0, 1), { ...prefix, output: 'nope' }, pre, empty, options)).rejects.toThrow(/no output "nope"/);
    } finally {
      store.close();
      empty.close();
    }
  });
});

function relativeDistance(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i]! - b[i]!) ** 2;
    norm += b[i]! ** 2;
  }
  return Math.sqrt(diff / norm);
}
