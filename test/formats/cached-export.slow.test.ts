import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ProgressEvent } from '../../src/core/progress.js';
import { train } from '../../src/recipes/train.js';
import { copySubset, hasShared, hymenoptera, sharedDir, skipReason, tempDir } from '../support.js';

const tmBase = join(sharedDir, 'models/tm-mobilenetv2-035/base/model.json');

skipReason('the cached-export check');
describe.skipIf(!hasShared)("a TF.js backbone's cached ONNX export", () => {
  it('damaged, is made again with a warning, so the features are the clean ones (it ran without a word)', async () => {
    const root = await tempDir('graft-cached-export-');
    const [first, second] = [await copySubset(join(hymenoptera, 'train'), join(root, 'first'), 3), await copySubset(join(hymenoptera, 'val'), join(root, 'second'), 4)];
    const fit = async (data: string, cacheDir: string, out: string) => {
      const events: ProgressEvent[] = [];
      await train({ train: data, backbone: tmBase, out: join(root, out), cacheDir, config: { c: 1, multiScale: false }, onProgress: (e) => events.push(e) });
      return { head: await readFile(join(root, out, 'head.bin')), warnings: events.flatMap((e) => (e.type === 'warning' ? [e] : [])) };
    };
    const cache = join(root, 'cache');
    await fit(first, cache, 'm1');
    const exports = join(cache, 'exports');
    const onnx = (await readdir(exports)).find((name) => name.endsWith('.onnx'))!;
    const bytes = await readFile(join(exports, onnx));
    for (let i = bytes.length - 4000; i < bytes.length - 8; i++) bytes[i] = bytes[i]! ^ 0x55;
    await writeFile(join(exports, onnx), bytes);
    const damaged = await fit(second, cache, 'm2');
    expect(damaged.warnings).toEqual([expect.objectContaining({ code: 'CACHED_MODEL_DAMAGED', message: expect.stringContaining(`${onnx}) was damaged: it is made again`) })]);
    const clean = await fit(second, join(root, 'clean-cache'), 'm3');
    expect(damaged.head.equals(clean.head)).toBe(true);
    // Checked and whole, the export is read again without a word.
    expect((await fit(second, cache, 'm4')).warnings).toEqual([]);
  }, 180_000);
});
