import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/data/decode-image.js';
import { createSession, type OrtSession } from '../../src/runtime/ort-session.js';
import { makePreprocessing } from '../../src/core/preprocessing.js';
import { ensureTfjsBackend } from '../../src/runtime/tfjs-backend.js';
import { registerWasmGradKernels } from '../../src/engine/wasm-grad-kernels/index.js';
import { GraftError } from '../../src/core/errors.js';
import { describeCutPoints, findCutPoints, resolveUnfreeze, type ResolvedCut } from '../../src/onnx/cut-points.js';
import { formatUnfreeze, parseUnfreeze } from '../../src/onnx/unfreeze-spec.js';
import { exportFineTunedOnnx } from '../../src/onnx-to-tfjs/export-fine-tuned.js';
import { exposeFeatures, FEATURE_OUTPUT } from '../../src/onnx/feature-output.js';
import {
  decodeOnnxModel,
  encodeOnnxModel,
  makeFloatInitializer,
  makeFloatValueInfo,
  makeNode,
  onnx,
  readOnnxModel,
  ONNX_INT32,
  ONNX_INT8,
  ONNX_UINT8,
  type ModelProto,
  type TensorProto,
} from '../../src/onnx/onnx-model.js';
import { buildPrefixModel, CUT_OUTPUT } from '../../src/onnx/prefix-model.js';
import { importOnnxToTfjs, type OnnxTfjsGraph } from '../../src/onnx-to-tfjs/index.js';
import { loadLayersModelFromDir } from '../../src/readers/tfjs-layers.js';
import { exportLayersModelToOnnx } from '../../src/tfjs-to-onnx/layers-model-to-onnx.js';
import type { DenseLayerWeights } from '../../src/core/dense-layer.js';
import { hymenoptera, int8Model, loadImageBatch, sharedDir, skipReason } from '../support.js';

/*
 * Fine-tuning splits a backbone at a cut: the frozen prefix runs in onnxruntime (once per image, cached),
 * the suffix trains in tfjs, and one ONNX file (prefix + trained suffix + head) comes out. These tests check
 * that each piece computes what the whole would, on the two real backbones Graft ships with.
 */

const TOLERANCE = 1e-4;
const IMAGES = 4;
const tmBaseDir = join(sharedDir, 'models/tm-mobilenetv2-035/base');
const hasInt8 = existsSync(int8Model) && existsSync(join(hymenoptera, 'val'));
const hasTm = existsSync(tmBaseDir);
if (!hasInt8) skipReason('the int8 MobileNetV2 fine-tuning split tests');
if (!hasTm) skipReason('the TM MobileNetV2 0.35 fine-tuning split tests');

beforeAll(async () => {
  registerWasmGradKernels();
  await ensureTfjsBackend();
});

describe('parseUnfreeze', () => {
  it('reads all, last:N and from:<name>, and round-trips', () => {
    expect(parseUnfreeze('all')).toEqual({ kind: 'all' });
    expect(parseUnfreeze(' last:3 ')).toEqual({ kind: 'last', blocks: 3 });
    expect(parseUnfreeze('from:block_13_project_BN')).toEqual({ kind: 'from', name: 'block_13_project_BN' });
    for (const text of ['all', 'last:12', 'from:a:b']) expect(formatUnfreeze(parseUnfreeze(text))).toBe(text);
  });

  it.each(['', 'some', 'last', 'last:', 'last:0', 'last:-1', 'last:2.5', 'last:x', 'from:', 'top:3'])('rejects %j with INVALID_CONFIG and a hint', (text) => {
    let error: unknown;
    try {
      parseUnfreeze(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GraftError);
    expect((error as GraftError).code).toBe('INVALID_CONFIG');
    expect((error as GraftError).message).toContain(`"${text}"`);
    expect((error as GraftError).hint).toBeTruthy();
  });
});

/** A seeded 1280 -> classes softmax head (a tiny LCG, so every run sees the same head). */
function randomHead(inputDim: number, classes: number, seed: number): DenseLayerWeights[] {
  let state = seed;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return (state / 2 ** 31) * 2 - 1;
  };
  const weight = Float32Array.from({ length: inputDim * classes }, () => next() * 0.1);
  const bias = Float32Array.from({ length: classes }, () => next() * 0.1);
  return [{ inputDim, outputDim: classes, weight, bias, activation: 'softmax' }];
}

