import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { trainConfigFrom } from '../../src/learn/train-config.js';
import { trainHead } from '../../src/learn/train-head.js';
import { train } from '../../src/recipes/train.js';
import { copySubset, hasShared, hymenoptera, int8Model, skipReason, tempDir } from '../support.js';
import { clusters } from './clusters.js';

/** An MLP head on 1280-d rows: its products are large enough (32 x 1280 x 64) to go to the native GEMM when it is on. */
async function mlpWeights(): Promise<Buffer[]> {
  const { rows, labels } = clusters(96, 1280, 3, 1, 1);
  const head = await trainHead({ features: rows, labels }, undefined, 3, trainConfigFrom({ epochs: 3, batchSize: 32, head: { hidden: [64], dropout: 0 } }));
  return head.layers.map((layer) => Buffer.from(layer.weight.buffer, layer.weight.byteOffset, layer.weight.byteLength));
}

skipReason('tfjs after fine-tuning');
describe.skipIf(!hasShared)('a process that fine-tuned', () => {
  it('trains an MLP head to the bit as a fresh process does, alone or beside a fine-tune (its native GEMM was for that run)', async () => {
    const before = await mlpWeights();
    // A finished head or fine-tuning leaves tfjs as it found it: a library caller trains in a loop.
    const tensors = tf.memory().numTensors;
    const root = await tempDir('graft-after-fine-tune-');
    const data = await copySubset(join(hymenoptera, 'train'), join(root, 'data'), 6);
    const fineTune = (out: string) => train({ train: data, backbone: int8Model, out: join(root, out), cacheDir: join(root, 'cache'), config: { batchSize: 8 }, fineTune: { unfreeze: 'last:1', epochs: 1, views: 0 } });
    await fineTune('first');
    expect(tf.memory().numTensors).toBe(tensors);
    expect(await mlpWeights()).toEqual(before);
    // At the same time as one: the runs take turns, and each has its own setting.
    const [, beside] = await Promise.all([fineTune('second'), mlpWeights()]);
    expect(beside).toEqual(before);
    expect(tf.memory().numTensors).toBe(tensors);
  });
});
