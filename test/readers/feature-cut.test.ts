import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { GraftError } from '../../src/core/errors.js';
import { retrace } from '../../src/onnx-to-layers/view-layers.js';
import { cutAtFeatures } from '../../src/readers/feature-cut.js';
import { loadLayersModelFromDir } from '../../src/readers/tfjs-layers.js';
import { ensureTfjsBackend } from '../../src/runtime/tfjs-backend.js';
import { sharedDir } from '../support.js';

/** The output width of what `cutAtFeatures` keeps, and the name of the layer it ends at. */
function cut(model: tf.LayersModel, otherwise: 'whole' | 'before-last' = 'whole'): { dim: number; layer: string } {
  const features = cutAtFeatures(model, 'test model', otherwise);
  const shape = features.outputs[0]!.shape;
  return { dim: shape.slice(1).reduce<number>((a, b) => a * (b ?? Number.NaN), 1), layer: features.outputs[0]!.sourceLayer.name };
}

/** conv (8 maps) -> global average pool: the start of every model below. */
function trunk(input: tf.SymbolicTensor): tf.SymbolicTensor {
  const conv = tf.layers.conv2d({ filters: 8, kernelSize: 3, activation: 'relu', name: 'conv' }).apply(input) as tf.SymbolicTensor;
  return tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(conv) as tf.SymbolicTensor;
}

