import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { train } from '../../src/recipes/train.js';
import { copySubset, hasShared, hymenoptera, skipReason, tempDir } from '../support.js';

skipReason('the fine-tuning loss test');
describe.skipIf(!hasShared)('the fine-tuning loss an epoch reports', () => {
  it('is the cross-entropy val_loss is compared with, not the weight decay on an MLP folded over low-variance features (~600)', async () => {
    const root = await tempDir('graft-ft-loss-');
    const data = await copySubset(join(hymenoptera, 'train'), join(root, 'data'), 11);
    // The bundled nsfwjs backbone (what an offline dashboard falls back to): features of small variance, so the
    // MLP's first kernel on raw features is large, and its decay term was most of the loss drawn on the curve.
    const result = await train({
      train: data,
      backbone: 'nsfwjs_mobilenet_v2',
      out: join(root, 'model'),
      cacheDir: join(root, 'cache'),
      config: { head: { hidden: [64] }, seed: 1 },
      fineTune: { unfreeze: 'all', epochs: 2 },
    });
    const epochs = result.fineTune!.history;
    expect(epochs.length).toBeGreaterThan(0);
    // Two classes: a cross-entropy near log 2 ~ 0.69, a few at most for a confident mistake.
    for (const epoch of epochs) expect(epoch.loss).toBeLessThan(10);
  }, 120_000);
});
