import { cp, mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { train } from '../../src/recipes/train.js';
import { copySubset, hasShared, hymenoptera, int8Model, skipReason, tempDir } from '../support.js';

skipReason('selection vs val');
describe.skipIf(!hasShared)('head selection on training images only', () => {
  it('poisoned validation labels change the reported val accuracy, never the chosen head or its weights', async () => {
    const root = await tempDir('graft-poison-');
    const data = await copySubset(join(hymenoptera, 'train'), join(root, 'train'), 12);
    const val = await copySubset(join(hymenoptera, 'val'), join(root, 'val'), 8);
    // The same validation images with every label swapped: a user who "tunes" on val would now choose differently.
    const poisoned = join(root, 'val-poisoned');
    for (const [from, to] of [['ants', 'bees'], ['bees', 'ants']] as const) {
      await mkdir(join(poisoned, to), { recursive: true });
      for (const f of await readdir(join(val, from))) await cp(join(val, from, f), join(poisoned, to, f));
    }
    const cacheDir = join(root, 'cache');
    const run = (v: string, out: string) => train({ train: data, val: v, backbone: int8Model, out: join(root, out), cacheDir, config: { seed: 3 } });
    const clean = await run(val, 'clean');
    const dirty = await run(poisoned, 'dirty');
    expect(dirty.val!.accuracy).toBeCloseTo(1 - clean.val!.accuracy, 10);
    expect(dirty.selection).toEqual({ ...clean.selection, seconds: dirty.selection!.seconds });
    expect(dirty.head).toEqual(clean.head);
    expect((await readFile(join(root, 'dirty', 'head.bin'))).equals(await readFile(join(root, 'clean', 'head.bin')))).toBe(true);
  });
});
