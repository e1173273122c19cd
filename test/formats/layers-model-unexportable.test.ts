import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { GraftError } from '../../src/core/errors.js';
import { backboneFromOptions } from '../../src/engine/open-backbone.js';
import { saveLayersModelToDir } from '../../src/readers/save-layers-model.js';
import { ensureTfjsBackend } from '../../src/runtime/tfjs-backend.js';
import { tempDir } from '../support.js';

/**
 * A TF.js model with a layer the ONNX exporter cannot write (LayerNormalization) still runs in the tfjs runtime:
 * opening it must not depend on its export, which fails only where it is used.
 */
describe('a TF.js backbone the ONNX exporter cannot write', () => {
  let modelJson = '';
  let root = '';
  beforeAll(async () => {
    await ensureTfjsBackend();
    root = await tempDir('graft-unexportable-');
    const input = tf.input({ shape: [32, 32, 3] });
    const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu' }).apply(input) as tf.SymbolicTensor;
    const norm = tf.layers.layerNormalization().apply(conv) as tf.SymbolicTensor;
    const pooled = tf.layers.globalAveragePooling2d({}).apply(norm) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: pooled });
    modelJson = (await saveLayersModelToDir(model, join(root, 'model'))).modelJson;
    model.dispose();
  });
  const open = (engine?: 'tfjs') =>
    backboneFromOptions({ backbone: modelJson, cacheDir: join(root, 'cache'), overrides: { scale: '0..1' }, ...(engine ? { engine } : {}) });

  it('opens, and embeds in the tfjs runtime', async () => {
    const handle = await open('tfjs');
    expect(handle.info.featureDim).toBe(4);
    const backbone = await handle.load();
    const features = await backbone.embed(new Float32Array(32 * 32 * 3).fill(0.5), 1);
    await backbone.dispose();
    expect(features.length).toBe(4);
    expect([...features].every(Number.isFinite)).toBe(true);
  });

  it('on onnxruntime, says which layer the export cannot write when the export is used', async () => {
    const handle = await open();
    const error = await handle.onnxBytes().then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(GraftError);
    expect((error as GraftError).code).toBe('UNSUPPORTED_MODEL');
    expect((error as GraftError).message).toMatch(/LayerNormalization/);
  });
});
