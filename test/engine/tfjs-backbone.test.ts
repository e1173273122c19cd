import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BackboneInfo } from '../../src/engine/backbone.js';
import { makePreprocessing } from '../../src/core/preprocessing.js';
import { TfjsBackbone } from '../../src/engine/tfjs-backbone.js';
import { ensureTfjsBackend } from '../../src/runtime/tfjs-backend.js';
import { GraftError } from '../../src/core/errors.js';

const info: BackboneInfo = {
  name: 'tiny',
  source: 'memory',
  format: 'tfjs-layers',
  sha256: '0'.repeat(64),
  preprocessing: makePreprocessing({ inputSize: 16, scale: '-1..1', layout: 'nhwc' }),
  featureDim: 4,
  featureOutput: 'gap',
};

function tinyModel(): tf.LayersModel {
  return tf.sequential({
    layers: [tf.layers.conv2d({ inputShape: [16, 16, 3], filters: 4, kernelSize: 3, name: 'conv' }), tf.layers.globalAveragePooling2d({ name: 'gap' })],
  });
}

beforeAll(async () => {
  await ensureTfjsBackend();
});

describe('TfjsBackbone', () => {
  it('embeds a batch like predict, keeps no tensors, and disposes twice safely', async () => {
    const model = tinyModel();
    const backbone = TfjsBackbone.create(model, info);
    const input = tf.randomUniform([3, 16, 16, 3], -1, 1).dataSync() as Float32Array;
    const expected = tf.tidy(() => (model.predict(tf.tensor4d(input, [3, 16, 16, 3])) as tf.Tensor).dataSync());
    const before = tf.memory().numTensors;
    const features = await backbone.embed(input, 3);
    expect(tf.memory().numTensors).toBe(before);
    expect(features).toHaveLength(12);
    expect(Array.from(features)).toEqual(Array.from(expected));
    await expect(backbone.embed(input.subarray(1), 3)).rejects.toThrow(RangeError);
    await backbone.dispose();
    await backbone.dispose();
    await expect(backbone.embed(input, 3)).rejects.toBeInstanceOf(GraftError);
  });

  it('rejects a model whose shapes contradict the info', () => {
    const model = tinyModel();
    expect(() => TfjsBackbone.create(model, { ...info, featureDim: 5 })).toThrow(/not 5 features/);
    expect(() => TfjsBackbone.create(model, { ...info, preprocessing: makePreprocessing({ inputSize: 32, scale: '-1..1', layout: 'nhwc' }) })).toThrow(GraftError);
    model.dispose();
  });
});
