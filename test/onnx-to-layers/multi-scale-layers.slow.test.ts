import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/data/decode-image.js';
import { makePreprocessing } from '../../src/core/preprocessing.js';
import { ensureTfjsBackend } from '../../src/runtime/tfjs-backend.js';
import { appendDenseHead } from '../../src/onnx/append-head.js';
import { exposeFeatures } from '../../src/onnx/feature-output.js';
import { mirrorTtaModel } from '../../src/onnx/mirror-tta.js';
import { multiScaleInputSize, splitMultiScale, wrapMultiScale } from '../../src/onnx/multi-scale.js';
import { decodeOnnxModel, encodeOnnxModel, readOnnxModel, type ModelProto } from '../../src/onnx/onnx-model.js';
import { convertOnnxToLayers, toKerasLayout, type OnnxLayersModel } from '../../src/onnx-to-layers/index.js';
import { importOnnxToTfjs } from '../../src/onnx-to-tfjs/index.js';
import { hymenoptera, sharedDir } from '../support.js';

// A two-scale classifier on a float MobileNetV3-Small, converted to Keras layers and imported into tfjs (about 3 s;
// the fast suite checks the resize matrix): a float backbone, so Keras layers and onnxruntime must agree to float rounding.
const floatModel = join(sharedDir, 'models/mobilenetv3-small-onnx/mobilenetv3-small-feat.onnx');
const has = existsSync(floatModel) && existsSync(join(hymenoptera, 'val'));

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** The converted model's outputs on ONNX-layout images (transposed to its NHWC input). */
function predictLayers(layers: OnnxLayersModel, x: Float32Array, dims: number[]): Float32Array[] {
  const kerasDims = layers.inputPerm.map((a) => dims[a]!);
  return tf.tidy(() => (layers.model.predict(tf.tensor(toKerasLayout(x, dims, layers.inputPerm), kerasDims)) as tf.Tensor[]).map((t) => t.dataSync().slice() as Float32Array));
}

/** The probabilities of the tfjs import of the whole graph (what a quantized model's conversion is checked against). */
function importedProbabilities(model: ModelProto, x: Float32Array, dims: number[]): Float32Array {
  const graph = importOnnxToTfjs(model, { outputs: ['probabilities'] });
  try {
    return tf.tidy(() => graph.predict(tf.tensor(x, dims)).dataSync().slice() as Float32Array);
  } finally {
    graph.dispose();
  }
}

describe.skipIf(!has)('a two-scale classifier as a TF.js layers model (float MobileNetV3-Small)', () => {
  let built: { model: ModelProto; x: Float32Array; dims: number[]; probabilities: Float32Array; features: Float32Array; outer: number; d: number; k: number; backboneWeights: number } | undefined;
  // The classifier Graft writes (two scales, a head) and onnxruntime's answers on two real images, built once.
  async function classifier(): Promise<NonNullable<typeof built>> {
    if (built) return built;
    await ensureTfjsBackend();
    const exposed = await exposeFeatures(await readOnnxModel(floatModel));
    const d = exposed.featureDim;
    const wrapped = decodeOnnxModel(
      wrapMultiScale(exposed.model, { input: exposed.inputName, features: exposed.featureOutput, featureDim: d, inputSize: 224, cropFraction: 0.875, layout: 'nchw', output: 'graft_features' }),
      'wrapped',
    );
    const k = 3;
    const head = [{ inputDim: 2 * d, outputDim: k, weight: Float32Array.from({ length: 2 * d * k }, (_, i) => Math.sin(i) * 0.05), bias: new Float32Array(k), activation: 'softmax' as const }];
    const model = decodeOnnxModel(appendDenseHead(wrapped, 'graft_features', head), 'classifier');
    expect(splitMultiScale(model)).toBeDefined();
    expect(splitMultiScale(await readOnnxModel(floatModel))).toBeUndefined();

    const outer = multiScaleInputSize(224, 0.875);
    const pre = makePreprocessing({ inputSize: outer, scale: 'imagenet', layout: 'nchw' });
    const dir = join(hymenoptera, 'val', 'ants');
    const files = readdirSync(dir).sort().slice(0, 2).map((f) => join(dir, f));
    const x = new Float32Array(files.length * 3 * outer * outer);
    for (const [i, file] of files.entries()) x.set(await decodeImage(file, pre), i * 3 * outer * outer);
    const dims = [files.length, 3, outer, outer];
    const session = await ort.InferenceSession.create(encodeOnnxModel(model));
    const reference = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, dims) });
    await session.release();
    const probabilities = reference.probabilities!.data as Float32Array;
    const features = reference.graft_features!.data as Float32Array;
    built = { model, x, dims, probabilities, features, outer, d, k, backboneWeights: exposed.model.graph!.initializer!.length };
    return built;
  }

  it('Keras layers (crop, resize, one shared backbone, head) and the tfjs import both equal onnxruntime on real images', async () => {
    const { model, x, dims, probabilities, features, outer, backboneWeights } = await classifier();
    const layers = convertOnnxToLayers(model, { outputs: ['probabilities', 'graft_features'] });
    try {
      expect(layers.inputShape).toEqual([null, outer, outer, 3]);
      const [p, f] = predictLayers(layers, x, dims);
      expect(maxDiff(f!, features)).toBeLessThan(1e-4);
      expect(maxDiff(p!, probabilities)).toBeLessThan(1e-5);
      // One set of backbone weights serves both views.
      expect(layers.model.weights.length).toBeLessThan(2 * backboneWeights);
    } finally {
      layers.model.dispose();
    }

    expect(maxDiff(importedProbabilities(model, x, dims), probabilities)).toBeLessThan(1e-5);
  });

  it("with Graft's mirror test-time augmentation: the mirror image through the same layers, averaged, equal to onnxruntime", async () => {
    const { model, x, dims, probabilities, features, outer, d, k } = await classifier();
    const tta = mirrorTtaModel(model, { input: model.graph!.input![0]!.name!, probabilities: 'probabilities', features: 'graft_features', classes: k, featureDim: 2 * d }, 'nchw');
    const session = await ort.InferenceSession.create(encodeOnnxModel(tta));
    const reference = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, dims) });
    await session.release();
    const averaged = reference.probabilities!.data as Float32Array;
    // The mirror moves the answer (else this test could not tell a missing mirror), and the features stay the plain image's.
    expect(maxDiff(averaged, probabilities)).toBeGreaterThan(1e-3);
    expect(maxDiff(reference.graft_features!.data as Float32Array, features)).toBe(0);

    const layers = convertOnnxToLayers(tta, { outputs: ['probabilities', 'graft_features'] });
    try {
      expect(layers.inputShape).toEqual([null, outer, outer, 3]);
      const [p, f] = predictLayers(layers, x, dims);
      expect(maxDiff(p!, averaged)).toBeLessThan(1e-5);
      expect(maxDiff(f!, features)).toBeLessThan(1e-4);
      // The mirror view applies the same layers again: no second copy of the backbone.
      expect(layers.model.layers.filter((l) => l.name.startsWith('graft_tta_')).map((l) => l.getClassName()).sort()).toEqual(['Average', 'Dense', 'InputLayer', 'Permute', 'Permute']);
    } finally {
      layers.model.dispose();
    }
    // A quantized model's conversion is checked against the import of the whole graph: it must run the wrapper too.
    expect(maxDiff(importedProbabilities(tta, x, dims), averaged)).toBeLessThan(1e-5);
  });
});
