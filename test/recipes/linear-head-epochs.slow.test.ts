import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GraftModel } from '../../src/model/graft-model.js';
import { train } from '../../src/recipes/train.js';
import { copySubset, hasShared, hymenoptera, int8Model, skipReason, tempDir } from '../support.js';

skipReason('bestEpoch of a linear head');
describe.skipIf(!hasShared)('a linear head has no epochs', () => {
  it('so train() and graft.json give no bestEpoch for it; a graft.json of an older build, with bestEpoch 0, still loads', async () => {
    const root = await tempDir('graft-linear-epochs-');
    const data = await copySubset(join(hymenoptera, 'train'), join(root, 'train'), 6);
    const out = join(root, 'model');
    const result = await train({ train: data, backbone: int8Model, out, cacheDir: join(root, 'cache'), config: { multiScale: false, c: 1 } });
    expect(result.head.kind).toBe('linear');
    expect(result.history).toEqual([]);
    expect('bestEpoch' in result).toBe(false);
    const manifestPath = join(out, 'graft.json');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as { training: { outcome: Record<string, unknown> } };
    expect('bestEpoch' in manifest.training.outcome).toBe(false);

    // Builds before this one wrote 0 for a linear head: such a model directory loads and predicts as it did.
    manifest.training.outcome.bestEpoch = 0;
    await writeFile(manifestPath, JSON.stringify(manifest, null, 2));
    const model = await GraftModel.load(out);
    try {
      expect(model.manifest.training?.outcome.bestEpoch).toBe(0);
      const ant = join(data, 'ants', (await readdir(join(data, 'ants')))[0]!);
      const { results } = await model.predict([ant]);
      expect(results[0]!.predictions[0]!.label).toMatch(/^(ants|bees)$/);
    } finally {
      await model.dispose();
    }
  }, 300_000);
});
