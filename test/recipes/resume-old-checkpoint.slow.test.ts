import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraftError } from '../../src/core/errors.js';
import { saveCheckpoint } from '../../src/learn/checkpoint.js';
import { train } from '../../src/recipes/train.js';
import { copySubset, hasShared, hymenoptera, int8Model, skipReason, tempDir } from '../support.js';

skipReason('resuming a fine-tuning checkpoint written by an earlier Graft');
describe.skipIf(!hasShared)('train --fine-tune --resume with a checkpoint an earlier Graft wrote', () => {
  let root: string;
  beforeAll(async () => {
    root = await tempDir('graft-old-checkpoint-');
    await copySubset(join(hymenoptera, 'train'), join(root, 'photos'), 6);
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('is refused naming both causes (another run, or an earlier Graft) and how to start over, before any work', async () => {
    const checkpoint = join(root, 'model.checkpoint');
    // The header 718c755 (2026-12-05) wrote after one fine-tuning epoch of the same command on the same images (its
    // fingerprint hashed that version's config, whose keys differ from this one's); the tensors do not matter here.
    await saveCheckpoint(checkpoint, {
      fingerprint: 'fad8c98832896912373ef099157518b24252fe114cf096ec6cf4453d0d956198',
      epoch: 1,
      history: [{ loss: 0.0507, acc: 1, val_loss: 0.2076, val_acc: 0.875 }],
      bestEpoch: 0,
      bestLoss: 0.1898,
      tensors: new Map(),
      extra: { headPhase: {} },
    });
    const error = await train({
      train: join(root, 'photos'),
      valSplit: 0.25,
      backbone: int8Model,
      out: join(root, 'model'),
      cacheDir: join(root, 'cache'),
      offline: true,
      fineTune: { unfreeze: 'last:1', epochs: 4 },
      checkpoint,
      resume: true,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GraftError);
    expect(error).toMatchObject({ code: 'INVALID_CHECKPOINT' });
    expect((error as GraftError).message).toContain(`Checkpoint ${checkpoint} belongs to a different run`);
    expect((error as GraftError).message).toContain('a run of an earlier Graft');
    expect((error as GraftError).hint).toMatch(/without resume \(--resume\) to start over \(the checkpoint is then replaced\)/);
    expect(existsSync(checkpoint)).toBe(true);
    expect(existsSync(join(root, 'model'))).toBe(false);
  });
});
