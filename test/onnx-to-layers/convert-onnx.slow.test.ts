import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/data/decode-image.js';
import { makePreprocessing, type Preprocessing } from '../../src/core/preprocessing.js';
import { ensureTfjsBackend } from '../../src/runtime/tfjs-backend.js';
import { GraftError } from '../../src/core/errors.js';
import {
  decodeOnnxModel,
  encodeOnnxModel,
  makeFloatInitializer,
  makeFloatValueInfo,
  makeNode,
  readOnnxModel,
  type NodeProto,
} from '../../src/onnx/onnx-model.js';
import { convertOnnxToLayers, toKerasLayout } from '../../src/onnx-to-layers/index.js';
import { importOnnxToTfjs } from '../../src/onnx-to-tfjs/index.js';
import { saveLayersModelToDir } from '../../src/readers/save-layers-model.js';
import { loadLayersModelFromDir } from '../../src/readers/tfjs-layers.js';
import { exportLayersModelToOnnx } from '../../src/tfjs-to-onnx/layers-model-to-onnx.js';
import { hymenoptera, int8FeatModel, int8Model, loadImageBatch, sharedDir, skipReason, tempDir } from '../support.js';
import { initializers } from '../onnx/onnx-fixtures.js';

const tmBaseDir = join(sharedDir, 'models/tm-mobilenetv2-035/base');
const hasInt8 = existsSync(int8Model) && existsSync(int8FeatModel) && existsSync(join(hymenoptera, 'val'));
if (!hasInt8) skipReason('the int8 MobileNetV2 ONNX -> TF.js layers tests');

beforeAll(async () => {
  await ensureTfjsBackend();
});

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

function argmaxRows(data: ArrayLike<number>, rows: number): number[] {
  const per = data.length / rows;
  return Array.from({ length: rows }, (_r, row) => {
    let best = 0;
    for (let i = 1; i < per; i++) if (data[row * per + i]! > data[row * per + best]!) best = i;
    return best;
  });
}

async function ortRun(model: Uint8Array | string, feeds: Record<string, Tensor>, outputs: string[]): Promise<Record<string, { data: Float32Array; dims: number[] }>> {
  const session = await InferenceSession.create(model as Uint8Array, { graphOptimizationLevel: 'all' });
  try {
    const result = await session.run(feeds, outputs);
    return Object.fromEntries(Object.entries(result).map(([name, t]) => [name, { data: new Float32Array(t.data as Float32Array), dims: t.dims.map(Number) }]));
  } finally {
    await session.release();
  }
}

/** Runs a layers model on ONNX-layout data (transposed to its input layout); returns every output's data. */
function predictOnnxLayout(model: tf.LayersModel, x: Float32Array, onnxDims: number[], perm: readonly number[]): Float32Array[] {
  const kerasDims = perm.map((a) => onnxDims[a]!);
  return tf.tidy(() => {
    const y = model.predict(tf.tensor(toKerasLayout(x, onnxDims, perm), kerasDims));
    return (Array.isArray(y) ? y : [y]).map((t) => t.dataSync().slice() as Float32Array);
  });
}

