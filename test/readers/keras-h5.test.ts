import { existsSync } from 'node:fs';
import { copyFile, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureTfjsBackend } from '../../src/runtime/tfjs-backend.js';
import { GraftError } from '../../src/core/errors.js';
import { loadKerasH5, parseLabelsText } from '../../src/readers/keras-h5/index.js';
import { toTfjsModelConfig } from '../../src/readers/keras-h5/keras-config.js';
import { tempDir } from '../support.js';
import { layersExportVsTfjs } from '../tfjs-to-onnx/layers-export-vs-tfjs.js';

// The Teachable Machine files (full MobileNetV2 backbones, about 3 s) are checked in keras-h5.slow.test.ts.
const repoRoot = resolve(fileURLToPath(import.meta.url), '../../..');
const sharedDir = process.env.GRAFT_SHARED_DIR ?? resolve(repoRoot, '../shared');
const mnistDir = join(sharedDir, 'models/keras-h5-sequential-cnn');
const mnist2 = join(mnistDir, 'mnist_cnn_keras2.2.4-tf.h5');
const mnist3 = join(mnistDir, 'mnist_cnn_keras3.9.0.h5');
const hasMnist = existsSync(mnist2) && existsSync(mnist3);
if (!hasMnist) console.warn(`skipping Keras .h5 tests on real files: ${sharedDir} lacks models/keras-h5-sequential-cnn (set GRAFT_SHARED_DIR)`);

beforeAll(async () => {
  await ensureTfjsBackend();
});

/** Digits 0-9 in three fonts, white on black, 28x28 grayscale, x/255 (MNIST-like). */
async function renderDigits(): Promise<{ x: tf.Tensor4D; y: number[] }> {
  const fonts = ['DejaVu Sans', 'DejaVu Serif', 'DejaVu Sans Mono'];
  const pixels: number[] = [];
  const y: number[] = [];
  for (const font of fonts) {
    for (let digit = 0; digit <= 9; digit++) {
      const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28"><rect width="28" height="28" fill="black"/><text x="14" y="22" font-family="${font}" font-size="22" fill="white" text-anchor="middle">${digit}</text></svg>`;
      const gray = await sharp(Buffer.from(svg)).greyscale().raw().toBuffer();
      for (const v of gray) pixels.push(v / 255);
      y.push(digit);
    }
  }
  return { x: tf.tensor4d(pixels, [y.length, 28, 28, 1]), y };
}

describe('parseLabelsText', () => {
  it('strips Teachable Machine indices only when every line has the right one', () => {
    expect(parseLabelsText('0 thumb\n1 index\n')).toEqual(['thumb', 'index']);
    expect(parseLabelsText('\uFEFFArızalı\r\nNormal\r\nBelirsiz')).toEqual(['Arızalı', 'Normal', 'Belirsiz']);
    expect(parseLabelsText('3 cats\ndogs')).toEqual(['3 cats', 'dogs']);
  });
});

