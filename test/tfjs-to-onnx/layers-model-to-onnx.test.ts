import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureTfjsBackend } from '../../src/runtime/tfjs-backend.js';
import { GraftError } from '../../src/core/errors.js';
import { decodeOnnxModel } from '../../src/onnx/onnx-model.js';
import { resampleLayers, retrace } from '../../src/onnx-to-layers/view-layers.js';
import { Subtract } from '../../src/readers/subtract-layer.js';
import { loadLayersModelFromDir, truncateAt } from '../../src/readers/tfjs-layers.js';
import { exportLayersModelToOnnx } from '../../src/tfjs-to-onnx/layers-model-to-onnx.js';
import { loadImageBatch } from '../support.js';
import { layersExportVsTfjs } from './layers-export-vs-tfjs.js';

const repoRoot = resolve(fileURLToPath(import.meta.url), '../../..');
const sharedDir = process.env.GRAFT_SHARED_DIR ?? resolve(repoRoot, '../shared');
const tmBaseDir = join(sharedDir, 'models/tm-mobilenetv2-035/base');
const TOLERANCE = 1e-4;

beforeAll(async () => {
  await ensureTfjsBackend();
});

describe('exportLayersModelToOnnx: synthetic model', () => {
  it('matches tfjs for conv valid/same stride 2, depthwise, BN, padding, pools, Add, Flatten, Dense, Dropout', async () => {
    const input = tf.input({ shape: [15, 14, 3] });
    const c1 = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'valid', activation: 'relu', name: 'c1' }).apply(input) as tf.SymbolicTensor;
    const c2 = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', useBias: false, name: 'c2' }).apply(input) as tf.SymbolicTensor;
    const p = tf.layers.zeroPadding2d({ padding: [[0, 1], [1, 0]], name: 'pad' }).apply(c2) as tf.SymbolicTensor;
    const dw = tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 1, padding: 'valid', name: 'dw' }).apply(p) as tf.SymbolicTensor;
    const bnLayer = tf.layers.batchNormalization({ epsilon: 0.01, name: 'bn' });
    const bn = bnLayer.apply(dw) as tf.SymbolicTensor;
    const r6 = tf.layers.reLU({ maxValue: 6, name: 'r6' }).apply(bn) as tf.SymbolicTensor;
    const c1same = tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', depthMultiplier: 1, useBias: true, name: 'dw2' }).apply(
      tf.layers.zeroPadding2d({ padding: 1, name: 'pad2' }).apply(c1) as tf.SymbolicTensor,
    ) as tf.SymbolicTensor;
    // c1: 7x6 -> pad 9x8 -> dw2 same s2 -> 5x4; r6: 8x7 -> pad 9x8 -> dw valid -> 7x6
    const mp = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'same', name: 'mp' }).apply(r6) as tf.SymbolicTensor; // 4x3
    const apSame = tf.layers.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same', name: 'ap_same' }).apply(c1same) as tf.SymbolicTensor; // 5x4
    const ap = tf.layers.averagePooling2d({ poolSize: [2, 2], strides: 1, padding: 'valid', name: 'ap' }).apply(apSame) as tf.SymbolicTensor; // 4x3
    const sum = tf.layers.add({ name: 'sum' }).apply([mp, ap]) as tf.SymbolicTensor;
    const act = tf.layers.activation({ activation: 'relu6', name: 'act' }).apply(sum) as tf.SymbolicTensor;
    const flat = tf.layers.flatten({ name: 'flat' }).apply(act) as tf.SymbolicTensor;
    const drop = tf.layers.dropout({ rate: 0.5, name: 'drop' }).apply(flat) as tf.SymbolicTensor;
    const dense = tf.layers.dense({ units: 10, activation: 'sigmoid', name: 'dense' }).apply(drop) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: dense });
    // Non-trivial BN statistics, so a wrong epsilon or parameter order shows.
    bnLayer.setWeights([
      tf.randomUniform([8], 0.5, 1.5, 'float32', 1),
      tf.randomUniform([8], -0.5, 0.5, 'float32', 2),
      tf.randomUniform([8], -0.2, 0.2, 'float32', 3),
      tf.randomUniform([8], 0.005, 0.05, 'float32', 4),
    ]);
    const x = tf.randomUniform([2, 15, 14, 3], -1, 1, 'float32', 7).dataSync() as Float32Array;
    const { maxAbsDiff, dim } = await layersExportVsTfjs(model, x, 2);
    expect(dim).toBe(10);
    expect(maxAbsDiff).toBeLessThanOrEqual(1e-5);
    model.dispose();
  });

  it('flattens in NHWC order and inlines a Functional model nested in a Sequential', async () => {
    const inner = tf.sequential({
      name: 'inner',
      layers: [tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 2, strides: 2, activation: 'softmax' })],
    });
    const innerFunctional = tf.model({ inputs: inner.inputs, outputs: inner.outputs, name: 'inner_fn' });
    const outer = tf.sequential({ layers: [innerFunctional, tf.layers.reshape({ targetShape: [9, 3] }), tf.layers.flatten()] });
    const x = tf.randomUniform([3, 6, 6, 2], -2, 2, 'float32', 11).dataSync() as Float32Array;
    const { maxAbsDiff, dim } = await layersExportVsTfjs(outer, x, 3);
    expect(dim).toBe(27);
    expect(maxAbsDiff).toBeLessThanOrEqual(1e-6);
    outer.dispose();
  });

  it('names the layer class and layer for an unsupported layer', () => {
    const model = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 2, kernelSize: 3, name: 'c' }), tf.layers.conv2dTranspose({ filters: 2, kernelSize: 3, name: 'up' })] });
    const error = (() => {
      try {
        exportLayersModelToOnnx(model);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(GraftError);
    expect((error as GraftError).code).toBe('UNSUPPORTED_MODEL');
    expect((error as GraftError).message).toMatch(/Conv2DTranspose layer "up"/);
    model.dispose();
  });
});