describe('cutAtFeatures: the features of a layers model given without a feature layer', () => {
  beforeAll(async () => {
    await ensureTfjsBackend();
  });

  it('cuts a Dense softmax classifier off: the features are the pooled vector it reads', () => {
    const input = tf.input({ shape: [16, 16, 3] });
    const probs = tf.layers.dense({ units: 5, activation: 'softmax', name: 'predictions' }).apply(trunk(input)) as tf.SymbolicTensor;
    expect(cut(tf.model({ inputs: input, outputs: probs }))).toEqual({ dim: 8, layer: 'pool' });
  });

  it("cuts Keras MobileNet's top off: pool, reshape, dropout, 1x1 conv, softmax, reshape", () => {
    const input = tf.input({ shape: [16, 16, 3] });
    let x = tf.layers.reshape({ targetShape: [1, 1, 8] }).apply(trunk(input)) as tf.SymbolicTensor;
    x = tf.layers.dropout({ rate: 0.001 }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.conv2d({ filters: 5, kernelSize: 1, name: 'conv_preds' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.activation({ activation: 'softmax' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.reshape({ targetShape: [5] }).apply(x) as tf.SymbolicTensor;
    expect(cut(tf.model({ inputs: input, outputs: x }))).toEqual({ dim: 8, layer: 'pool' });
  });

  it('keeps a feature model whole (it ends in a pool, or in a Dense that is no classifier)', () => {
    const input = tf.input({ shape: [16, 16, 3] });
    const pooled = trunk(input);
    expect(cut(tf.model({ inputs: input, outputs: pooled }))).toEqual({ dim: 8, layer: 'pool' });
    const embedding = tf.layers.dense({ units: 4, activation: 'relu', name: 'embedding' }).apply(pooled) as tf.SymbolicTensor;
    expect(cut(tf.model({ inputs: input, outputs: embedding }))).toEqual({ dim: 4, layer: 'embedding' });
    // A Keras file without a classifier keeps its old rule: what feeds its last layer.
    expect(cut(tf.model({ inputs: input, outputs: embedding }), 'before-last')).toEqual({ dim: 8, layer: 'pool' });
  });

  it('cuts linear logits off where they read a global pool, through the range clamps an ONNX conversion writes', () => {
    const input = tf.input({ shape: [16, 16, 3] });
    const relu = tf.layers.reLU({ maxValue: 4.9, name: 'pool_clamp' }).apply(trunk(input)) as tf.SymbolicTensor;
    const logits = tf.layers.dense({ units: 5, name: 'logits' }).apply(relu) as tf.SymbolicTensor;
    const clamp = (x: tf.SymbolicTensor, kind: 'maximum' | 'minimum', bound: number): tf.SymbolicTensor => {
      const constant = tf.layers.rescaling({ scale: 0, offset: bound }).apply(x) as tf.SymbolicTensor;
      return tf.layers[kind]({}).apply([x, constant]) as tf.SymbolicTensor;
    };
    const affine = tf.layers.batchNormalization({ epsilon: 0 }).apply(clamp(clamp(logits, 'maximum', -12), 'minimum', 28)) as tf.SymbolicTensor;
    const out = clamp(clamp(affine, 'maximum', -12), 'minimum', 28);
    expect(cut(tf.model({ inputs: input, outputs: out }))).toEqual({ dim: 8, layer: 'pool_clamp' });
    // A linear Dense over anything but a pool stays: it may be the features (a projection after a hidden layer).
    const hidden = tf.layers.dense({ units: 6, activation: 'relu' }).apply(trunk(input)) as tf.SymbolicTensor;
    const projection = tf.layers.dense({ units: 4, name: 'projection' }).apply(hidden) as tf.SymbolicTensor;
    expect(cut(tf.model({ inputs: input, outputs: projection }))).toEqual({ dim: 4, layer: 'projection' });
  });

  it("cuts a nested head model off (Teachable Machine's export: a base model, then a head Sequential)", () => {
    const baseInput = tf.input({ shape: [16, 16, 3] });
    const base = tf.model({ inputs: baseInput, outputs: trunk(baseInput), name: 'base' });
    const head = tf.sequential({ name: 'head', layers: [tf.layers.dense({ inputShape: [8], units: 6, activation: 'relu' }), tf.layers.dense({ units: 2, activation: 'softmax' })] });
    const whole = tf.sequential({ layers: [base, head] });
    expect(cut(whole).dim).toBe(8);
  });

  it("reads Graft's exports: a mirror Average of one classifier gives the image's own features; two outputs, the first's", () => {
    const input = tf.input({ shape: [16, 16, 3] });
    const mirror = tf.layers.permute({ dims: [2, 1, 3], name: 'mirror_view' }).apply(input) as tf.SymbolicTensor;
    const classifierInput = tf.input({ shape: [16, 16, 3] });
    const features = trunk(classifierInput);
    const probs = tf.layers.dense({ units: 5, name: 'logits' }).apply(features) as tf.SymbolicTensor;
    const classifier = tf.model({ inputs: classifierInput, outputs: [tf.layers.softmax({ name: 'probabilities' }).apply(probs) as tf.SymbolicTensor, features] });
    const [plain, plainFeatures] = retrace(classifier, input);
    const [mirrored] = retrace(classifier, mirror);
    const tta = tf.layers.average({ name: 'tta' }).apply([plain!, mirrored!]) as tf.SymbolicTensor;
    // Teachable Machine's: one output, the views' probabilities averaged. The cut is the plain view's pool, not the mirror's.
    const tm = cutAtFeatures(tf.model({ inputs: input, outputs: tta }), 'tm', 'whole');
    expect(tm.outputs[0]).toBe(plainFeatures);
    expect(tm.layers.map((layer) => layer.name)).not.toContain('mirror_view');
    // TF.js export's: the probabilities, then the features.
    expect(cutAtFeatures(tf.model({ inputs: input, outputs: [plain!, plainFeatures!] }), 'tfjs', 'whole').outputs).toEqual([plainFeatures]);
    // An Average of two different classifiers is no mirror: the model stays whole.
    const other = tf.layers.dense({ units: 5, activation: 'softmax' }).apply(plainFeatures!) as tf.SymbolicTensor;
    const ensemble = tf.model({ inputs: input, outputs: tf.layers.average().apply([plain!, other]) as tf.SymbolicTensor });
    expect(cutAtFeatures(ensemble, 'ensemble', 'whole')).toBe(ensemble);
  });

  it('refuses several outputs when the first is no classifier, naming them and the flag that picks one', () => {
    const input = tf.input({ shape: [16, 16, 3] });
    const pooled = trunk(input);
    const embedding = tf.layers.dense({ units: 4, activation: 'relu', name: 'embedding' }).apply(pooled) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: [embedding, pooled] });
    const error = (() => {
      try {
        cutAtFeatures(model, 'two.json', 'whole');
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(GraftError);
    expect((error as GraftError).message).toMatch(/two\.json has 2 outputs \(embedding, pool\)/);
    expect((error as GraftError).hint).toMatch(/--feature-output <layer name>/);
  });

  const v1Layers = join(sharedDir, 'models/mobilenet-v1-025-tfjs/layers');
  it.skipIf(!existsSync(v1Layers))("finds the 256 pooled values of the TF.js tutorials' MobileNet V1 0.25, not its 1 000 probabilities", async () => {
    const model = await loadLayersModelFromDir(v1Layers);
    expect(model.outputs[0]!.shape).toEqual([null, 1000]);
    expect(cut(model)).toEqual({ dim: 256, layer: 'global_average_pooling2d_1' });
  });

  const tmExport = join(sharedDir, 'models/tm-mobilenetv2-035/original');
  it.skipIf(!existsSync(tmExport))("finds the 1 280 features of a trained Teachable Machine export, not its class probabilities", async () => {
    const model = await loadLayersModelFromDir(tmExport);
    expect(model.outputs[0]!.shape).toEqual([null, 2]);
    expect(cut(model).dim).toBe(1280);
  });
});
