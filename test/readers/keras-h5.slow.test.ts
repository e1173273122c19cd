import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureTfjsBackend } from '../../src/runtime/tfjs-backend.js';
import { loadKerasH5 } from '../../src/readers/keras-h5/index.js';
import { loadLayersModelFromDir } from '../../src/readers/tfjs-layers.js';
import { layersExportVsTfjs } from '../tfjs-to-onnx/layers-export-vs-tfjs.js';

// Two Teachable Machine exports with full MobileNetV2 backbones (about 3 s); the fast suite reads and exports the
// MNIST CNNs (keras-h5.test.ts).
const repoRoot = resolve(fileURLToPath(import.meta.url), '../../..');
const sharedDir = process.env.GRAFT_SHARED_DIR ?? resolve(repoRoot, '../shared');
const tmDir = join(sharedDir, 'models/tm-keras-h5');
const renoir = join(tmDir, 'renoirtan-bbc2021/keras_model.h5');
const emir = join(tmDir, 'emir-guven-fixoria/keras_Model.h5');
const tmBase = join(sharedDir, 'models/tm-mobilenetv2-035/base');
const imageDir = join(sharedDir, 'datasets/hymenoptera/val');
const hasTm = existsSync(renoir) && existsSync(emir) && existsSync(tmBase) && existsSync(imageDir);
if (!hasTm) console.warn(`skipping the Teachable Machine Keras .h5 test: ${sharedDir} lacks models/tm-keras-h5, tm-mobilenetv2-035 or hymenoptera (set GRAFT_SHARED_DIR)`);

beforeAll(async () => {
  await ensureTfjsBackend();
});

/** Four hymenoptera photos, 224 cover-resized, scaled to [-1, 1], NHWC. */
async function photoBatch(): Promise<tf.Tensor4D> {
  const files = readdirSync(imageDir)
    .flatMap((cls) => readdirSync(join(imageDir, cls)).map((f) => join(imageDir, cls, f)))
    .filter((f) => /\.jpe?g$/i.test(f))
    .sort()
    .filter((_f, i, all) => i % Math.floor(all.length / 4) === 0)
    .slice(0, 4);
  const out = new Float32Array(4 * 224 * 224 * 3);
  for (const [n, file] of files.entries()) {
    const rgb = await sharp(file).resize(224, 224, { fit: 'cover' }).removeAlpha().raw().toBuffer();
    for (let i = 0; i < rgb.length; i++) out[n * rgb.length + i] = rgb[i]! / 127.5 - 1;
  }
  return tf.tensor4d(out, [4, 224, 224, 3]);
}

describe.skipIf(!hasTm)('loadKerasH5: Teachable Machine keras_model.h5', () => {
  it('backbone matches the shared TF.js base exactly; heads are softmax rows; exports to ONNX', async () => {
    const base = await loadLayersModelFromDir(tmBase);
    const x = await photoBatch();
    try {
      const reference = tf.tidy(() => (base.predict(x) as tf.Tensor).dataSync());
      for (const [file, labelsWanted] of [
        [renoir, ['thumb', 'index']],
        [emir, ['Arızalı', 'Normal', 'Belirsiz']],
      ] as const) {
        const { model, kerasVersion, labels } = await loadKerasH5(file);
        try {
          expect(kerasVersion).toBe('2.4.0');
          expect(labels).toEqual(labelsWanted);
          const backbone = model.layers[1] as tf.LayersModel; // the nested backbone Sequential
          const features = tf.tidy(() => (backbone.predict(x) as tf.Tensor).dataSync());
          expect(features.length).toBe(4 * 1280);
          const backboneDiff = Array.from(features).reduce((m: number, v: number, i: number) => Math.max(m, Math.abs(v - reference[i]!)), 0);
          const probs = tf.tidy(() => model.predict(x) as tf.Tensor);
          expect(probs.shape).toEqual([4, labelsWanted.length]);
          const rows = tf.tidy(() => probs.sum(-1).dataSync());
          probs.dispose();
          rows.forEach((s) => expect(s).toBeCloseTo(1, 5));
          const onnxDiff = (await layersExportVsTfjs(model, x.dataSync() as Float32Array, 4)).maxAbsDiff;
          console.log(`${file}: backbone vs TF.js base max abs diff ${backboneDiff}, ONNX vs tfjs (softmax) ${onnxDiff.toExponential(2)}`);
          expect(backboneDiff).toBeLessThanOrEqual(1e-6);
          expect(onnxDiff).toBeLessThanOrEqual(1e-4);
        } finally {
          model.dispose();
        }
      }
    } finally {
      x.dispose();
      base.dispose();
    }
  }, 120_000);
});
