import { existsSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { describe, it, expect } from 'vitest';
import { GraftError } from '../../src/core/errors.js';
import { appendDenseHead, type DenseLayerWeights } from '../../src/onnx/append-head.js';
import { exposeFeatures } from '../../src/onnx/feature-output.js';
import { decodeOnnxModel, makeFloatInitializer, makeFloatValueInfo, makeNode, onnx, readOnnxModel } from '../../src/onnx/onnx-model.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const shared = process.env.GRAFT_SHARED_DIR ?? resolve(repoRoot, '../shared');
const plainPath = join(shared, 'models/mobilenetv2-int8-onnx/mobilenetv2-12-int8.onnx');
const hasModel = existsSync(plainPath);
if (!hasModel) console.warn(`skipping int8 head tests: ${plainPath} not found (set GRAFT_SHARED_DIR)`);

/** Deterministic values in [-scale, scale). */
function seeded(length: number, seed: number, scale = 1): Float32Array {
  let state = seed >>> 0;
  return Float32Array.from({ length }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state / 2 ** 32 - 0.5) * 2 * scale;
  });
}

function dense(inputDim: number, outputDim: number, activation: DenseLayerWeights['activation'], seed: number): DenseLayerWeights {
  return { inputDim, outputDim, activation, weight: seeded(inputDim * outputDim, seed, 0.1), bias: seeded(outputDim, seed + 1, 0.1) };
}

/** The head in plain JS: what the ONNX nodes must compute. */
function headInJs(features: Float32Array, count: number, layers: DenseLayerWeights[]): Float32Array {
  let x = features;
  for (const [index, layer] of layers.entries()) {
    const y = new Float32Array(count * layer.outputDim);
    for (let n = 0; n < count; n++) {
      for (let o = 0; o < layer.outputDim; o++) {
        let sum = layer.bias ? layer.bias[o]! : 0;
        for (let i = 0; i < layer.inputDim; i++) sum += x[n * layer.inputDim + i]! * layer.weight[i * layer.outputDim + o]!;
        y[n * layer.outputDim + o] = layer.activation === 'relu' ? Math.max(0, sum) : sum;
      }
      if (index === layers.length - 1) {
        const row = y.subarray(n * layer.outputDim, (n + 1) * layer.outputDim);
        const max = Math.max(...row);
        let total = 0;
        for (let o = 0; o < row.length; o++) total += row[o] = Math.exp(row[o]! - max);
        for (let o = 0; o < row.length; o++) row[o] = row[o]! / total;
      }
    }
    x = y;
  }
  return x;
}

async function run(bytes: Uint8Array, inputName: string, input: Float32Array, dims: number[]) {
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', intraOpNumThreads: 2 });
  try {
    const result = await session.run({ [inputName]: new ort.Tensor('float32', input, dims) });
    return { outputNames: [...session.outputNames], result };
  } finally {
    await session.release();
  }
}

function expectHeadMatches(probabilities: Float32Array, features: Float32Array, count: number, layers: DenseLayerWeights[]): void {
  const expected = headInJs(features, count, layers);
  const classes = layers.at(-1)!.outputDim;
  expect(probabilities.length).toBe(count * classes);
  for (let i = 0; i < expected.length; i++) expect(Math.abs(probabilities[i]! - expected[i]!)).toBeLessThanOrEqual(1e-5);
  for (let n = 0; n < count; n++) {
    const sum = probabilities.subarray(n * classes, (n + 1) * classes).reduce((a, b) => a + b, 0);
    expect(Math.abs(sum - 1)).toBeLessThanOrEqual(1e-5);
  }
}

describe.skipIf(!hasModel)('appendDenseHead on the int8 MobileNetV2', () => {
  it('makes one file whose probabilities equal the head applied to its features', async () => {
    const exposed = await exposeFeatures(await readOnnxModel(plainPath));
    const layers = [dense(1280, 16, 'relu', 1), dense(16, 3, 'softmax', 7)];
    const bytes = appendDenseHead(exposed.model, exposed.featureOutput, layers);

    const combined = decodeOnnxModel(bytes, 'combined');
    expect(combined.graph!.output!.map((o) => o.name)).toEqual(['probabilities', 'graft_features']);
    // The ImageNet classifier is gone, and the opset is unchanged.
    expect(combined.graph!.node!.some((n) => n.opType === 'QLinearMatMul')).toBe(false);
    expect(combined.graph!.initializer!.some((t) => t.name === 'classifier.1.weight_quantized')).toBe(false);
    expect(Number(combined.opsetImport!.find((o) => o.domain === '')!.version)).toBe(12);

    const count = 3;
    const input = seeded(count * 3 * 224 * 224, 42, 2);
    const { outputNames, result } = await run(bytes, exposed.inputName, input, [count, 3, 224, 224]);
    expect(outputNames).toEqual(['probabilities', 'graft_features']);
    expect(result.probabilities!.dims).toEqual([count, 3]);
    expectHeadMatches(result.probabilities!.data as Float32Array, result.graft_features!.data as Float32Array, count, layers);
  });
});

describe('appendDenseHead on a small float model', () => {
  // x [N,4] -> Gemm (ImageNet-style classifier, 5 classes) -> logits; features are x itself.
  const backbone = onnx.ModelProto.create({
    irVersion: 7,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'tiny',
      input: [makeFloatValueInfo('x', [null, 4])],
      output: [makeFloatValueInfo('logits', [null, 5])],
      initializer: [makeFloatInitializer('W', [4, 5], seeded(20, 3)), makeFloatInitializer('B', [5], seeded(5, 4))],
      node: [makeNode('Relu', ['x'], ['feat']), makeNode('Gemm', ['feat', 'W', 'B'], ['logits'])],
    },
  });

  it('adds Softmax after a linear output layer and prunes the old classifier', async () => {
    const exposed = await exposeFeatures(backbone);
    expect(exposed.featureDim).toBe(4);
    const layers = [dense(4, 2, 'linear', 9)];
    const bytes = appendDenseHead(exposed.model, exposed.featureOutput, layers);
    const model = decodeOnnxModel(bytes, 'tiny+head');
    expect(model.graph!.node!.map((n) => n.opType)).toEqual(['Relu', 'Flatten', 'MatMul', 'Add', 'Softmax']);
    expect(model.graph!.initializer!.map((t) => t.name)).toEqual(['graft_head_0_kernel', 'graft_head_0_bias']);
    const count = 2;
    const input = seeded(count * 4, 11);
    const { result } = await run(bytes, 'x', input, [count, 4]);
    expectHeadMatches(result.probabilities!.data as Float32Array, result.graft_features!.data as Float32Array, count, [
      { ...layers[0]!, activation: 'softmax' },
    ]);
  });

  it('rejects layers that do not chain, naming the numbers', async () => {
    const exposed = await exposeFeatures(backbone);
    const bad = [dense(4, 8, 'relu', 1), dense(6, 2, 'softmax', 2)];
    expect(() => appendDenseHead(exposed.model, exposed.featureOutput, bad)).toThrowError(/outputs 8 values but layer 1 takes 6/);
    const wrongWidth = [dense(7, 2, 'softmax', 1)];
    expect(() => appendDenseHead(exposed.model, exposed.featureOutput, wrongWidth)).toThrowError(GraftError);
    expect(() => appendDenseHead(exposed.model, 'missing', [dense(4, 2, 'softmax', 1)])).toThrowError(/missing/);
  });
});