describe('convertOnnxToLayers: operators', () => {
  it('matches onnxruntime on a graph of every mapped operator, and survives a save and reload unchanged', async () => {
    const { bytes, inputDims } = buildOpsModel();
    const conversion = convertOnnxToLayers(decodeOnnxModel(bytes, 'ops'), { source: 'ops' });
    try {
      expect(conversion.inputShape).toEqual([null, 10, 10, 4]);
      expect(conversion.onnxInputShape).toEqual([null, 4, 10, 10]);
      expect(conversion.inputPerm).toEqual([0, 2, 3, 1]);
      expect(conversion.outputs.map((o) => o.name)).toEqual(['logits', 'probabilities']);
      const classes = new Set(conversion.model.layers.map((l) => l.getClassName()));
      for (const cls of ['Conv2D', 'DepthwiseConv2D', 'ZeroPadding2D', 'BatchNormalization', 'ReLU', 'MaxPooling2D', 'AveragePooling2D', 'GlobalAveragePooling2D', 'Dense', 'Concatenate', 'Multiply', 'Add', 'Softmax', 'Maximum', 'Minimum']) {
        expect(classes, cls).toContain(cls);
      }
      const input = tf.tidy(() => tf.randomUniform(inputDims, -2, 2, 'float32', 5).dataSync() as Float32Array);
      const [logits, probabilities] = predictOnnxLayout(conversion.model, input, inputDims, conversion.inputPerm);
      const expected = await ortRun(bytes, { x: new Tensor('float32', input, inputDims) }, ['logits', 'probabilities']);
      const logitsDiff = maxAbsDiff(logits!, expected['logits']!.data);
      console.log(`ops graph -> ${conversion.layerCount} layers: logits max abs diff vs onnxruntime ${logitsDiff.toExponential(2)}`);
      expect(logitsDiff).toBeLessThanOrEqual(1e-4);
      expect(maxAbsDiff(probabilities!, expected['probabilities']!.data)).toBeLessThanOrEqual(1e-5);

      const dir = join(await tempDir('graft-layers-'), 'ops-tfjs');
      await saveLayersModelToDir(conversion.model, dir);
      const reloaded = await loadLayersModelFromDir(dir);
      try {
        const [again] = predictOnnxLayout(reloaded, input, inputDims, conversion.inputPerm);
        expect(maxAbsDiff(again!, logits!)).toBe(0);
      } finally {
        reloaded.dispose();
      }
    } finally {
      conversion.model.dispose();
    }
  });

  it('matches onnxruntime on the layout-moving and rarer forms (Permute, NCHW reshapes, ceil_mode, counted pads, opset 11)', async () => {
    const { bytes, inputDims } = buildLayoutModel();
    const conversion = convertOnnxToLayers(decodeOnnxModel(bytes, 'layout'), { source: 'layout' });
    try {
      const classes = new Set(conversion.model.layers.map((l) => l.getClassName()));
      expect(classes).toContain('Permute');
      const input = tf.tidy(() => tf.randomUniform(inputDims, -2, 2, 'float32', 6).dataSync() as Float32Array);
      const outputs = predictOnnxLayout(conversion.model, input, inputDims, conversion.inputPerm);
      const expected = await ortRun(bytes, { x: new Tensor('float32', input, inputDims) }, ['y', 'z']);
      expect(conversion.outputs.map((o) => o.perm)).toEqual([[0, 1], [0, 2, 3, 1]]);
      expect(maxAbsDiff(outputs[0]!, expected['y']!.data)).toBeLessThanOrEqual(1e-4);
      expect(maxAbsDiff(outputs[1]!, toKerasLayout(expected['z']!.data, expected['z']!.dims, [0, 2, 3, 1]))).toBeLessThanOrEqual(1e-5);
    } finally {
      conversion.model.dispose();
    }
  });

  it('fails on an unsupported operator or a grouped convolution, naming the operator and the node', () => {
    const failure = (bytes: Uint8Array): GraftError => {
      try {
        convertOnnxToLayers(decodeOnnxModel(bytes, 'model.onnx'), { source: 'model.onnx' }).model.dispose();
      } catch (error) {
        return error as GraftError;
      }
      throw new Error('expected the conversion to fail');
    };
    const lstm = failure(buildUnsupportedModel());
    expect(lstm).toBeInstanceOf(GraftError);
    expect(lstm.code).toBe('UNSUPPORTED_MODEL');
    expect(lstm.message).toMatch(/LSTM node "my_lstm"/);
    expect(lstm.message).toMatch(/operator "LSTM" has no Keras layer mapping/);
    const grouped = failure(buildGroupedConvModel());
    expect(grouped.message).toMatch(/Conv node "grouped_conv"/);
    expect(grouped.message).toMatch(/grouped convolution \(group 2 over 4 channels\)/);
  });
});

