import { mkdir, readdir, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatTrainResult } from '../../src/cli/commands/train.js';
import { train } from '../../src/recipes/train.js';
import { copySubset, hasShared, hymenoptera, int8Model, skipReason, tempDir } from '../support.js';

describe.skipIf(!hasShared)('--val-split with --group-by that makes each class one group', () => {
  skipReason('the grouped --val-split summary test');

  it('says the split held out nothing, and why, instead of telling the user to pass --val-split', async () => {
    const root = await tempDir('graft-group-split-');
    const data = await copySubset(join(hymenoptera, 'train'), join(root, 'data'), 6);
    // '^(ants|bees)' would be the class itself; '^()' gives every file the same (empty) key: one group per class.
    const result = await train({ train: data, valSplit: 0.3, backbone: int8Model, out: join(root, 'model'), cacheDir: join(root, 'cache'), config: { groupBy: '^()', c: 1 } });
    expect(result.images.val).toBe(0);
    const text = formatTrainResult(result);
    expect(text).toMatch(/val {8}none \(--val-split 0\.3 held out nothing: a class of one image, or of one --group-by group, is trained on;/);
  }, 120_000);
});

describe.skipIf(!hasShared)('a class too small to cross-validate', () => {
  it('is refused before any feature is computed, naming the class', async () => {
    const root = await tempDir('graft-small-class-');
    const data = await copySubset(join(hymenoptera, 'train'), join(root, 'data'), 6);
    await mkdir(join(data, 'wasps'));
    const [one] = await readdir(join(data, 'bees'));
    await copyFile(join(data, 'bees', one!), join(data, 'wasps', one!));
    const events: string[] = [];
    const run = train({ train: data, backbone: int8Model, out: join(root, 'model'), cacheDir: join(root, 'cache'), onProgress: (e) => events.push(e.type) });
    await expect(run).rejects.toMatchObject({ code: 'INVALID_DATASET', message: expect.stringContaining('"wasps" has 1') });
    expect(events.filter((type) => type.startsWith('extract'))).toEqual([]);
  }, 120_000);

  it('says so when --val-split held out images of the class, not only to add images', async () => {
    const root = await tempDir('graft-small-class-split-');
    const data = await copySubset(join(hymenoptera, 'train'), join(root, 'data'), 6);
    await mkdir(join(data, 'wasps'));
    for (const file of (await readdir(join(hymenoptera, 'val', 'bees'))).slice(0, 2)) await copyFile(join(hymenoptera, 'val', 'bees', file), join(data, 'wasps', file));
    const run = train({ train: data, valSplit: 0.3, backbone: int8Model, out: join(root, 'model'), cacheDir: join(root, 'cache') });
    await expect(run).rejects.toMatchObject({ code: 'INVALID_DATASET', message: expect.stringContaining('"wasps" has 1'), hint: expect.stringMatching(/^valSplit \(--val-split\) held out images of "wasps": pass a held-out folder with val \(--val\) or a smaller split, or add images/) });
  }, 120_000);
});