function headLogits(features: tf.Tensor, head: readonly DenseLayerWeights[]): tf.Tensor2D {
  const layer = head[0]!;
  const flat = tf.reshape(features, [features.shape[0]!, layer.inputDim]);
  return tf.add(tf.matMul(flat as tf.Tensor2D, tf.tensor2d(layer.weight, [layer.inputDim, layer.outputDim])), tf.tensor1d(layer.bias!)) as tf.Tensor2D;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

function maxAbs(a: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]!));
  return max;
}

/** Runs ONNX bytes in onnxruntime (Graft's session settings) and returns the named outputs with their dims. */
async function ortRun(bytes: Uint8Array, input: Float32Array, dims: number[], outputs: string[]): Promise<Record<string, { data: Float32Array; dims: number[] }>> {
  const session: OrtSession = await createSession(bytes, { intraOpNumThreads: 2 });
  try {
    const results = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', input, dims) }, outputs);
    const out: Record<string, { data: Float32Array; dims: number[] }> = {};
    for (const name of outputs) out[name] = { data: new Float32Array(results[name]!.data as Float32Array), dims: [...results[name]!.dims] };
    for (const value of Object.values(results)) value.dispose();
    return out;
  } finally {
    await session.release();
  }
}

/** The prefix's cached activations for a batch: what fine-tuning feeds the suffix. */
async function prefixActivations(model: ModelProto, cut: ResolvedCut, input: Float32Array, dims: number[]): Promise<tf.Tensor> {
  const prefix = buildPrefixModel(model, cut);
  const { [CUT_OUTPUT]: result } = await ortRun(prefix.bytes, input, dims, [prefix.output]);
  return tf.tensor(result!.data, result!.dims);
}

/** Multiplies every variable by 1 + 0.01 * (a fixed +-1 pattern): a stand-in for training that moves every weight. */
function perturb(graph: OnnxTfjsGraph): void {
  let k = 0;
  for (const variable of graph.variables.values()) {
    const sign = k++ % 2 === 0 ? 1 : -1;
    tf.tidy(() => variable.assign(tf.mul(variable, 1 + 0.01 * sign)));
  }
}

/**
 * Exports prefix + trained suffix + head, runs it in onnxruntime, and compares probabilities and features
 * with the tfjs suffix + head on the same cached activations.
 */
async function checkExport(options: { model: ModelProto; cut: ResolvedCut; suffix: OnnxTfjsGraph; input: Float32Array; dims: number[]; cutValues: tf.Tensor; head: DenseLayerWeights[] }) {
  const { model, cut, suffix, input, dims, cutValues, head } = options;
  const bytes = exportFineTunedOnnx({ model, cut, featureOutput: FEATURE_OUTPUT, variables: suffix.variables, head });
  const exported = await ortRun(bytes, input, dims, ['probabilities', FEATURE_OUTPUT]);
  const expected = tf.tidy(() => {
    const features = suffix.predict(cutValues);
    return { probabilities: tf.softmax(headLogits(features, head)).dataSync(), features: features.dataSync() };
  });
  return {
    probabilityDiff: maxAbsDiff(exported['probabilities']!.data, expected.probabilities),
    featureDiff: maxAbsDiff(exported[FEATURE_OUTPUT]!.data, expected.features),
    maxFeature: maxAbs(expected.features),
    probabilities: exported['probabilities']!,
    bytes,
  };
}

/**
 * A small QOperator-format graph with the quantized ops MobileNetV2 does not have after its cut:
 * QuantizeLinear of an activation, QLinearMul with a constant, QLinearMatMul, plus QLinearConv with
 * per-channel int8 weights and QLinearGlobalAveragePool. Input [N, 4, 5, 5] -> `features` [N, 5].
 */