describe.skipIf(!existsSync(tmBaseDir))('convertOnnxToLayers: float round trip TF.js -> ONNX -> TF.js (Teachable Machine MobileNetV2 0.35)', () => {
  it('matches the original TF.js model within 1e-4 on real images (0 measured), and the ONNX import', async () => {
    const original = await loadLayersModelFromDir(tmBaseDir);
    const bytes = exportLayersModelToOnnx(original);
    let started = performance.now();
    const conversion = convertOnnxToLayers(decodeOnnxModel(bytes, 'tm.onnx'));
    const seconds = (performance.now() - started) / 1000;
    try {
      // The ONNX export starts with an NHWC -> NCHW Transpose: the input stays NHWC, no layer for it.
      expect(conversion.inputShape).toEqual([null, 224, 224, 3]);
      expect(conversion.inputPerm).toEqual([0, 1, 2, 3]);
      const count = 4;
      const x = await loadImageBatch('-1..1', { count });
      const dims = [count, 224, 224, 3];
      const expected = tf.tidy(() => (original.predict(tf.tensor(x, dims)) as tf.Tensor).dataSync());
      started = performance.now();
      const [actual] = predictOnnxLayout(conversion.model, x, dims, conversion.inputPerm);
      const predictSeconds = (performance.now() - started) / 1000;
      const graph = importOnnxToTfjs(decodeOnnxModel(bytes, 'tm.onnx'));
      const imported = tf.tidy(() => graph.predict(tf.tensor(x, dims)).dataSync());
      graph.dispose();
      const diff = maxAbsDiff(actual!, expected);
      const importDiff = maxAbsDiff(actual!, imported);
      console.log(
        `tm-mobilenetv2-035 TF.js -> ONNX -> TF.js layers (${conversion.layerCount} layers, converted in ${seconds.toFixed(2)} s, ${count} images in ${predictSeconds.toFixed(2)} s): ` +
          `max abs diff vs original ${diff.toExponential(2)}, vs importOnnxToTfjs ${importDiff.toExponential(2)}`,
      );
      expect(diff).toBeLessThanOrEqual(1e-4);
      // 0 on most runs; tfjs-wasm's threaded kernels may sum in another order (seen: 8e-6).
      expect(importDiff).toBeLessThanOrEqual(1e-4);
    } finally {
      conversion.model.dispose();
      original.dispose();
    }
  }, 120_000);
});

