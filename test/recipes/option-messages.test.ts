import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GraftError } from '../../src/core/errors.js';
import { optionExample, optionName } from '../../src/core/option-name.js';
import { fineTuneConfigFrom } from '../../src/learn/fine-tune-config.js';
import { trainConfigFrom } from '../../src/learn/train-config.js';
import { train, type TrainOptions } from '../../src/recipes/train.js';
import { trainFromFeatures } from '../../src/recipes/train-from-features.js';
import { hasShared, hymenoptera, skipReason, tempDir } from '../support.js';

/** The GraftError a call fails with (a test fails if it succeeds or throws anything else). */
async function failure(call: () => Promise<unknown>): Promise<GraftError> {
  const error = await call().then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(GraftError);
  return error as GraftError;
}

async function thrown(call: () => unknown): Promise<GraftError> {
  return failure(async () => call());
}

describe('a refused setting is named as the library caller wrote it and as the CLI user typed it', () => {
  it('optionName and optionExample give both names', () => {
    expect(optionName('valSplit')).toBe('valSplit (--val-split)');
    expect(optionName('fineTune.weightDecay')).toBe('fineTune.weightDecay');
    expect(optionExample('valSplit', 0.2)).toBe('valSplit: 0.2 (--val-split 0.2)');
    expect(optionExample('crops', 'on')).toBe("crops: 'on' (--crops on)");
    expect(optionExample('fineTune.epochs', 6)).toBe('fineTune: { epochs: 6 } (--fine-tune-epochs 6)');
    expect(optionExample('head.hidden', [512, 256])).toBe('head: { hidden: [512, 256] } (--hidden 512,256)');
    expect(optionExample('multiScale', false)).toBe('multiScale: false (--no-multi-scale)');
  });

  skipReason('train() refusing valSplit');
  it.skipIf(!hasShared)('train({ valSplit: 1.5 }) names valSplit, with the flag beside it', async () => {
    const out = join(await tempDir('graft-option-messages-'), 'model');
    const error = await failure(() => train({ train: join(hymenoptera, 'train'), out, valSplit: 1.5 }));
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toBe('valSplit (--val-split) must be in [0, 1). Received: 1.5');
    expect(error.hint).toBe('e.g. valSplit: 0.2 (--val-split 0.2)');
  });

  it('val with valSplit, from JavaScript (the type refuses it), names both options', async () => {
    const options = { train: '/nonexistent', out: '/nonexistent-out', val: '/elsewhere', valSplit: 0.2 } as unknown as TrainOptions;
    const error = await failure(() => train(options));
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toBe('Pass either val (--val) or valSplit (--val-split), not both. Received: "/elsewhere" and 0.2');
  });

  it('val and valSplit exclude each other in the options type', () => {
    // @ts-expect-error -- one or the other: `npm run lint` fails here if the type lets both through again.
    const both: TrainOptions = { train: 'photos', out: 'model', val: 'held-out', valSplit: 0.2 };
    const either: TrainOptions[] = [{ train: 'photos', out: 'model', val: 'held-out' }, { train: 'photos', out: 'model', valSplit: 0.2 }, { train: 'photos', out: 'model', val: undefined, valSplit: undefined }];
    expect([both, ...either].length).toBe(4);
  });

  it('trainFromFeatures names its options: config.crops, config.mirror, inMemoryRows', async () => {
    const out = join(await tempDir('graft-option-messages-'), 'model');
    const crops = await failure(() => trainFromFeatures({ features: '/nonexistent', out, config: { crops: 'on' } }));
    expect(crops.message).toBe("crops: 'on' (--crops on) cannot be used with features (--store): a feature store holds no corner crops");
    const mirror = await failure(() => trainFromFeatures({ features: '/nonexistent', out, config: { mirror: 'on' } }));
    expect(mirror.message).toMatch(/^mirror: 'on' \(--mirror on\) cannot be used with features \(--store\)/);
    const rows = await failure(() => trainFromFeatures({ features: '/nonexistent', out, inMemoryRows: -1 }));
    expect(rows.message).toBe('inMemoryRows (--in-memory-rows) must be an integer of at least 0. Received: -1');
    expect(rows.hint).toBe('e.g. inMemoryRows: 20000 (--in-memory-rows 20000)');
  });

  it('the training and fine-tuning configs name the key and its flag, and give an example of each', async () => {
    const epochs = await thrown(() => trainConfigFrom({ epochs: 0 }));
    expect(epochs.message).toBe('epochs (--epochs) must be a positive integer. Received: 0');
    expect(epochs.hint).toBe('e.g. epochs: 30 (--epochs 30)');
    const lr = await thrown(() => trainConfigFrom({ learningRate: 20 }));
    expect(lr.message).toBe('learningRate (--lr) must be in (0, 10). Received: 20');
    const hidden = await thrown(() => trainConfigFrom({ head: { hidden: [0] } }));
    expect(hidden.message).toBe('head.hidden (--hidden) must be positive integers. Received: [0]');
    expect(hidden.hint).toBe('e.g. head: { hidden: [1024] } (--hidden 1024), or head: { hidden: [] } (--hidden 0) for a linear head');
    const fine = await thrown(() => fineTuneConfigFrom({ epochs: 0 }));
    expect(fine.message).toBe('fineTune.epochs (--fine-tune-epochs) must be a positive integer. Received: 0');
    expect(fine.hint).toBe('e.g. fineTune: { epochs: 6 } (--fine-tune-epochs 6)');
    const batchNorm = await thrown(() => fineTuneConfigFrom({ batchNorm: 'training' as never }));
    expect(batchNorm.hint).toBe("e.g. fineTune: { batchNorm: 'train' } (--train-batchnorm)");
  });
});
