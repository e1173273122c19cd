import { existsSync, readdirSync } from 'node:fs';
import { readFile, mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import * as ort from 'onnxruntime-node';
import { describe, it, expect } from 'vitest';
import { GraftError } from '../../src/core/errors.js';
import { exposeFeatures, FEATURE_OUTPUT } from '../../src/onnx/feature-output.js';
import {
  decodeOnnxModel,
  encodeOnnxModel,
  makeFloatInitializer,
  makeFloatValueInfo,
  makeNode,
  onnx,
  readOnnxModel,
  type GraphProto,
  type ModelProto,
} from '../../src/onnx/onnx-model.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const shared = process.env.GRAFT_SHARED_DIR ?? resolve(repoRoot, '../shared');
const modelDir = join(shared, 'models/mobilenetv2-int8-onnx');
const plainPath = join(modelDir, 'mobilenetv2-12-int8.onnx');
const featPath = join(modelDir, 'mobilenetv2-12-int8-feat.onnx');
const valDir = join(shared, 'datasets/hymenoptera/val');
const hasModels = existsSync(plainPath) && existsSync(featPath) && existsSync(valDir);
if (!hasModels) console.warn(`skipping ONNX feature tests: ${modelDir} or ${valDir} not found (set GRAFT_SHARED_DIR)`);

/** Decodes images as the int8 model expects: cover-resize to 224, x/255, ImageNet mean/std, NCHW. */
async function decodeImagenetNchw(paths: string[]): Promise<Float32Array> {
  const size = 224;
  const mean = [0.485, 0.456, 0.406];
  const std = [0.229, 0.224, 0.225];
  const out = new Float32Array(paths.length * 3 * size * size);
  for (const [n, path] of paths.entries()) {
    const rgb = await sharp(path).removeAlpha().resize(size, size, { fit: 'cover' }).raw().toBuffer();
    for (let p = 0; p < size * size; p++) {
      for (let c = 0; c < 3; c++) out[n * 3 * size * size + c * size * size + p] = (rgb[p * 3 + c]! / 255 - mean[c]!) / std[c]!;
    }
  }
  return out;
}

function valImages(count: number): string[] {
  return ['ants', 'bees'].flatMap((cls) => readdirSync(join(valDir, cls)).sort().slice(0, count / 2).map((f) => join(valDir, cls, f)));
}

/** A one-graph model at opset 13: what the synthetic cases below need. */
function tinyModel(graph: GraphProto): ModelProto {
  return onnx.ModelProto.create({ irVersion: 7, opsetImport: [{ domain: '', version: 13 }], graph });
}

async function runOutput(bytes: Uint8Array, name: string, input: Float32Array, count: number): Promise<ort.Tensor> {
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', intraOpNumThreads: 2 });
  try {
    const result = await session.run({ input: new ort.Tensor('float32', input, [count, 3, 224, 224]) }, [name]);
    return result[name]!;
  } finally {
    await session.release();
  }
}

describe.skipIf(!hasModels)('exposeFeatures on the int8 MobileNetV2', () => {
  it('exposes the pooled 1280-d embedding, equal to the hand-made reference output', async () => {
    const exposed = await exposeFeatures(await readOnnxModel(plainPath), { source: plainPath });
    expect(exposed.featureOutput).toBe(FEATURE_OUTPUT);
    expect(exposed.featureDim).toBe(1280);
    expect(exposed.inputName).toBe('input');
    expect(exposed.inputShape).toEqual([null, 3, 224, 224]);

    const count = 4;
    const input = await decodeImagenetNchw(valImages(count));
    const ours = await runOutput(encodeOnnxModel(exposed.model), FEATURE_OUTPUT, input, count);
    const reference = await runOutput(await readFile(featPath), 'features', input, count);
    expect(ours.dims).toEqual([count, 1280]);
    expect(reference.dims).toEqual([count, 1280, 1, 1]);
    const a = ours.data as Float32Array;
    const b = reference.data as Float32Array;
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
    expect(maxDiff).toBeLessThanOrEqual(1e-6);
    expect(a.some((v) => v !== 0)).toBe(true);
  });

  it('uses an explicit --feature-output tensor, flattened to 2-D', async () => {
    const exposed = await exposeFeatures(await readOnnxModel(featPath), { output: 'features' });
    expect(exposed.featureOutput).toBe(FEATURE_OUTPUT);
    expect(exposed.featureDim).toBe(1280); // measured with a one-image run: no weight to read it from
  });

  it('rejects an unknown --feature-output tensor, listing tensors near the end', async () => {
    const error = await exposeFeatures(await readOnnxModel(plainPath), { output: 'nope', source: plainPath }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GraftError);
    expect((error as GraftError).code).toBe('INVALID_CONFIG');
    expect((error as GraftError).message).toContain('output_quantized');
  });

  it('names the file when its bytes are truncated', async () => {
    const bytes = await readFile(plainPath);
    const dir = await mkdtemp(join(tmpdir(), 'graft-onnx-'));
    const path = join(dir, 'truncated.onnx');
    try {
      await writeFile(path, bytes.subarray(0, 100_000));
      const error = await readOnnxModel(path).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GraftError);
      expect((error as GraftError).code).toBe('UNSUPPORTED_MODEL');
      expect((error as GraftError).message).toContain(path);
    } finally {
      await rm(dir, { recursive: true });
    }
  });
});