function buildQuantizedModel(): ModelProto {
  const inits: TensorProto[] = [];
  let state = 5;
  const next = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  const q = (name: string, dataType: number, dims: number[], values: number[]) => {
    const data = dataType === ONNX_INT32 ? new Uint8Array(Int32Array.from(values).buffer) : dataType === ONNX_INT8 ? new Uint8Array(Int8Array.from(values).buffer) : Uint8Array.from(values);
    inits.push(onnx.TensorProto.create({ name, dims, dataType, rawData: data }));
    return name;
  };
  const floats = (name: string, dims: number[], values: number[]) => {
    inits.push(makeFloatInitializer(name, dims, Float32Array.from(values)));
    return name;
  };
  const scalar = (name: string, value: number) => floats(name, [], [value]);
  const count = (dims: number[]) => dims.reduce((a, b) => a * b, 1);
  const ints = (dims: number[], range: number) => Array.from({ length: count(dims) }, () => Math.round(next() * range));
  const nodes = [
    makeNode('QuantizeLinear', ['x', scalar('x_s', 0.02), q('x_zp', ONNX_UINT8, [], [128])], ['xq']),
    makeNode(
      'QLinearConv',
      // Per-channel int8 weights, uint8 output with zero point 0 (a folded Relu), int32 bias.
      ['xq', 'x_s', 'x_zp', q('w', ONNX_INT8, [6, 4, 3, 3], ints([6, 4, 3, 3], 100)), floats('w_s', [6], [0.004, 0.005, 0.006, 0.007, 0.008, 0.009]),
        q('w_zp', ONNX_INT8, [6], [0, 0, 0, 0, 0, 0]), scalar('c_s', 0.05), q('c_zp', ONNX_UINT8, [], [0]), q('b', ONNX_INT32, [6], ints([6], 2000))],
      ['cq'],
      { attributes: { pads: { ints: [1, 1, 1, 1] }, kernel_shape: { ints: [3, 3] } } },
    ),
    makeNode('QLinearGlobalAveragePool', ['cq', 'c_s', 'c_zp', scalar('p_s', 0.04), q('p_zp', ONNX_UINT8, [], [0])], ['pq'], { domain: 'com.microsoft', attributes: { channels_last: { int: 0 } } }),
    makeNode('QLinearMul', ['pq', 'p_s', 'p_zp', q('mul_k', ONNX_UINT8, [6, 1, 1], ints([6, 1, 1], 100).map((v) => v + 120)), scalar('m_s', 0.01), q('m_zp', ONNX_UINT8, [], [0]), scalar('y_s', 0.03), q('y_zp', ONNX_UINT8, [], [10])], ['mq'], { domain: 'com.microsoft' }),
    makeNode('DequantizeLinear', ['mq', 'y_s', 'y_zp'], ['m']),
    makeNode('Flatten', ['m'], ['f'], { attributes: { axis: { int: 1 } } }),
    makeNode('QuantizeLinear', ['f', 'y_s', 'y_zp'], ['fq']),
    makeNode('QLinearMatMul', ['fq', 'y_s', 'y_zp', q('k', ONNX_INT8, [6, 5], ints([6, 5], 120)), scalar('k_s', 0.02), q('k_zp', ONNX_INT8, [], [0]), scalar('o_s', 0.05), q('o_zp', ONNX_UINT8, [], [128])], ['oq']),
    makeNode('DequantizeLinear', ['oq', 'o_s', 'o_zp'], ['features']),
  ];
  return onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }, { domain: 'com.microsoft', version: 1 }],
    graph: { name: 'quantized-ops', node: nodes, initializer: inits, input: [makeFloatValueInfo('x', [null, 4, 5, 5])], output: [makeFloatValueInfo('features', [null, 5])] },
  });
}