describe.skipIf(!hasInt8)('convertOnnxToLayers: int8 MobileNetV2 (QLinear ops) as float layers', () => {
  it('tracks onnxruntime on real images (top-1) and matches the float import to ~1e-5', async () => {
    const proto = await readOnnxModel(int8Model);
    const started = performance.now();
    const conversion = convertOnnxToLayers(proto, { source: int8Model, outputs: ['output', '464_quantized'] });
    const seconds = (performance.now() - started) / 1000;
    try {
      expect(conversion.isQuantized).toBe(true);
      expect(conversion.inputShape).toEqual([null, 224, 224, 3]);
      expect(conversion.outputs.map((o) => o.shape)).toEqual([[null, 1000], [null, 1280]]);
      // uint8 ranges with zero point 0 (folded Relu6) became ReLU(max_value); every Conv is a Conv2D or DepthwiseConv2D.
      const layers = conversion.model.layers;
      expect(layers.filter((l) => l.getClassName() === 'Conv2D' || l.getClassName() === 'DepthwiseConv2D').length).toBe(52);
      expect(layers.filter((l) => l.getClassName() === 'ReLU' && typeof l.getConfig()['maxValue'] === 'number').length).toBeGreaterThanOrEqual(30);

      const count = 16;
      const pre = makePreprocessing({ inputSize: 224, scale: 'imagenet', layout: 'nchw' });
      const x = await imageBatch(pre, count);
      const dims = [count, 3, 224, 224];
      const predictStarted = performance.now();
      const [logits, features] = predictOnnxLayout(conversion.model, x, dims, conversion.inputPerm);
      const predictSeconds = (performance.now() - predictStarted) / 1000;
      const ort = await ortRun(int8FeatModel, { input: new Tensor('float32', x, dims) }, ['output', 'features']);
      const agreement = argmaxRows(logits!, count).filter((c, i) => c === argmaxRows(ort['output']!.data, count)[i]).length / count;
      const logitsDiff = maxAbsDiff(logits!, ort['output']!.data);
      const featureDiff = maxAbsDiff(features!, ort['features']!.data);
      const graph = importOnnxToTfjs(proto, { outputs: ['output', '464_quantized'] });
      const imported = tf.tidy(() => {
        const outputs = graph.predictAll(tf.tensor(x, dims));
        return { logits: outputs['output']!.dataSync(), features: outputs['464_quantized']!.dataSync() };
      });
      graph.dispose();
      const importLogitsDiff = maxAbsDiff(logits!, imported.logits);
      const importFeatureDiff = maxAbsDiff(features!, imported.features);
      console.log(
        `int8 MobileNetV2 -> TF.js layers (${conversion.layerCount} layers, converted in ${seconds.toFixed(2)} s, ${count} images in ${predictSeconds.toFixed(2)} s): ` +
          `vs onnxruntime top-1 agreement ${agreement}, logits max abs diff ${logitsDiff.toFixed(3)}, pooled features ${featureDiff.toFixed(3)}; ` +
          `vs importOnnxToTfjs logits ${importLogitsDiff.toExponential(2)}, features ${importFeatureDiff.toExponential(2)}`,
      );
      // Activations are not re-quantized (as in importOnnxToTfjs 'float'), so ORT's integer kernels differ by a
      // few quantization steps; the float import with the same semantics matches to rounding.
      expect(agreement).toBeGreaterThanOrEqual(0.9);
      expect(featureDiff).toBeLessThan(2);
      expect(importLogitsDiff).toBeLessThanOrEqual(1e-4);
      expect(importFeatureDiff).toBeLessThanOrEqual(5e-5);
    } finally {
      conversion.model.dispose();
    }
  }, 180_000);
});

/** `count` hymenoptera val images spread over the sorted list, decoded with `pre`. */
async function imageBatch(pre: Preprocessing, count: number): Promise<Float32Array> {
  const dir = join(hymenoptera, 'val');
  const files = readdirSync(dir)
    .flatMap((cls) => readdirSync(join(dir, cls)).map((f) => join(dir, cls, f)))
    .filter((f) => /\.jpe?g$/i.test(f))
    .sort();
  const size = pre.inputSize * pre.inputSize * 3;
  const out = new Float32Array(count * size);
  const step = Math.floor(files.length / count);
  for (let n = 0; n < count; n++) out.set(await decodeImage(files[n * step]!, pre), n * size);
  return out;
}

/** Seeded values in [-scale, scale] + offset (a tiny LCG: the graph is the same on every run). */
/**
 * A small NCHW CNN with every operator the layers conversion maps, in the awkward forms: a Conv with
 * asymmetric pads (ZeroPadding2D), a depthwise Conv with SAME_UPPER and stride 2 ('same'), BatchNormalization,
 * Relu, Clip(0, 6) and Clip(-0.5, 0.8), HardSwish, HardSigmoid, LeakyRelu, Sigmoid, per-channel and scalar
 * constants, Mul of two tensors (swish) and an SE-style Mul by a pooled [N, C, 1, 1] tensor, Pad, MaxPool with
 * non-'same' pads after a Relu, AveragePool with 'same' pads, GlobalAveragePool/GlobalMaxPool, ReduceMean,
 * Concat on channels, Transpose there and back, Shape -> Gather -> Unsqueeze -> Concat -> Reshape, Flatten of a
 * spatial tensor, Gemm with transB/alpha/beta, MatMul + Add, Dropout, Identity and Softmax.
 */