/** Keras' hard_swish, x * relu6(x + 3) / 6, which tfjs lacks: registered so an Activation layer can name it. */
class HardSwish extends tf.serialization.Serializable {
  static readonly className = 'hard_swish';
  override getClassName(): string {
    return HardSwish.className;
  }
  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.mul(x, tf.div(tf.clipByValue(tf.add(x, 3), 0, 6), 6)));
  }
  getConfig(): tf.serialization.ConfigDict {
    return {};
  }
}
tf.serialization.registerClass(HardSwish);

describe('exportLayersModelToOnnx: the layers Keras applications add', () => {
  const conv = (filters: number, name: string) => tf.layers.conv2d({ filters, kernelSize: 3, padding: 'same', name });

  it('matches tfjs for swish, hard_sigmoid, hard_swish, elu/selu/softplus/softsign, LeakyReLU, ELU', async () => {
    const input = tf.input({ shape: [6, 5, 3] });
    let x = conv(4, 'c0').apply(input) as tf.SymbolicTensor;
    for (const activation of ['swish', 'hardSigmoid', 'hard_swish', 'elu', 'selu', 'softplus', 'softsign']) {
      x = tf.layers.activation({ activation: activation as 'swish', name: `act_${activation}` }).apply(x) as tf.SymbolicTensor;
      x = tf.layers.dense({ units: 4, name: `mix_${activation}` }).apply(x) as tf.SymbolicTensor; // keeps values spread
    }
    x = tf.layers.leakyReLU({ alpha: 0.2, name: 'leaky' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.elu({ name: 'elu_layer' }).apply(x) as tf.SymbolicTensor; // tfjs only implements alpha 1
    const model = tf.model({ inputs: input, outputs: x });
    const { maxAbsDiff } = await layersExportVsTfjs(model, tf.randomUniform([2, 6, 5, 3], -4, 4, 'float32', 21).dataSync() as Float32Array, 2);
    console.log(`activations: max abs diff ${maxAbsDiff.toExponential(2)}`);
    expect(maxAbsDiff).toBeLessThanOrEqual(1e-5);
    model.dispose();
  });

  it('matches tfjs for Multiply, Maximum, Concatenate (channel, H and 2-D), SeparableConv2D, Rescaling, Permute, UpSampling2D', async () => {
    const input = tf.input({ shape: [8, 7, 3] });
    const scaled = tf.layers.rescaling({ scale: 1 / 127.5, offset: -1, name: 'rescale' }).apply(input) as tf.SymbolicTensor;
    const a = conv(4, 'a').apply(scaled) as tf.SymbolicTensor;
    const gate = tf.layers.conv2d({ filters: 4, kernelSize: 1, activation: 'sigmoid', name: 'gate' }).apply(scaled) as tf.SymbolicTensor;
    const mul = tf.layers.multiply({ name: 'mul' }).apply([a, gate]) as tf.SymbolicTensor; // squeeze-excite style
    const max = tf.layers.maximum({ name: 'max' }).apply([mul, a]) as tf.SymbolicTensor;
    const catC = tf.layers.concatenate({ name: 'cat_c' }).apply([max, scaled]) as tf.SymbolicTensor; // 7 channels
    const sep = tf.layers.separableConv2d({ filters: 5, kernelSize: 3, strides: 2, padding: 'same', depthMultiplier: 2, activation: 'relu', name: 'sep' }).apply(catC) as tf.SymbolicTensor; // 4x4x5
    const sepValid = tf.layers.separableConv2d({ filters: 5, kernelSize: 3, padding: 'valid', useBias: false, name: 'sep_valid' }).apply(catC) as tf.SymbolicTensor; // 6x5x5
    const up = tf.layers.upSampling2d({ size: [2, 2], name: 'up' }).apply(sep) as tf.SymbolicTensor; // 8x8x5
    const upBilinear = tf.layers.upSampling2d({ size: [2, 3], interpolation: 'bilinear', name: 'up_bilinear' }).apply(sepValid) as tf.SymbolicTensor; // 12x15x5
    const transposed = tf.layers.permute({ dims: [2, 1, 3], name: 'perm' }).apply(up) as tf.SymbolicTensor; // H and W swapped
    const catH = tf.layers.concatenate({ axis: 1, name: 'cat_h' }).apply([transposed, up]) as tf.SymbolicTensor; // 16x8x5
    const pooled = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(catH) as tf.SymbolicTensor;
    const pooled2 = tf.layers.globalMaxPooling2d({ name: 'gmp' }).apply(upBilinear) as tf.SymbolicTensor;
    const cat2d = tf.layers.concatenate({ name: 'cat_2d' }).apply([pooled, pooled2]) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: cat2d });
    const { maxAbsDiff, dim } = await layersExportVsTfjs(model, tf.randomUniform([2, 8, 7, 3], 0, 255, 'float32', 22).dataSync() as Float32Array, 2);
    console.log(`merge/separable/rescaling/permute/upsampling: max abs diff ${maxAbsDiff.toExponential(2)}`);
    expect(dim).toBe(10);
    expect(maxAbsDiff).toBeLessThanOrEqual(1e-5);
    model.dispose();
  });
});