describe('exportFineTunedOnnx: the quantized ops, on a small graph', () => {
  const model = buildQuantizedModel();
  const dims = [3, 4, 5, 5];
  const input = Float32Array.from({ length: 3 * 4 * 5 * 5 }, (_v, i) => Math.sin(i * 0.7) * 1.5);

  it.each(['all', 'from:cq', 'from:mq'])('rewrites the suffix as float ops that match the tfjs import (%s)', async (text) => {
    const cut = resolveUnfreeze(model, 'features', parseUnfreeze(text));
    const suffix = importOnnxToTfjs(model, { input: cut.tensor, outputs: ['features'] });
    const cutValues = cut.isInput ? tf.tensor(input, dims) : await prefixActivations(model, cut, input, dims);
    try {
      perturb(suffix);
      const head = randomHead(5, 3, 1);
      const bytes = exportFineTunedOnnx({ model, cut, featureOutput: 'features', variables: suffix.variables, head });
      const exported = await ortRun(bytes, input, dims, ['probabilities', 'features']);
      const expected = tf.tidy(() => {
        const features = suffix.predict(cutValues);
        return { probabilities: tf.softmax(headLogits(features, head)).dataSync(), features: features.dataSync() };
      });
      expect(maxAbs(expected.features)).toBeGreaterThan(0.5);
      expect(maxAbsDiff(exported['features']!.data, expected.features)).toBeLessThanOrEqual(1e-5);
      expect(maxAbsDiff(exported['probabilities']!.data, expected.probabilities)).toBeLessThanOrEqual(1e-6);
      const ops = decodeOnnxModel(bytes, 'exported').graph!.node!.map((n) => n.opType);
      // Nothing quantized is left after the cut; before it, the int8 ops stay.
      const after = ops.slice(ops.indexOf(cut.isInput ? ops[0]! : 'DequantizeLinear'));
      expect(after.filter((op) => op?.startsWith('QLinear'))).toEqual([]);
    } finally {
      suffix.dispose();
      cutValues.dispose();
    }
  });

  it('names the op and node it cannot rewrite', () => {
    const bad = onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 13 }],
      graph: {
        name: 'erf',
        node: [makeNode('Erf', ['x'], ['e'], { name: 'my_erf' }), makeNode('Flatten', ['e'], ['features'])],
        input: [makeFloatValueInfo('x', [null, 4])],
        output: [makeFloatValueInfo('features', [null, 4])],
      },
    });
    const cut = resolveUnfreeze(bad, 'features', { kind: 'all' });
    expect(() => exportFineTunedOnnx({ model: bad, cut, featureOutput: 'features', variables: new Map(), head: randomHead(4, 2, 1) })).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED_MODEL', message: expect.stringMatching(/Erf node "my_erf".*"Erf"/) }),
    );
  });
});