function buildOpsModel(): { bytes: Uint8Array; inputDims: number[] } {
  const { inits, f, i64, scalar } = initializers();
  const n: NodeProto[] = [
    makeNode('Conv', ['x', f('w_a', [6, 4, 3, 3], 1), f('b_a', [6], 2)], ['c1'], { attributes: { pads: { ints: [1, 0, 2, 1] }, strides: { ints: [2, 1] } } }), // [2, 6, 6, 9]
    makeNode('BatchNormalization', ['c1', f('bn_scale', [6], 3, 0.5, 1), f('bn_bias', [6], 4), f('bn_mean', [6], 5, 0.1), f('bn_var', [6], 6, 0.2, 0.5)], ['bn'], {
      attributes: { epsilon: { float: 1e-3 } },
    }),
    makeNode('Relu', ['bn'], ['r1']),
    makeNode('Conv', ['r1', f('w_dw', [6, 1, 3, 3], 7)], ['dw'], { attributes: { group: { int: 6 }, auto_pad: { string: 'SAME_UPPER' }, strides: { ints: [2, 2] } } }), // [2, 6, 3, 5]
    makeNode('Clip', ['dw', scalar('zero', 0), scalar('six', 6)], ['c6']),
    makeNode('HardSwish', ['c6'], ['hsw']),
    makeNode('Mul', ['hsw', f('k_mul', [6, 1, 1], 8, 0.5, 1)], ['s1']),
    makeNode('Add', ['s1', f('k_add', [6, 1, 1], 9)], ['s2']),
    makeNode('Sub', ['s2', scalar('k_sub', 0.25)], ['s3']),
    makeNode('Sigmoid', ['s3'], ['sg']),
    makeNode('Mul', ['s3', 'sg'], ['sw']),
    makeNode('MaxPool', ['r1'], ['mp'], { attributes: { kernel_shape: { ints: [3, 3] }, strides: { ints: [2, 2] }, pads: { ints: [1, 1, 1, 1] } } }), // [2, 6, 3, 5]
    makeNode('Pad', ['r1', i64('pads', [0, 0, 1, 1, 0, 0, 1, 1])], ['pd']), // [2, 6, 8, 11]
    makeNode('GlobalMaxPool', ['pd'], ['gmp']), // [2, 6, 1, 1]
    makeNode('Sigmoid', ['gmp'], ['gate']),
    makeNode('Mul', ['mp', 'gate'], ['se']),
    makeNode('Add', ['sw', 'se'], ['sum']),
    makeNode('AveragePool', ['sum'], ['ap'], { attributes: { kernel_shape: { ints: [3, 3] }, pads: { ints: [1, 1, 1, 1] } } }),
    makeNode('LeakyRelu', ['ap'], ['lr'], { attributes: { alpha: { float: 0.1 } } }),
    makeNode('HardSigmoid', ['mp'], ['hsg'], { attributes: { alpha: { float: 0.3 }, beta: { float: 0.4 } } }),
    makeNode('Concat', ['lr', 'hsg'], ['cat'], { attributes: { axis: { int: 1 } } }), // [2, 12, 3, 5]
    makeNode('Conv', ['cat', f('w_pw', [8, 12, 1, 1], 10), f('b_pw', [8], 11)], ['pw']), // [2, 8, 3, 5]
    makeNode('Clip', ['pw', scalar('lo', -0.5), scalar('hi', 0.8)], ['clip']),
    makeNode('Transpose', ['clip'], ['tr'], { attributes: { perm: { ints: [0, 2, 3, 1] } } }),
    makeNode('Transpose', ['tr'], ['tr2'], { attributes: { perm: { ints: [0, 3, 1, 2] } } }),
    makeNode('GlobalAveragePool', ['tr2'], ['gap']), // [2, 8, 1, 1]
    makeNode('Shape', ['gap'], ['shape']),
    makeNode('Gather', ['shape', i64('index0', [0], [])], ['batch'], { attributes: { axis: { int: 0 } } }),
    makeNode('Unsqueeze', ['batch', i64('axes0', [0])], ['batch1']),
    makeNode('Concat', ['batch1', i64('minus1', [-1])], ['target'], { attributes: { axis: { int: 0 } } }),
    makeNode('Reshape', ['gap', 'target'], ['flat']), // [2, 8]
    makeNode('Flatten', ['clip'], ['fl']), // [2, 120]
    makeNode('ReduceMean', ['clip'], ['rm'], { attributes: { axes: { ints: [2, 3] }, keepdims: { int: 0 } } }), // [2, 8]
    makeNode('Concat', ['flat', 'fl', 'rm'], ['feat'], { attributes: { axis: { int: 1 } } }), // [2, 136]
    makeNode('Gemm', ['feat', f('w_gemm', [5, 136], 12, 0.2), f('b_gemm', [5], 13)], ['gm'], {
      attributes: { transB: { int: 1 }, alpha: { float: 0.7 }, beta: { float: 1.3 } },
    }),
    makeNode('MatMul', ['feat', f('w_matmul', [136, 5], 14, 0.2)], ['mm']),
    makeNode('Add', ['mm', f('b_matmul', [5], 15)], ['mmb']),
    makeNode('Add', ['gm', 'mmb'], ['sum2']),
    makeNode('Dropout', ['sum2'], ['drop']),
    makeNode('Identity', ['drop'], ['logits']),
    makeNode('Softmax', ['logits'], ['probabilities'], { attributes: { axis: { int: -1 } } }),
  ];
  const inputDims = [2, 4, 10, 10];
  const bytes = encodeOnnxModel({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 14 }],
    producerName: 'graft-test',
    graph: {
      name: 'ops',
      node: n,
      initializer: inits,
      input: [makeFloatValueInfo('x', [null, 4, 10, 10])],
      output: [makeFloatValueInfo('logits', [null, 5]), makeFloatValueInfo('probabilities', [null, 5])],
    },
  });
  return { bytes, inputDims };
}