describe('ONNX model errors', () => {
  it('names the file for garbage bytes', () => {
    const garbage = new TextEncoder().encode('<html><body>404 Not Found</body></html>');
    expect(() => decodeOnnxModel(garbage, 'downloads/model.onnx')).toThrowError(/downloads\/model\.onnx/);
    try {
      decodeOnnxModel(garbage, 'downloads/model.onnx');
    } catch (error) {
      expect(error).toBeInstanceOf(GraftError);
      expect((error as GraftError).code).toBe('UNSUPPORTED_MODEL');
    }
  });

  it('names a missing file with MODEL_NOT_FOUND', async () => {
    const error = await readOnnxModel('/nonexistent/model.onnx').catch((e: unknown) => e);
    expect((error as GraftError).code).toBe('MODEL_NOT_FOUND');
    expect((error as GraftError).message).toContain('/nonexistent/model.onnx');
  });

  it('takes a pooled map output [N, C, 1, 1] of a model without a classifier as its C features', async () => {
    // input [N,3,8,8] -> Relu -> GlobalAveragePool [N,3,1,1]: PyTorch's features + avgpool, exported.
    const model = tinyModel({
      name: 'pooled-only',
      input: [makeFloatValueInfo('x', [null, 3, 8, 8])],
      output: [makeFloatValueInfo('pooled', [null, 3, 1, 1])],
      node: [makeNode('Relu', ['x'], ['r']), makeNode('GlobalAveragePool', ['r'], ['pooled'])],
    });
    const exposed = await exposeFeatures(decodeOnnxModel(encodeOnnxModel(model), 'pooled-only.onnx'), { source: 'pooled-only.onnx' });
    expect(exposed.featureOutput).toBe(FEATURE_OUTPUT);
    expect(exposed.featureDim).toBe(3);
  });

  it('asks for --feature-output when the model has no classifier and no pooled output', async () => {
    // input [N,3,8,8] -> Relu [N,3,8,8]: no Gemm/MatMul, no 2-D output, no pooled map.
    const model = tinyModel({
      name: 'conv-only',
      input: [makeFloatValueInfo('x', [null, 3, 8, 8])],
      output: [makeFloatValueInfo('r', [null, 3, 8, 8])],
      node: [makeNode('Relu', ['x'], ['r'])],
    });
    const bytes = encodeOnnxModel(model);
    const decoded = decodeOnnxModel(bytes, 'conv-only.onnx');
    const error = await exposeFeatures(decoded, { source: 'conv-only.onnx' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GraftError);
    expect((error as GraftError).code).toBe('UNSUPPORTED_MODEL');
    expect((error as GraftError).message).toContain('conv-only.onnx');
    expect((error as GraftError).message).toContain('Gemm');
    expect((error as GraftError).hint).toContain('--feature-output');
  });

  it('takes the pooled map under a 1x1-conv classifier (MobileNet V1), not its logits', async () => {
    // x [N,3,8,8] -> Conv 3x3 (4 maps) -> Relu -> GlobalAveragePool [N,4,1,1] -> Conv 1x1 (5 classes) + bias -> Flatten -> Softmax.
    const conv = Float32Array.from({ length: 4 * 3 * 3 * 3 }, (_, i) => Math.sin(i + 1));
    const classifier = Float32Array.from({ length: 5 * 4 }, (_, i) => Math.cos(i));
    const model = tinyModel({
      name: 'conv-classifier',
      input: [makeFloatValueInfo('x', [null, 3, 8, 8])],
      output: [makeFloatValueInfo('probs', [null, 5])],
      initializer: [
        makeFloatInitializer('w', [4, 3, 3, 3], conv),
        makeFloatInitializer('wc', [5, 4, 1, 1], classifier),
        makeFloatInitializer('bc', [5, 1, 1], new Float32Array(5).fill(0.1)),
      ],
      node: [
        makeNode('Conv', ['x', 'w'], ['c']),
        makeNode('Relu', ['c'], ['r']),
        makeNode('GlobalAveragePool', ['r'], ['pooled']),
        makeNode('Conv', ['pooled', 'wc'], ['z']),
        makeNode('Add', ['z', 'bc'], ['zb']),
        makeNode('Flatten', ['zb'], ['logits']),
        makeNode('Softmax', ['logits'], ['probs']),
      ],
    });
    const exposed = await exposeFeatures(model);
    expect(exposed.featureOutput).toBe(FEATURE_OUTPUT);
    expect(exposed.featureDim).toBe(4);
    // The exposed features are the pooled map: run both and compare.
    const x = Float32Array.from({ length: 2 * 3 * 8 * 8 }, (_, i) => Math.sin(i * 0.37));
    const withPooled = onnx.ModelProto.create({ ...exposed.model, graph: { ...exposed.model.graph, output: [...exposed.model.graph!.output!, makeFloatValueInfo('pooled', [null, 4, 1, 1])] } });
    const session = await ort.InferenceSession.create(encodeOnnxModel(withPooled));
    const result = await session.run({ x: new ort.Tensor('float32', x, [2, 3, 8, 8]) });
    await session.release();
    expect(result[FEATURE_OUTPUT]!.dims).toEqual([2, 4]);
    expect([...(result[FEATURE_OUTPUT]!.data as Float32Array)]).toEqual([...(result.pooled!.data as Float32Array)]);
  });

  it('does not take a squeeze-and-excitation block for a 1x1-conv classifier', async () => {
    // x -> GlobalAveragePool -> Conv 1x1 -> Relu -> Conv 1x1 -> Sigmoid -> Mul(x, gate) -> ReduceMean -> feats [N,3]:
    // the block convolves a pooled tensor, but its output gates the map; the model's 2-D output is its feature vector.
    const model = tinyModel({
      name: 'se-backbone',
      input: [makeFloatValueInfo('x', [null, 3, 8, 8])],
      output: [makeFloatValueInfo('feats', [null, 3])],
      initializer: [
        makeFloatInitializer('w1', [2, 3, 1, 1], new Float32Array(6).fill(0.5)),
        makeFloatInitializer('w2', [3, 2, 1, 1], new Float32Array(6).fill(-0.5)),
      ],
      node: [
        makeNode('GlobalAveragePool', ['x'], ['squeezed']),
        makeNode('Conv', ['squeezed', 'w1'], ['reduced']),
        makeNode('Relu', ['reduced'], ['reduced_relu']),
        makeNode('Conv', ['reduced_relu', 'w2'], ['expanded']),
        makeNode('Sigmoid', ['expanded'], ['gate']),
        makeNode('Mul', ['x', 'gate'], ['gated']),
        makeNode('ReduceMean', ['gated'], ['feats'], { attributes: { axes: { ints: [2, 3] }, keepdims: { int: 0 } } }),
      ],
    });
    const exposed = await exposeFeatures(model);
    expect(exposed.featureOutput).toBe('feats');
    expect(exposed.featureDim).toBe(3);
  });

  it('uses an existing 2-D float output of a backbone-only model', async () => {
    // x [N,16,16,3] -> ReduceMean -> means [N,3]: no classifier, so its 2-D output is the feature vector.
    const model = tinyModel({
      name: 'backbone-only',
      input: [makeFloatValueInfo('x', [null, 16, 16, 3])],
      output: [makeFloatValueInfo('means', [null, 3])],
      node: [makeNode('ReduceMean', ['x'], ['means'], { attributes: { axes: { ints: [1, 2] }, keepdims: { int: 0 } } })],
    });
    const exposed = await exposeFeatures(model);
    expect(exposed.featureOutput).toBe('means');
    expect(exposed.featureDim).toBe(3);
    expect(exposed.model.graph!.node!.length).toBe(1);
  });
});