describe.skipIf(!hasInt8)('fine-tuning split: int8 MobileNetV2 (ONNX Model Zoo)', () => {
  let model: ModelProto;
  let input: Float32Array;
  const dims = [IMAGES, 3, 224, 224];

  beforeAll(async () => {
    model = (await exposeFeatures(await readOnnxModel(int8Model))).model;
    const pre = makePreprocessing({ inputSize: 224, scale: 'imagenet', layout: 'nchw' });
    const dir = join(hymenoptera, 'val');
    const files = readdirSync(dir).flatMap((c) => readdirSync(join(dir, c)).map((f) => join(dir, c, f))).filter((f) => /\.jpe?g$/i.test(f)).sort();
    input = new Float32Array(IMAGES * 3 * 224 * 224);
    for (let n = 0; n < IMAGES; n++) input.set(await decodeImage(files[Math.floor((n * files.length) / IMAGES)]!, pre), n * 3 * 224 * 224);
  });

  it('resolves last:N to the bottleneck between blocks; last:3 is block 13 output, 7x7x160', () => {
    const last = (blocks: number) => resolveUnfreeze(model, FEATURE_OUTPUT, { kind: 'last', blocks });
    const cut = last(3);
    // Blocks 14, 15, 16 (features[15..17] in torchvision's numbering) and the final 1x1 conv train.
    expect(cut).toMatchObject({ tensor: '597_quantized', isInput: false, isQuantized: true, scale: '597_scale', zeroPoint: '597_zero_point', channels: 160 });
    expect(cut.shape).toEqual([null, 160, 7, 7]);
    expect(cut.description).toBe('last 3 blocks: from 597_quantized (7x7x160), 15 of 66 nodes trainable');
    expect([1, 2, 3, 4].map((n) => `${last(n).tensor} ${last(n).shape?.join('x')}`)).toEqual([
      '452_quantized x160x7x7',
      '443_quantized x160x7x7',
      '597_quantized x160x7x7',
      '426_quantized x96x14x14',
    ]);
    // More blocks than the model has: everything trains.
    expect(last(18).isInput).toBe(true);
  });

  it('resolves all to the input, and from: a node name to its output', () => {
    const all = resolveUnfreeze(model, FEATURE_OUTPUT, { kind: 'all' });
    expect(all).toMatchObject({ tensor: 'input', isInput: true, isQuantized: false, channels: 3, trainableNodes: all.totalNodes });
    expect(resolveUnfreeze(model, FEATURE_OUTPUT, { kind: 'from', name: 'Conv_77_quant' }).tensor).toBe('597_quantized');
    expect(resolveUnfreeze(model, FEATURE_OUTPUT, { kind: 'from', name: '443_quantized' }).trainableNodes).toBe(11);
  });

  it('lists cut points: articulation tensors only, input first', () => {
    const points = findCutPoints(model, FEATURE_OUTPUT);
    expect(points[0]).toMatchObject({ tensor: 'input', nodeIndex: -1, spatialConvsAfter: 18 });
    const names = points.map((p) => p.tensor);
    // Inside a residual block the skip connection bypasses the tensors: they are not cut points.
    expect(names).not.toContain('600_quantized');
    expect(names).toContain('594_quantized');
    expect(points.every((p, i) => i === 0 || p.nodeIndex > points[i - 1]!.nodeIndex)).toBe(true);
    const table = describeCutPoints(model, FEATURE_OUTPUT);
    expect(table).toMatch(/597_quantized\s+7x7x160\s+int8\s+3\s+last:3/);
  });

  it('explains a bad from: name with the nearest or the likely cut points', () => {
    const failure = (name: string): GraftError => {
      try {
        resolveUnfreeze(model, FEATURE_OUTPUT, { kind: 'from', name });
      } catch (error) {
        return error as GraftError;
      }
      throw new Error(`from:${name} resolved`);
    };
    const inside = failure('Conv_80_quant'); // block 14's depthwise conv, inside a residual block
    expect(inside.code).toBe('INVALID_CONFIG');
    expect(inside.message).toContain('"603_quantized" is not a valid cut point');
    expect(inside.message).toContain('597_quantized (7x7x160)');
    expect(inside.message).toContain('443_quantized (7x7x160)');
    const unknown = failure('block_13_project_BN');
    expect(unknown.code).toBe('INVALID_CONFIG');
    expect(unknown.message).toContain('no tensor or node named "block_13_project_BN"');
    expect(unknown.message).toContain('452_quantized');
    expect(failure(FEATURE_OUTPUT).message).toContain('nothing would train');
    expect(failure('464_quantized').message).toContain('nothing after "464_quantized" has weights');
  });

  it('builds a deterministic prefix that dequantizes the cut', () => {
    const cut = resolveUnfreeze(model, FEATURE_OUTPUT, { kind: 'last', blocks: 3 });
    const a = buildPrefixModel(model, cut);
    expect(a.output).toBe('graft_cut');
    expect(Buffer.from(buildPrefixModel(model, cut).bytes).equals(Buffer.from(a.bytes))).toBe(true);
    const other = buildPrefixModel(model, resolveUnfreeze(model, FEATURE_OUTPUT, { kind: 'last', blocks: 2 }));
    expect(Buffer.from(other.bytes).equals(Buffer.from(a.bytes))).toBe(false);
    const nodes = decodeOnnxModel(a.bytes, 'prefix').graph!.node!;
    expect(nodes.at(-1)).toMatchObject({ opType: 'DequantizeLinear', input: ['597_quantized', '597_scale', '597_zero_point'], output: ['graft_cut'] });
    expect(nodes.length).toBe(51 + 1);
  });

  it('prefix in onnxruntime + suffix in tfjs, then one exported ONNX file that matches (last:3)', async () => {
    const cut = resolveUnfreeze(model, FEATURE_OUTPUT, { kind: 'last', blocks: 3 });
    const cutValues = await prefixActivations(model, cut, input, dims);
    expect(cutValues.shape).toEqual([IMAGES, 160, 7, 7]);
    const suffix = importOnnxToTfjs(model, { input: cut.tensor, outputs: [FEATURE_OUTPUT] });
    const full = importOnnxToTfjs(model, { outputs: [cut.tensor, FEATURE_OUTPUT] });
    try {
      // The suffix is the full graph's tail: on the full import's own cut values it gives the same features.
      const { same, viaOrt, maxFeature, cutDiff } = tf.tidy(() => {
        const outputs = full.predictAll(tf.tensor4d(input, dims as [number, number, number, number]));
        const fullFeatures = outputs[FEATURE_OUTPUT]!.dataSync();
        return {
          same: maxAbsDiff(suffix.predict(outputs[cut.tensor]!).dataSync(), fullFeatures),
          viaOrt: maxAbsDiff(suffix.predict(cutValues).dataSync(), fullFeatures),
          maxFeature: maxAbs(fullFeatures),
          cutDiff: maxAbsDiff(outputs[cut.tensor]!.dataSync(), cutValues.dataSync()),
        };
      });
      console.log(
        `int8 last:3: suffix(tfjs cut) vs full tfjs features ${same.toExponential(2)}; ORT int8 prefix vs tfjs float prefix at the cut ${cutDiff.toFixed(3)}, ` +
          `features via the ORT prefix ${viaOrt.toFixed(3)} (max |feature| ${maxFeature.toFixed(2)})`,
      );
      expect(same).toBeLessThanOrEqual(TOLERANCE);
      // The int8 prefix rounds every activation, the float import does not (onnx-to-tfjs.test.ts): the cut values
      // differ by quantization steps, so only a loose bound holds for features computed from ORT's activations.
      expect(viaOrt).toBeLessThan(0.25 * maxFeature);

      perturb(suffix);
      const head = randomHead(1280, 3, 7);
      const result = await checkExport({ model, cut, suffix, input, dims, cutValues, head });
      console.log(`int8 last:3 export: probabilities max abs diff ${result.probabilityDiff.toExponential(2)}, features ${result.featureDiff.toExponential(2)} (max |feature| ${result.maxFeature.toFixed(2)}), ${(result.bytes.length / 1e6).toFixed(1)} MB`);
      expect(result.probabilityDiff).toBeLessThanOrEqual(TOLERANCE);
      expect(result.featureDiff).toBeLessThanOrEqual(TOLERANCE * Math.max(1, result.maxFeature));
      // The frozen prefix stays int8 in the exported file; the suffix is float.
      const nodes = decodeOnnxModel(result.bytes, 'exported').graph!.node!;
      expect(nodes.filter((n) => n.opType === 'QLinearConv').length).toBe(42);
      expect(nodes.filter((n) => n.opType === 'Conv').length).toBe(10);
    } finally {
      suffix.dispose();
      full.dispose();
      cutValues.dispose();
    }
  });
});