/**
 * Opset 11, NCHW [2, 3, 9, 9]: Transpose swapping H and W (a real Permute), Reshape to a rank-4 NCHW tensor
 * and a Conv after it (Permute to NHWC), Div/Sub by constants (constant first too), Clip with only a max,
 * MaxPool with ceil_mode (after a Relu: zero padding is safe), AveragePool counting its pads, Unsqueeze/Squeeze, Concat of pooled tensors, Gemm
 * with a scalar bias, an unfused MatMul and Softmax (opset < 13: axis 1); `z` is an NHWC-stored rank-4 output.
 */
function buildLayoutModel(): { bytes: Uint8Array; inputDims: number[] } {
  const { inits, f, i64, scalar } = initializers();
  const n: NodeProto[] = [
    makeNode('Transpose', ['x'], ['hw'], { attributes: { perm: { ints: [0, 1, 3, 2] } } }), // [2, 3, 9, 9], W and H swapped
    makeNode('Conv', ['hw', f('w1', [4, 3, 2, 3], 1)], ['c1'], { attributes: { pads: { ints: [0, 1, 0, 1] } } }), // [2, 4, 8, 9]
    makeNode('Div', ['c1', scalar('two', 2)], ['d1']),
    makeNode('Sub', [f('k', [4, 1, 1], 2), 'd1'], ['s1']),
    makeNode('Clip', ['s1', '', scalar('cap', 0.7)], ['cl']),
    makeNode('Relu', ['cl'], ['rl']),
    makeNode('MaxPool', ['rl'], ['mp'], { attributes: { kernel_shape: { ints: [3, 3] }, strides: { ints: [2, 2] }, ceil_mode: { int: 1 } } }), // [2, 4, 4, 4]
    makeNode('AveragePool', ['mp'], ['ap'], { attributes: { kernel_shape: { ints: [2, 2] }, pads: { ints: [1, 1, 0, 0] }, count_include_pad: { int: 1 } } }), // [2, 4, 4, 4]
    makeNode('Reshape', ['ap', i64('shape', [0, 8, 2, 4])], ['rs']), // [2, 8, 2, 4] in NCHW order
    makeNode('Conv', ['rs', f('w2', [6, 8, 1, 1], 3), f('b2', [6], 4)], ['c2']), // [2, 6, 2, 4]
    makeNode('Relu', ['c2'], ['z']),
    makeNode('GlobalAveragePool', ['z'], ['g1']), // [2, 6, 1, 1]
    makeNode('GlobalAveragePool', ['ap'], ['g2']), // [2, 4, 1, 1]
    makeNode('Concat', ['g1', 'g2'], ['gc'], { attributes: { axis: { int: 1 } } }), // [2, 10, 1, 1]
    makeNode('Squeeze', ['gc'], ['sq'], { attributes: { axes: { ints: [2, 3] } } }), // [2, 10]
    makeNode('Unsqueeze', ['sq'], ['us'], { attributes: { axes: { ints: [2] } } }), // [2, 10, 1]
    makeNode('Flatten', ['us'], ['fl']), // [2, 10]
    makeNode('Sub', ['fl', f('k2', [10], 5)], ['s2']),
    makeNode('Gemm', ['s2', f('w3', [10, 7], 6), scalar('b3', 0.3)], ['gm']),
    makeNode('MatMul', ['gm', f('w4', [7, 5], 7)], ['mm']),
    makeNode('Softmax', ['mm'], ['y']),
  ];
  const inputDims = [2, 3, 9, 9];
  const bytes = encodeOnnxModel({
    irVersion: 7,
    opsetImport: [{ domain: '', version: 11 }],
    graph: {
      name: 'layout',
      node: n,
      initializer: inits,
      input: [makeFloatValueInfo('x', [null, 3, 9, 9])],
      output: [makeFloatValueInfo('y', [null, 5]), makeFloatValueInfo('z', [null, 6, 2, 4])],
    },
  });
  return { bytes, inputDims };
}