describe('toTfjsModelConfig', () => {
  it('translates Keras 3 serialisation and drops groups: 1', () => {
    const policy = { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' }, registered_name: null };
    const tensor = (name: string) => ({ class_name: '__keras_tensor__', config: { shape: [null, 4], dtype: 'float32', keras_history: [name, 0, 0] } });
    const out = toTfjsModelConfig({
      class_name: 'Functional',
      config: {
        name: 'f',
        layers: [
          { class_name: 'InputLayer', name: 'in', config: { name: 'in', batch_shape: [null, 4], dtype: 'float32' }, inbound_nodes: [] },
          { module: 'keras.layers', class_name: 'Conv2D', name: 'c', config: { name: 'c', dtype: policy, groups: 1 }, inbound_nodes: [{ args: [tensor('in')], kwargs: {} }] },
          { class_name: 'Add', name: 'a', config: { name: 'a' }, inbound_nodes: [{ args: [[tensor('in'), tensor('c')]], kwargs: {} }] },
        ],
      },
    });
    const layers = (out['config'] as { layers: { config: Record<string, unknown>; inbound_nodes: unknown }[] }).layers;
    expect(layers[0]!.config).toEqual({ name: 'in', batch_input_shape: [null, 4], dtype: 'float32' });
    expect(layers[1]!.config).toEqual({ name: 'c', dtype: 'float32' });
    expect(layers[1]).not.toHaveProperty('module');
    expect(layers[2]!.inbound_nodes).toEqual([[['in', 0, 0, {}], ['c', 0, 0, {}]]]);
    expect(() => toTfjsModelConfig({ class_name: 'Sequential', config: { layers: [{ class_name: 'Conv2D', config: { name: 'g', groups: 2 } }] } })).toThrow(/groups=2/);
    const hardSigmoid = { class_name: 'Sequential', config: { layers: [{ class_name: 'Activation', config: { name: 'h', activation: 'hard_sigmoid' } }] } };
    expect(() => toTfjsModelConfig(hardSigmoid, '3.9.0')).toThrow(/relu6/);
    expect(toTfjsModelConfig(hardSigmoid, '2.4.0')).toEqual(hardSigmoid);
  });
});

describe('loadKerasH5: malformed input', () => {
  const expectGraftError = async (promise: Promise<unknown>, code: string, pattern: RegExp): Promise<void> => {
    const error = await promise.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(GraftError);
    expect((error as GraftError).code).toBe(code);
    expect((error as GraftError).message).toMatch(pattern);
  };

  it('refuses a missing file, a non-HDF5 file and a truncated file, and writes nothing', async () => {
    const dir = await tempDir('graft-h5-');
    await expectGraftError(loadKerasH5(join(dir, 'absent.h5')), 'MODEL_NOT_FOUND', /Cannot read/);
    await writeFile(join(dir, 'text.h5'), 'this is not HDF5\n'.repeat(100));
    await expectGraftError(loadKerasH5(join(dir, 'text.h5')), 'INVALID_MODEL_DIR', /not an HDF5 file/);
    await writeFile(join(dir, 'empty.h5'), '');
    await expectGraftError(loadKerasH5(join(dir, 'empty.h5')), 'INVALID_MODEL_DIR', /not an HDF5 file/);
    if (hasMnist) {
      const bytes = await readFile(mnist2);
      await writeFile(join(dir, 'cut.h5'), bytes.subarray(0, bytes.length >> 1));
      await expectGraftError(loadKerasH5(join(dir, 'cut.h5')), 'INVALID_MODEL_DIR', /truncated/);
    }
    expect((await readdir(dir)).sort()).toEqual(hasMnist ? ['cut.h5', 'empty.h5', 'text.h5'] : ['empty.h5', 'text.h5']);
  });
});

describe.skipIf(!hasMnist)('loadKerasH5: Sequential MNIST CNNs (Keras 2.2.4-tf and 3.9.0)', () => {
  for (const [file, version, weights] of [
    [mnist2, '2.2.4-tf', 8],
    [mnist3, '3.9.0', 10],
  ] as const) {
    it(`classifies rendered digits and exports to ONNX (${version})`, async () => {
      const { model, kerasVersion, labels } = await loadKerasH5(file);
      const { x, y } = await renderDigits();
      try {
        expect(kerasVersion).toBe(version);
        expect(labels).toBeUndefined();
        expect(model.weights.length).toBe(weights);
        const predicted = tf.tidy(() => (model.predict(x) as tf.Tensor).argMax(-1).dataSync());
        const accuracy = y.filter((d, i) => predicted[i] === d).length / y.length;
        const diff = (await layersExportVsTfjs(model, x.dataSync() as Float32Array, y.length)).maxAbsDiff;
        console.log(`${version}: rendered-digit accuracy ${accuracy.toFixed(3)} (${y.length}), ONNX vs tfjs max abs diff ${diff.toExponential(2)}`);
        expect(accuracy).toBeGreaterThanOrEqual(0.8);
        expect(diff).toBeLessThanOrEqual(1e-4);
      } finally {
        x.dispose();
        model.dispose();
      }
    });
  }

  it('refuses a weights-only file and one without model_config', async () => {
    // A copy of the Keras 2 file is still a full model; build the two cases by editing a copy's attributes.
    const dir = await tempDir('graft-h5-');
    const h5wasm = await import('h5wasm/node');
    await h5wasm.ready;
    const weightsOnly = join(dir, 'weights.h5');
    const noConfig = join(dir, 'noconfig.h5');
    await copyFile(mnist2, weightsOnly);
    await copyFile(mnist2, noConfig);
    let f = new h5wasm.File(weightsOnly, 'a');
    f.delete_attribute('model_config');
    f.create_attribute('layer_names', ['conv2d', 'dense']);
    f.close();
    f = new h5wasm.File(noConfig, 'a');
    f.delete_attribute('model_config');
    f.close();
    await expect(loadKerasH5(weightsOnly)).rejects.toThrow(/holds only weights/);
    await expect(loadKerasH5(noConfig)).rejects.toThrow(/without a model_config/);
  });
});
