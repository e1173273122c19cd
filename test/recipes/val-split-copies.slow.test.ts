import { cp, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ProgressEvent } from '../../src/core/progress.js';
import { train } from '../../src/recipes/train.js';
import { copySubset, hasShared, hymenoptera, int8Model, skipReason, tempDir } from '../support.js';

skipReason('--val-split with copies');
describe.skipIf(!hasShared)('--val-split on a folder with copies of its images', () => {
  it('keeps every copy on one side, so the val score never counts an image the model trained on (README)', async () => {
    const root = await tempDir('graft-copies-');
    const data = await copySubset(join(hymenoptera, 'train'), join(root, 'train'), 10);
    // Each ant photo twice, under a second name (a download saved twice, an export beside its original).
    for (const file of await readdir(join(data, 'ants'))) await cp(join(data, 'ants', file), join(data, 'ants', `copy-${file}`));
    const events: ProgressEvent[] = [];
    await train({ train: data, valSplit: 0.3, backbone: int8Model, out: join(root, 'model'), cacheDir: join(root, 'cache'), config: { seed: 1 }, onProgress: (e) => events.push(e) });
    const duplicates = events.flatMap((e) => (e.type === 'duplicates' ? e.groups : []));
    expect(duplicates).toHaveLength(10);
    expect(duplicates.filter((g) => g.isAcrossSplits)).toEqual([]);
  });
});
