import { copyFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inMemoryRows, materialiseRows } from '../../src/features/feature-rows.js';
import { compareUtf8, ShardRows } from '../../src/features/shard-rows.js';
import { openShardSet, storeStatus } from '../../src/features/shard-set.js';
import type { ShardMeta } from '../../src/features/shard-store.js';
import { writeSyntheticShards } from '../../src/features/synthetic-shards.js';
import { tempDir } from '../support.js';

const model = (featureDim: number, sha = 'a'.repeat(64)): ShardMeta['model'] => ({
  name: 'synthetic',
  source: 'synthetic',
  sha256: sha,
  featureDim,
  preprocessing: { inputSize: 224, resize: 'center-crop', interpolation: 'bilinear', scale: 'imagenet', mean: [0, 0, 0], std: [1, 1, 1], layout: 'nchw', channels: 'rgb' } as never,
  preprocessingHash: 'abcdef0123456789',
});

describe('FeatureRows', () => {
  it('inMemoryRows gives views in order and checks its input', () => {
    const rows = inMemoryRows(new Float32Array([1, 2, 3, 4, 5, 6]), Int32Array.from([0, 1, 0]), 2, ['a', 'b']);
    const seen: number[][] = [];
    rows.forEachBlock(({ data, labels, start, count }) => seen.push([start, count, ...data, ...labels]), 2);
    expect(seen).toEqual([[0, 2, 1, 2, 3, 4, 0, 1], [2, 1, 5, 6, 0]]);
    expect(() => inMemoryRows(new Float32Array(3), Int32Array.from([0, 1]), 2, ['a', 'b'])).toThrow(RangeError);
    expect(() => inMemoryRows(new Float32Array(4), Int32Array.from([0, 2]), 2, ['a', 'b'])).toThrow(/labels\[1\] is 2/);
    expect(() => rows.forEachBlock(() => undefined, 0)).toThrow(RangeError);
  });

  it('reads shards merged in (part, label, path) order, the same on every pass and for any block size', async () => {
    const dir = await tempDir('graft-rows-');
    await writeSyntheticShards(dir, { rows: 3000, shards: 3, classes: 4, valFraction: 0.2, model: model(8) });
    const set = openShardSet(dir);
    try {
      const all = new ShardRows(set);
      const train = new ShardRows(set, { part: 0 });
      const val = new ShardRows(set, { part: 1 });
      expect(all.count).toBe(3000);
      expect(train.count + val.count).toBe(3000);
      expect(val.count).toBeGreaterThan(450);
      const keys: string[] = [];
      all.forEachFile((f) => keys.push(`${f.part}\u0000${f.path}`));
      // Paths start with train/ or val/ and then the class: sorted keys are (part, label, path) order.
      expect(keys).toEqual([...keys].sort(compareUtf8));
      const a = materialiseRows(all);
      let rows = 0;
      all.forEachBlock(({ data, labels, start, count }) => {
        expect(data).toEqual(a.data.subarray(start * 8, (start + count) * 8));
        expect(labels).toEqual(a.labels.subarray(start, start + count));
        rows += count;
      }, 77);
      expect(rows).toBe(3000);
      expect(materialiseRows(all).data).toEqual(a.data);
      // Label ids follow the class order and the synthetic classes are distinct: class means differ.
      expect(new Set(a.labels)).toEqual(new Set([0, 1, 2, 3]));
      // A selection by path: what a split made at training time uses.
      const held = new Set(keys.slice(0, 100).map((k) => k.split('\u0000')[1]!));
      expect(new ShardRows(set, { exclude: held }).count).toBe(2900);
      expect(new ShardRows(set, { only: held }).count).toBe(100);
      // blocksWithFiles: the same rows with their files, as copies.
      let n = 0;
      for (const block of all.blocksWithFiles(1000)) {
        expect(block.files.length).toBe(block.count);
        expect(block.data).toEqual(a.data.subarray(block.start * 8, (block.start + block.count) * 8));
        n += block.count;
      }
      expect(n).toBe(3000);
    } finally {
      set.close();
    }
  });

  it('refuses a store with a missing, partial or foreign shard, naming it', async () => {
    const dir = await tempDir('graft-rows-bad-');
    const files = await writeSyntheticShards(dir, { rows: 400, shards: 4, classes: 2, model: model(4) });
    expect(storeStatus(dir).isComplete).toBe(true);
    await copyFile(files[1]!, join(dir, 'shard-00001-of-00004.partial.sqlite'));
    await rm(files[1]!);
    const status = storeStatus(dir);
    expect(status.shards[1]!.state).toBe('partial');
    expect(() => openShardSet(dir)).toThrow(/shard 1 \(only a checkpoint: still running or interrupted\) of 4 is not complete/);
    await rm(join(dir, 'shard-00001-of-00004.partial.sqlite'));
    expect(() => openShardSet(dir)).toThrow(/shard 1 of 4 is not complete/);
    // Shard 1 remade with another model.
    const other = await tempDir('graft-rows-other-');
    const otherFiles = await writeSyntheticShards(other, { rows: 400, shards: 4, classes: 2, model: model(4, 'b'.repeat(64)) });
    await copyFile(otherFiles[1]!, files[1]!);
    expect(() => openShardSet(dir)).toThrow(/shard-00001-of-00004\.sqlite was made with backbone synthetic \(sha256 bbbbbbbbbbbb/);
    // Two shard counts in one folder.
    await copyFile(files[0]!, join(dir, 'shard-00000-of-00002.sqlite'));
    expect(storeStatus(dir).problems[0]).toMatch(/2 different counts/);
  });

  it('refuses a shard copied under another index, and lists every shard when some are damaged', async () => {
    const dir = await tempDir('graft-rows-copied-');
    const files = await writeSyntheticShards(dir, { rows: 400, shards: 4, classes: 2, model: model(4) });
    // Same row count by chance or not: the copy's meta says which shard it is.
    await copyFile(files[0]!, files[2]!);
    expect(() => openShardSet(dir)).toThrow(/shard-00002-of-00004\.sqlite holds shard 0\/4, not 2\/4 as its name says/);
    await writeFile(files[1]!, 'x');
    await writeFile(files[3]!, '');
    const status = storeStatus(dir);
    expect(status.shards.map((s) => s.state)).toEqual(['complete', 'damaged', 'complete', 'damaged']);
    expect(status.problems.join('\n')).toMatch(/shard-00001-of-00004\.sqlite .*delete it and rerun shard 1\/4/);
    expect(status.problems.join('\n')).toMatch(/shard-00003-of-00004\.sqlite .*delete it and rerun shard 3\/4/);
  });

  it('keeps memory flat while passes read 20k rows of 1280 floats (100 MB) in blocks', async () => {
    const dir = await tempDir('graft-rows-20k-');
    await writeSyntheticShards(dir, { rows: 20_000, shards: 4, classes: 10, model: model(1280) });
    const set = openShardSet(dir);
    try {
      const rows = new ShardRows(set);
      const dataBytes = rows.count * rows.dim * 4;
      const sums = new Float64Array(rows.dim);
      const pass = (): number => {
        let peak = 0;
        rows.forEachBlock(({ data, count }) => {
          for (let i = 0; i < count * rows.dim; i++) sums[i % rows.dim]! += data[i]!;
          peak = Math.max(peak, process.memoryUsage().rss);
        }, 512);
        return peak;
      };
      pass(); // warm: page cache, JIT, statement caches
      const before = process.memoryUsage().rss;
      const peaks = [pass(), pass(), pass()];
      // One pass reads 100 MB; memory must not grow with it: bounded by a block (2.6 MB) and the per-shard page caches.
      for (const peak of peaks) expect(peak - before).toBeLessThan(dataBytes / 4);
      expect(Math.max(...peaks) - Math.min(...peaks)).toBeLessThan(dataBytes / 10);
    } finally {
      set.close();
    }
  }, 120_000);
});