describe.skipIf(!existsSync(tmBaseDir))('exportLayersModelToOnnx: Teachable Machine MobileNetV2 0.35 base', () => {
  it('matches tfjs-wasm within 1e-4 on 4 images', async () => {
    const model = await loadLayersModelFromDir(tmBaseDir);
    try {
      // A Sequential wrapping a Functional model: layers inside the inner model can be cut at too.
      expect(truncateAt(model, 'out_relu').outputs[0]!.shape).toEqual([null, 7, 7, 1280]);
      const { maxAbsDiff, dim, maxAbs } = await layersExportVsTfjs(model, await loadImageBatch('-1..1'), 4);
      console.log(`tm-mobilenetv2-035 base: max abs diff ${maxAbsDiff.toExponential(2)} (max |feature| ${maxAbs.toFixed(2)})`);
      expect(dim).toBe(1280);
      expect(maxAbsDiff).toBeLessThanOrEqual(TOLERANCE);
    } finally {
      model.dispose();
    }
  });
});

describe("exportLayersModelToOnnx: the layers Graft's Teachable Machine and TF.js exports are made of", () => {
  it('matches tfjs for Dense on rank 3 and 4, Cropping2D, Permute, a shared classifier on a mirror view, Softmax, Average, Subtract', async () => {
    // As teachableMachineModels builds it: Dense(3) on the channels, a centre crop, the resize and mirror as Permute +
    // Dense on rank-4 tensors, one classifier applied to both views, the probabilities averaged.
    const image = tf.input({ shape: [11, 10, 3] });
    const scaled = tf.layers.dense({ units: 3, name: 'scale' }).apply(image) as tf.SymbolicTensor; // mixes channels
    const cropped = tf.layers.cropping2D({ cropping: [[1, 2], [0, 3]], name: 'crop' }).apply(scaled) as tf.SymbolicTensor; // 8 x 7
    const square = tf.layers.cropping2D({ cropping: [0, 1], name: 'crop_w' }).apply(cropped) as tf.SymbolicTensor; // 8 x 5
    const padded = tf.layers.zeroPadding2d({ padding: [[0, 0], [2, 1]], name: 'pad' }).apply(square) as tf.SymbolicTensor; // 8 x 8
    const plain = resampleLayers(padded, { from: 8, to: 6, name: 'plain' });
    const mirror = resampleLayers(padded, { from: 8, to: 6, mirror: true, name: 'mirror' });
    const classifierInput = tf.input({ shape: [6, 6, 3] });
    const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, name: 'conv' }).apply(classifierInput) as tf.SymbolicTensor;
    const attention = tf.layers.softmax({ axis: -1, name: 'attention' }).apply(conv) as tf.SymbolicTensor; // over channels: NCHW's axis 1 inside
    const conv2 = tf.layers.conv2d({ filters: 4, kernelSize: 1, name: 'conv2' }).apply(conv) as tf.SymbolicTensor;
    const diff = new Subtract({ name: 'diff' }).apply([conv2, attention]) as tf.SymbolicTensor;
    const rows = tf.layers.reshape({ targetShape: [16, 4], name: 'rows' }).apply(diff) as tf.SymbolicTensor;
    const mixed = tf.layers.dense({ units: 2, activation: 'relu', name: 'mixed' }).apply(rows) as tf.SymbolicTensor; // rank 3
    const pooled = tf.layers.flatten({ name: 'flat' }).apply(mixed) as tf.SymbolicTensor;
    const probabilities = tf.layers.dense({ units: 3, name: 'logits' }).apply(pooled) as tf.SymbolicTensor;
    const softmax = tf.layers.softmax({ name: 'probabilities' }).apply(probabilities) as tf.SymbolicTensor; // tfjs's default axis, 1
    const classifier = tf.model({ inputs: classifierInput, outputs: [softmax, pooled] }); // as Graft's: probabilities, features
    const [p, plainFeatures] = retrace(classifier, plain);
    const [m] = retrace(classifier, mirror);
    const average = tf.layers.average({ name: 'tta' }).apply([p!, m!, p!]) as tf.SymbolicTensor; // three inputs: 1/3 each
    const model = tf.model({ inputs: image, outputs: average });
    const x = tf.randomUniform([2, 11, 10, 3], -1, 1, 'float32', 23).dataSync() as Float32Array;
    const { maxAbsDiff, dim } = await layersExportVsTfjs(model, x, 2);
    console.log(`Graft export layers: max abs diff ${maxAbsDiff.toExponential(2)}`);
    expect(dim).toBe(3);
    expect(maxAbsDiff).toBeLessThanOrEqual(1e-6);
    // The views answer apart, so a mirror or an average computed wrong would show.
    const views = tf.tidy(() => (tf.model({ inputs: image, outputs: [p!, m!] }).predict(tf.tensor4d(x, [2, 11, 10, 3])) as tf.Tensor[]).map((t) => t.dataSync().slice()));
    expect(Math.max(...views[0]!.map((v, i) => Math.abs(v - views[1]![i]!)))).toBeGreaterThan(1e-3);
    const features = tf.model({ inputs: image, outputs: [average, plainFeatures!] });
    // Several outputs, named: the probabilities, then the features (Graft's TF.js export).
    const onnx = exportLayersModelToOnnx(features, { outputNames: ['probabilities', 'features'] });
    // The classifier runs on both views from one copy of its weights.
    const initializers = decodeOnnxModel(onnx, 'the export').graph!.initializer!.map((t) => t.name);
    expect(initializers.filter((name) => /^(conv|logits)\//.test(name!))).toEqual(['conv/kernel', 'conv/bias', 'logits/kernel', 'logits/bias']);
    const session = await InferenceSession.create(onnx);
    try {
      const result = await session.run({ input: new Tensor('float32', x, [2, 11, 10, 3]) });
      const expected = tf.tidy(() => (features.predict(tf.tensor4d(x, [2, 11, 10, 3])) as tf.Tensor[]).map((t) => t.dataSync().slice()));
      expect(session.outputNames).toEqual(['probabilities', 'features']);
      expect(result['features']!.dims).toEqual([2, 32]);
      for (const [i, name] of ['probabilities', 'features'].entries()) {
        const actual = result[name]!.data as Float32Array;
        expect(Math.max(...actual.map((v, j) => Math.abs(v - expected[i]![j]!)))).toBeLessThanOrEqual(1e-5);
      }
    } finally {
      await session.release();
    }
    expect(() => exportLayersModelToOnnx(features)).toThrow(/2 outputs \(tta, flat\)/);
    model.dispose();
  });
});
