import type * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTfjsBackend } from '../../src/runtime/tfjs-backend.js';
import { loadNsfwjsMobileNetV2, truncateAt } from '../../src/readers/tfjs-layers.js';
import { loadImageBatch } from '../support.js';
import { layersExportVsTfjs } from './layers-export-vs-tfjs.js';

// The full-width MobileNetV2 (about 3 s here); the fast suite exports the 0.35-wide one (layers-model-to-onnx.test.ts).
const TOLERANCE = 1e-4;

beforeAll(async () => {
  await ensureTfjsBackend();
});

describe('exportLayersModelToOnnx: nsfwjs MobileNetV2 truncated at flatten_1', () => {
  let model: tf.LayersModel;
  afterAll(() => model?.dispose());

  it('matches tfjs-wasm within 1e-4 on 4 images', async () => {
    model = (await loadNsfwjsMobileNetV2()).model;
    const features = truncateAt(model, 'flatten_1');
    const { maxAbsDiff, dim, maxAbs } = await layersExportVsTfjs(features, await loadImageBatch('0..1'), 4);
    console.log(`nsfwjs flatten_1: max abs diff ${maxAbsDiff.toExponential(2)} (max |feature| ${maxAbs.toFixed(2)})`);
    expect(dim).toBe(1280);
    expect(maxAbsDiff).toBeLessThanOrEqual(TOLERANCE);
  });
});
