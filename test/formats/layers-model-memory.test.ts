import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { convertModel } from '../../src/convert/convert-model.js';
import { backboneFromOptions } from '../../src/engine/open-backbone.js';
import { ensureTfjsBackend } from '../../src/runtime/tfjs-backend.js';
import { hasShared, sharedDir, skipReason, tempDir } from '../support.js';

/** The TF.js MobileNet of the tutorials: a classifier, whose last layers a feature cut leaves out. */
const tfjsMobileNet = join(sharedDir, 'models/mobilenet-v1-025-tfjs/layers/model.json');
/** Teachable Machine's Keras file: its backbone a Sequential nested in the model. */
const teachableH5 = join(sharedDir, 'models/tm-keras-h5/renoirtan-bbc2021/keras_model.h5');

/** tfjs frees nothing by itself: each model Graft loads must leave tfjs's tensor count as it found it. */
skipReason('layers model memory');
describe.skipIf(!hasShared)('TF.js and Keras models Graft loads', () => {
  let root = '';
  beforeAll(async () => {
    await ensureTfjsBackend();
    root = await tempDir('graft-layers-memory-');
  });
  const open = (cache: string, engine?: 'tfjs') =>
    backboneFromOptions({ backbone: tfjsMobileNet, cacheDir: join(root, cache), overrides: { scale: '-1..1' }, ...(engine ? { engine } : {}) });

  it('a TF.js backbone on a cold cache frees the model it built and exported, and the classifier its cut left out', async () => {
    const before = tf.memory().numTensors;
    const handle = await open('cold-export');
    expect((await handle.onnxBytes()).byteLength).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a TF.js backbone opened on a cold cache and neither exported nor loaded keeps no tfjs model', async () => {
    const before = tf.memory().numTensors;
    const handle = await open('cold-unused');
    expect(handle.info.featureDim).toBe(256);
    // Before: the model built to describe it waited for a first user, and kept its weights when none came.
    expect(tf.memory().numTensors).toBe(before);
  });

  it('in the tfjs runtime each load is a model of its own, freed whole by its dispose', async () => {
    const before = tf.memory().numTensors;
    const handle = await open('cold-tfjs', 'tfjs');
    const image = new Float32Array(224 * 224 * 3);
    for (let i = 0; i < 2; i++) {
      const backbone = await handle.load();
      expect((await backbone.embed(image, 1)).length).toBe(handle.info.featureDim);
      await backbone.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
  });

  it('converting a Keras file with a nested model frees its weights', async () => {
    const before = tf.memory().numTensors;
    await convertModel(teachableH5, { to: 'onnx', out: join(root, 'teachable.onnx'), cacheDir: join(root, 'convert-cache') });
    expect(tf.memory().numTensors).toBe(before);
  });
});