/** A Relu followed by an LSTM: refused by operator and node name. */
function buildUnsupportedModel(): Uint8Array {
  return encodeOnnxModel({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 14 }],
    graph: {
      name: 'lstm',
      node: [makeNode('Relu', ['x'], ['r']), makeNode('LSTM', ['r', 'W', 'R'], ['y'], { name: 'my_lstm', attributes: { hidden_size: { int: 2 } } })],
      initializer: [makeFloatInitializer('W', [1, 8, 3], new Float32Array(24)), makeFloatInitializer('R', [1, 8, 2], new Float32Array(16))],
      input: [makeFloatValueInfo('x', [4, 1, 3])],
      output: [makeFloatValueInfo('y', [4, 1, 1, 2])],
    },
  });
}

/** A Conv with group 2 over 4 channels (not depthwise): no TF.js Keras layer. */
function buildGroupedConvModel(): Uint8Array {
  return encodeOnnxModel({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 14 }],
    graph: {
      name: 'grouped',
      node: [makeNode('Conv', ['x', 'W'], ['y'], { name: 'grouped_conv', attributes: { group: { int: 2 } } })],
      initializer: [makeFloatInitializer('W', [4, 2, 1, 1], new Float32Array(8).fill(1))],
      input: [makeFloatValueInfo('x', [null, 4, 8, 8])],
      output: [makeFloatValueInfo('y', [null, 4, 8, 8])],
    },
  });
}
