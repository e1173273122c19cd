import { cp, readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ProgressEvent } from '../../src/core/progress.js';
import { train } from '../../src/recipes/train.js';
import { copySubset, hasShared, hymenoptera, int8Model, skipReason, tempDir } from '../support.js';

skipReason('--val-split with copies');
describe.skipIf(!hasShared)('a folder with copies of its images', () => {
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

  it('cross-validates copies of an image in one fold: the estimate and the label check count no image the head trained on', async () => {
    const root = await tempDir('graft-copies-cv-');
    const plain = await copySubset(join(hymenoptera, 'train'), join(root, 'plain'), 12);
    const copied = join(root, 'copied');
    await cp(plain, copied, { recursive: true });
    // One bee filed as an ant: the label check should name it, with or without its copy.
    const bee = (await readdir(join(plain, 'bees')))[0]!;
    for (const dir of [plain, copied]) await rename(join(dir, 'bees', bee), join(dir, 'ants', bee));
    for (const label of ['ants', 'bees']) for (const file of await readdir(join(copied, label))) await cp(join(copied, label, file), join(copied, label, `copy-${file}`));
    const fit = (data: string) => train({ train: data, backbone: int8Model, out: join(root, `model-${data.split('/').at(-1)}`), cacheDir: join(root, 'cache'), config: { seed: 1 } });
    const [once, twice] = [await fit(plain), await fit(copied)];
    const accuracy = (r: typeof once) => r.selection!.chosen.accuracy;
    // Out of fold, each copy met its twin in training: 1.000 however hard the images (0.92 against 1.00 before).
    expect(accuracy(twice)).toBeLessThan(1);
    expect(Math.abs(accuracy(twice) - accuracy(once))).toBeLessThan(0.1);
    const flagged = (r: typeof once) => r.labelIssues.map((issue) => issue.file.split('/').at(-1));
    expect(flagged(once)).toContain(bee);
    expect(flagged(twice)).toEqual(expect.arrayContaining([bee, `copy-${bee}`]));
  });
});