describe.skipIf(!hasTm)('fine-tuning split: TM MobileNetV2 0.35 (float, exported from TF.js)', () => {
  let model: ModelProto;
  let input: Float32Array;
  const dims = [IMAGES, 224, 224, 3];

  beforeAll(async () => {
    const layers = await loadLayersModelFromDir(tmBaseDir);
    try {
      model = decodeOnnxModel(exportLayersModelToOnnx(layers, { featureOutputName: FEATURE_OUTPUT }), 'tm-mobilenetv2-035');
    } finally {
      layers.dispose();
    }
    input = await loadImageBatch('-1..1', { count: IMAGES });
  });

  it('resolves last:N to the Keras block outputs', () => {
    const last = (blocks: number) => resolveUnfreeze(model, FEATURE_OUTPUT, { kind: 'last', blocks });
    expect([1, 2, 3, 4].map((n) => `${last(n).tensor} ${formatCut(last(n))}`)).toEqual([
      'block_15_add 7x7x56',
      'block_14_add 7x7x56',
      'block_13_project_BN 7x7x56',
      'block_12_add 14x14x32',
    ]);
    expect(resolveUnfreeze(model, FEATURE_OUTPUT, { kind: 'all' })).toMatchObject({ tensor: 'input', isInput: true, channels: 3 });
  });

  it('prefix in onnxruntime + suffix in tfjs equals onnxruntime on the whole model (last:3)', async () => {
    const cut = resolveUnfreeze(model, FEATURE_OUTPUT, { kind: 'last', blocks: 3 });
    const cutValues = await prefixActivations(model, cut, input, dims);
    const suffix = importOnnxToTfjs(model, { input: cut.tensor, outputs: [FEATURE_OUTPUT] });
    try {
      const whole = await ortRun(exportWhole(model), input, dims, [FEATURE_OUTPUT]);
      const actual = tf.tidy(() => suffix.predict(cutValues).dataSync());
      const diff = maxAbsDiff(actual, whole[FEATURE_OUTPUT]!.data);
      console.log(`TM 0.35 last:3: ORT prefix + tfjs suffix vs ORT whole model: max abs diff ${diff.toExponential(2)} (absolute; max |feature| ${maxAbs(actual).toFixed(2)})`);
      expect(diff).toBeLessThanOrEqual(TOLERANCE);
    } finally {
      suffix.dispose();
      cutValues.dispose();
    }
  });

  it('suffix-only training equals full-graph training with the same frozen prefix, and exports what it trained (last:3)', async () => {
    const cut = resolveUnfreeze(model, FEATURE_OUTPUT, { kind: 'last', blocks: 3 });
    const cutValues = await prefixActivations(model, cut, input, dims);
    const suffix = importOnnxToTfjs(model, { input: cut.tensor, outputs: [FEATURE_OUTPUT] });
    const full = importOnnxToTfjs(model, { outputs: [FEATURE_OUTPUT] });
    const head = randomHead(1280, 3, 11);
    const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 1], 'int32'), 3);
    const images = tf.tensor4d(input, dims as [number, number, number, number]);
    try {
      const keys = [...suffix.variables.keys()].filter((k) => suffix.variables.get(k)!.trainable);
      expect(keys.length).toBeGreaterThan(20);
      const lossOf = (features: () => tf.Tensor) => () => tf.losses.softmaxCrossEntropy(labels, headLogits(features(), head)) as tf.Scalar;
      const viaSuffix = tf.variableGrads(lossOf(() => suffix.predict(cutValues)), keys.map((k) => suffix.variables.get(k)!));
      const viaFull = tf.variableGrads(lossOf(() => full.predict(images)), keys.map((k) => full.variables.get(k)!));
      const lossDiff = Math.abs(viaSuffix.value.dataSync()[0]! - viaFull.value.dataSync()[0]!);
      let gradDiff = 0;
      let gradMax = 0;
      for (const key of keys) {
        const a = viaSuffix.grads[suffix.variables.get(key)!.name]!.dataSync();
        const b = viaFull.grads[full.variables.get(key)!.name]!.dataSync();
        gradDiff = Math.max(gradDiff, maxAbsDiff(a, b));
        gradMax = Math.max(gradMax, maxAbs(b));
      }
      console.log(
        `TM 0.35 last:3 training: loss ${viaFull.value.dataSync()[0]!.toFixed(5)}, suffix vs full |diff| ${lossDiff.toExponential(2)}; ` +
          `gradients of ${keys.length} suffix variables max abs diff ${gradDiff.toExponential(2)} (max |grad| ${gradMax.toExponential(2)})`,
      );
      expect(lossDiff).toBeLessThanOrEqual(TOLERANCE);
      expect(gradDiff).toBeLessThanOrEqual(TOLERANCE * Math.max(1, gradMax));

      // One real SGD step on the suffix, then export and compare with tfjs. lr 1e-4: this network's
      // BatchNorms (tiny moving variances) amplify weight steps; at lr 1e-2 one step already drives whole
      // feature channels to 0 or 6 (the Relu6 bounds).
      for (const key of keys) {
        const variable = suffix.variables.get(key)!;
        tf.tidy(() => variable.assign(tf.sub(variable, tf.mul(viaSuffix.grads[variable.name]!, 1e-4))));
      }
      tf.dispose([viaSuffix.value, viaFull.value, ...Object.values(viaSuffix.grads), ...Object.values(viaFull.grads)]);
      const result = await checkExport({ model, cut, suffix, input, dims, cutValues, head });
      const untrained = await ortRun(exportWhole(model), input, dims, [FEATURE_OUTPUT]);
      const moved = maxAbsDiff(await featuresOf(result.bytes, input, dims), untrained[FEATURE_OUTPUT]!.data);
      console.log(`TM 0.35 last:3 export after one SGD step: probabilities max abs diff ${result.probabilityDiff.toExponential(2)}, features ${result.featureDiff.toExponential(2)}; the step moved features by ${moved.toFixed(3)}`);
      expect(result.probabilityDiff).toBeLessThanOrEqual(TOLERANCE);
      expect(result.featureDiff).toBeLessThanOrEqual(TOLERANCE);
      expect(moved).toBeGreaterThan(1e-3);
    } finally {
      suffix.dispose();
      full.dispose();
      tf.dispose([cutValues, labels, images]);
    }
  });

  it('training-mode BatchNorm uses batch statistics, updates the running ones, and exports them (last:3)', async () => {
    const cut = resolveUnfreeze(model, FEATURE_OUTPUT, { kind: 'last', blocks: 3 });
    const cutValues = await prefixActivations(model, cut, input, dims);
    const suffix = importOnnxToTfjs(model, { input: cut.tensor, outputs: [FEATURE_OUTPUT] });
    try {
      const stats = [...suffix.variables.values()].filter((v) => !v.trainable);
      expect(stats.length).toBeGreaterThan(10);
      const before = stats.map((v) => v.dataSync().slice());
      const inference = tf.tidy(() => suffix.predict(cutValues, { training: true }).dataSync()); // no momentum: frozen BatchNorm
      // Momentum 0: the running statistics become this batch's, so inference afterwards reproduces the training pass exactly.
      const training = tf.tidy(() => suffix.predict(cutValues, { training: true, batchNormMomentum: 0 }).dataSync());
      expect(maxAbsDiff(training, inference)).toBeGreaterThan(1e-2);
      expect(stats.every((v, i) => maxAbsDiff(v.dataSync(), before[i]!) > 0)).toBe(true);
      const after = tf.tidy(() => suffix.predict(cutValues).dataSync());
      expect(maxAbsDiff(after, training)).toBeLessThanOrEqual(TOLERANCE);
      // The exported ONNX carries the updated statistics.
      const result = await checkExport({ model, cut, suffix, input, dims, cutValues, head: randomHead(1280, 3, 5) });
      expect(result.featureDiff).toBeLessThanOrEqual(TOLERANCE);
    } finally {
      suffix.dispose();
      cutValues.dispose();
    }
  });

  it('exports all (nothing frozen) after training', async () => {
    const cut = resolveUnfreeze(model, FEATURE_OUTPUT, { kind: 'all' });
    const graph = importOnnxToTfjs(model, { input: cut.tensor, outputs: [FEATURE_OUTPUT] });
    const images = tf.tensor4d(input, dims as [number, number, number, number]);
    try {
      perturb(graph);
      const result = await checkExport({ model, cut, suffix: graph, input, dims, cutValues: images, head: randomHead(1280, 2, 3) });
      console.log(`TM 0.35 all export: probabilities max abs diff ${result.probabilityDiff.toExponential(2)}, features ${result.featureDiff.toExponential(2)}`);
      expect(result.probabilityDiff).toBeLessThanOrEqual(TOLERANCE);
      expect(result.featureDiff).toBeLessThanOrEqual(TOLERANCE);
      // Float weights are replaced under their own names: no leftovers, no duplicates.
      const graphProto = decodeOnnxModel(result.bytes, 'exported').graph!;
      const names = graphProto.initializer!.map((t) => t.name);
      expect(new Set(names).size).toBe(names.length);
      expect(names).toContain('Conv1/kernel');
      // Variables imported at another cut hold weights of frozen nodes: refused, not silently dropped.
      const last3 = resolveUnfreeze(model, FEATURE_OUTPUT, { kind: 'last', blocks: 3 });
      expect(() => exportFineTunedOnnx({ model, cut: last3, featureOutput: FEATURE_OUTPUT, variables: graph.variables, head: randomHead(1280, 2, 3) })).toThrow(
        expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringContaining('belong to no node after the cut') }),
      );
    } finally {
      graph.dispose();
      images.dispose();
    }
  });
});

function formatCut(cut: ResolvedCut): string {
  const [, c, h, w] = cut.shape ?? [];
  return `${h}x${w}x${c}`;
}

/** The backbone alone, features as its output (what prefix + suffix should reproduce). */
function exportWhole(model: ModelProto): Uint8Array {
  return encodeOnnxModel(model);
}

async function featuresOf(bytes: Uint8Array, input: Float32Array, dims: number[]): Promise<Float32Array> {
  return (await ortRun(bytes, input, dims, [FEATURE_OUTPUT]))[FEATURE_OUTPUT]!.data;
}
