import { describe, expect, it } from 'vitest';
import { GraftError } from '../../src/core/errors.js';
import { train, type TrainOptions } from '../../src/recipes/train.js';
import { trainFromFeatures, type TrainFromFeaturesOptions } from '../../src/recipes/train-from-features.js';

describe('options train() and trainFromFeatures() do not read', () => {
  it('are refused before any work, naming where a training option belongs, as unknown config keys are', async () => {
    // A variable escapes TypeScript's check of extra properties: this compiles, and trained with seed 42 before.
    const options = { train: '/nonexistent', out: '/nonexistent-out', seed: 7, hidden: [64], typo: 1 };
    const error = (await train(options as TrainOptions).catch((e: unknown) => e)) as GraftError;
    expect(error).toBeInstanceOf(GraftError);
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toMatch(/^Unknown options of train\(\): seed, hidden, typo\. Known: train, val/);
    expect(error.hint).toBe('seed belongs in config: { seed: ... }; hidden belongs in config.head: { head: { hidden: ... } }');
    const fromFeatures = (await trainFromFeatures({ features: '/nonexistent', out: '/x', valSplit: undefined, folds: 3 } as TrainFromFeaturesOptions).catch((e: unknown) => e)) as GraftError;
    expect(fromFeatures.message).toMatch(/^Unknown option of trainFromFeatures\(\): folds\./);
    // A known option left undefined is no option at all; the run goes on to what is really wrong (the folder).
    const missing = (await train({ train: '/nonexistent', out: '/nonexistent-out', val: undefined }).catch((e: unknown) => e)) as GraftError;
    expect(missing.code).toBe('INVALID_DATASET');
  });
});
