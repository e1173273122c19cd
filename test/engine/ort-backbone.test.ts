import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { describe, it, expect } from 'vitest';
import { GraftError } from '../../src/core/errors.js';
import type { BackboneInfo } from '../../src/engine/backbone.js';
import { OrtBackbone } from '../../src/engine/ort-backbone.js';
import { makePreprocessing, type Layout } from '../../src/core/preprocessing.js';
import { exposeFeatures } from '../../src/onnx/feature-output.js';
import { encodeOnnxModel, makeFloatValueInfo, makeNode, onnx, readOnnxModel } from '../../src/onnx/onnx-model.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const shared = process.env.GRAFT_SHARED_DIR ?? resolve(repoRoot, '../shared');
const modelDir = join(shared, 'models/mobilenetv2-int8-onnx');
const plainPath = join(modelDir, 'mobilenetv2-12-int8.onnx');
const featPath = join(modelDir, 'mobilenetv2-12-int8-feat.onnx');
const hasModels = existsSync(plainPath) && existsSync(featPath);
if (!hasModels) console.warn(`skipping OrtBackbone int8 tests: ${modelDir} not found (set GRAFT_SHARED_DIR)`);

function info(overrides: Partial<BackboneInfo> & { layout?: Layout; inputSize?: number }): BackboneInfo {
  const { layout = 'nchw', inputSize = 224, ...rest } = overrides;
  return {
    name: 'test',
    source: 'test.onnx',
    format: 'onnx',
    sha256: '0'.repeat(64),
    preprocessing: makePreprocessing({ inputSize, scale: 'imagenet', layout }),
    featureDim: 1280,
    featureOutput: 'graft_features',
    ...rest,
  };
}

/** NHWC model: x [N,16,16,3] -> ReduceMean over H and W -> per-channel means [N,3]. */
function channelMeanModel(): Uint8Array {
  return encodeOnnxModel(
    onnx.ModelProto.create({
      irVersion: 7,
      opsetImport: [{ domain: '', version: 13 }],
      graph: {
        name: 'channel-mean',
        input: [makeFloatValueInfo('x', [null, 16, 16, 3])],
        output: [makeFloatValueInfo('means', [null, 3])],
        node: [makeNode('ReduceMean', ['x'], ['means'], { attributes: { axes: { ints: [1, 2] }, keepdims: { int: 0 } } })],
      },
    }),
  );
}

describe.skipIf(!hasModels)('OrtBackbone on the int8 MobileNetV2', () => {
  it('embeds a batch equal to the reference features output', async () => {
    const exposed = await exposeFeatures(await readOnnxModel(plainPath));
    const backbone = await OrtBackbone.create(encodeOnnxModel(exposed.model), info({ source: plainPath }));
    const count = 2;
    const input = Float32Array.from({ length: count * 3 * 224 * 224 }, (_, i) => Math.sin(i * 0.001) * 2);
    try {
      const features = await backbone.embed(input, count);
      expect(features.length).toBe(count * 1280);
      const reference = await ort.InferenceSession.create(await readFile(featPath), { graphOptimizationLevel: 'all' });
      const out = await reference.run({ input: new ort.Tensor('float32', input, [count, 3, 224, 224]) }, ['features']);
      await reference.release();
      const expected = out.features!.data as Float32Array;
      let maxDiff = 0;
      for (let i = 0; i < features.length; i++) maxDiff = Math.max(maxDiff, Math.abs(features[i]! - expected[i]!));
      expect(maxDiff).toBeLessThanOrEqual(1e-6);
      await expect(backbone.embed(input.subarray(1), count)).rejects.toThrowError(RangeError);
    } finally {
      await backbone.dispose();
      await backbone.dispose(); // idempotent
    }
    await expect(backbone.embed(input, count)).rejects.toThrowError(/disposed/);
  });

  it('names the missing feature output and how to expose it', async () => {
    const error = await OrtBackbone.create(plainPath, info({ source: plainPath })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GraftError);
    expect((error as GraftError).message).toContain('graft_features');
    expect((error as GraftError).message).toContain('output');
    expect((error as GraftError).hint).toContain('--feature-output');
  });
});

describe('OrtBackbone layouts and errors', () => {
  it('feeds NHWC batches as [N, H, W, 3]', async () => {
    const backbone = await OrtBackbone.create(channelMeanModel(), info({ layout: 'nhwc', inputSize: 16, featureDim: 3, featureOutput: 'means' }), {
      intraOpNumThreads: 1,
    });
    try {
      const count = 2;
      const input = new Float32Array(count * 16 * 16 * 3);
      for (let n = 0; n < count; n++) for (let p = 0; p < 256; p++) for (let c = 0; c < 3; c++) input[(n * 256 + p) * 3 + c] = n * 10 + c;
      const features = await backbone.embed(input, count);
      expect(Array.from(features)).toEqual([0, 1, 2, 10, 11, 12]);
    } finally {
      await backbone.dispose();
    }
  });

  it('reports garbage bytes as UNSUPPORTED_MODEL naming the source', async () => {
    const garbage = new TextEncoder().encode('not an onnx model at all');
    const error = await OrtBackbone.create(garbage, info({ source: 'cache/broken.onnx' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GraftError);
    expect((error as GraftError).code).toBe('UNSUPPORTED_MODEL');
    expect((error as GraftError).message).toContain('cache/broken.onnx');
  });
});
