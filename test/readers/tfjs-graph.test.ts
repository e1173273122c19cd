import { existsSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureTfjsBackend } from '../../src/runtime/tfjs-backend.js';
import { GraftError } from '../../src/core/errors.js';
import { exportGraphModelToOnnx } from '../../src/tfjs-to-onnx/graph-model-to-onnx.js';
import {
  extractGraphFeatures,
  graphFeatureNode,
  isGraphModelJson,
  loadGraphModelFromArtifacts,
  loadGraphModelFromDir,
  readGraphModelDir,
  type GraphModelJson,
} from '../../src/readers/tfjs-graph/index.js';
import { loadImageBatch, sharedDir, tempDir } from '../support.js';
import { graphExportVsTfjs } from './graph-export-vs-tfjs.js';

const v1GraphDir = join(sharedDir, 'models/mobilenet-v1-025-tfjs/graph');
const hasV1 = existsSync(join(v1GraphDir, 'model.json'));
if (!hasV1) console.warn(`skipping the MobileNet v1 graph-model test: ${v1GraphDir} not found (set GRAFT_SHARED_DIR)`);
// nsfwjs's MobileNetV2 at width 1.4 (about 4 s) is checked in tfjs-graph.slow.test.ts.
const TOLERANCE = 1e-4;

async function caughtAsync(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  return undefined;
}

beforeAll(async () => {
  await ensureTfjsBackend();
});

describe.skipIf(!hasV1)('TF.js graph model: MobileNet v1 0.25 (old format, ../shared)', () => {
  it('loads from disk, finds global_pool and matches ORT within 1e-4', async () => {
    const model = await loadGraphModelFromDir(v1GraphDir);
    try {
      const { modelJson, weightBytes } = await readGraphModelDir(v1GraphDir);
      expect(modelJson.format).toBeUndefined();
      expect(isGraphModelJson(modelJson)).toBe(true);
      expect(isGraphModelJson({ modelTopology: { class_name: 'Model' }, weightsManifest: [] })).toBe(false);
      const node = graphFeatureNode(modelJson);
      expect(node).toBe('module_apply_default/MobilenetV1/Logits/global_pool');
      const input = await loadImageBatch('0..1', { fit: 'fill' });
      const features = await graphExportVsTfjs(model, modelJson, weightBytes, node, input, 4);
      console.log(`mobilenet v1 0.25 global_pool: dim ${features.dim}, max abs diff ${features.maxAbsDiff.toExponential(2)} (max |feature| ${features.maxAbs.toFixed(2)})`);
      expect(features.dim).toBe(256);
      expect(features.maxAbsDiff).toBeLessThanOrEqual(TOLERANCE);
      const logits = await graphExportVsTfjs(model, modelJson, weightBytes, 'module_apply_default/MobilenetV1/Logits/SpatialSqueeze', input, 4);
      expect(logits.dim).toBe(1001);
      expect(logits.maxAbsDiff).toBeLessThanOrEqual(TOLERANCE);
    } finally {
      model.dispose();
    }
  });
});

/** Builds an in-memory graph model.json + weights from nodes and named constants. */
function graphModel(nodes: object[], consts: Record<string, { shape: number[]; data: number[]; dtype?: 'float32' | 'int32' }>): { modelJson: GraphModelJson; weights: Uint8Array } {
  const buffers: Buffer[] = [];
  const weights = Object.entries(consts).map(([name, c]) => {
    const dtype = c.dtype ?? 'float32';
    buffers.push(Buffer.from((dtype === 'int32' ? Int32Array.from(c.data) : Float32Array.from(c.data)).buffer));
    return { name, shape: c.shape, dtype };
  });
  const constNodes = Object.entries(consts).map(([name, c]) => ({ name, op: 'Const', attr: { dtype: { type: c.dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT' } } }));
  const modelJson = { format: 'graph-model', modelTopology: { node: [...constNodes, ...nodes], versions: {} }, weightsManifest: [{ paths: ['w.bin'], weights }] } as unknown as GraphModelJson;
  return { modelJson, weights: new Uint8Array(Buffer.concat(buffers)) };
}

const s64 = (text: string) => ({ s: Buffer.from(text).toString('base64') });
const ints = (...values: number[]) => ({ list: { i: values.map(String) } });
const seeded = (n: number, seed: number) => Array.from({ length: n }, (_v, i) => Math.sin(i * 12.9898 + seed) * 0.5);

describe('exportGraphModelToOnnx: every supported op against tfjs', () => {
  it('matches tfjs on a synthetic graph (Pad, depthwise x2, fused conv, pools SAME, Sub, BiasAdd, ConcatV2, Mean, Reshape, MatMul^T, Softmax)', async () => {
    const nhwc = s64('NHWC');
    const same = s64('SAME');
    const valid = s64('VALID');
    const one = ints(1, 1, 1, 1);
    const { modelJson, weights } = graphModel(
      [
        { name: 'x', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: [{ size: '-1' }, { size: '11' }, { size: '10' }, { size: '3' }] } } } },
        { name: 'scaled', op: 'Mul', input: ['x', 'two'] },
        { name: 'centred', op: 'Sub', input: ['scaled', 'one'] },
        { name: 'pad', op: 'Pad', input: ['centred', 'paddings'] },
        { name: 'dw', op: 'DepthwiseConv2dNative', input: ['pad', 'dw_w'], attr: { padding: same, strides: ints(1, 2, 2, 1), dilations: one, data_format: nhwc } },
        { name: 'dw_b', op: 'BiasAdd', input: ['dw', 'dw_bias'], attr: { data_format: nhwc } },
        { name: 'dw_r', op: 'Relu', input: ['dw_b'] },
        { name: 'fconv', op: '_FusedConv2D', input: ['dw_r', 'c_w', 'c_b'], attr: { padding: same, strides: ints(1, 1, 1, 1), dilations: one, data_format: nhwc, num_args: { i: '1' }, fused_ops: { list: { s: [s64('BiasAdd').s, s64('Relu6').s] } }, epsilon: { f: 0 } } },
        { name: 'fdw', op: 'FusedDepthwiseConv2dNative', input: ['fconv', 'fdw_w', 'fdw_b'], attr: { padding: valid, strides: one, dilations: one, data_format: nhwc, num_args: { i: '1' }, fused_ops: { list: { s: [s64('BiasAdd').s, s64('Relu').s] } } } },
        { name: 'ap', op: 'AvgPool', input: ['fconv'], attr: { ksize: ints(1, 3, 3, 1), strides: ints(1, 2, 2, 1), padding: same, data_format: nhwc } },
        { name: 'mp', op: 'MaxPool', input: ['fconv'], attr: { ksize: ints(1, 2, 2, 1), strides: ints(1, 2, 2, 1), padding: same, data_format: nhwc } },
        { name: 'sum', op: 'AddV2', input: ['ap', 'mp'] },
        { name: 'cat', op: 'ConcatV2', input: ['sum', 'mp', 'axis'], attr: { N: { i: '2' } } },
        { name: 'gap', op: 'Mean', input: ['cat', 'hw'], attr: { keep_dims: { b: true } } },
        { name: 'sq', op: 'Squeeze', input: ['gap'], attr: { squeeze_dims: ints(1, 2) } },
        { name: 'flat', op: 'Reshape', input: ['fdw', 'flat_shape'] },
        { name: 'logits', op: 'MatMul', input: ['flat', 'fc_t'], attr: { transpose_a: { b: false }, transpose_b: { b: true } } },
        { name: 'both', op: 'ConcatV2', input: ['sq', 'logits', 'last'], attr: { N: { i: '2' } } },
        { name: 'out', op: 'Softmax', input: ['both'] },
        { name: 'Identity', op: 'Identity', input: ['out'] },
      ],
      {
        two: { shape: [], data: [2] },
        one: { shape: [3], data: [1, 0.5, 0.25] },
        paddings: { shape: [4, 2], data: [0, 0, 1, 2, 0, 1, 0, 0], dtype: 'int32' },
        dw_w: { shape: [3, 3, 3, 2], data: seeded(54, 1) },
        dw_bias: { shape: [6], data: seeded(6, 2) },
        c_w: { shape: [3, 3, 6, 4], data: seeded(216, 3) },
        c_b: { shape: [4], data: seeded(4, 4) },
        fdw_w: { shape: [2, 2, 4, 1], data: seeded(16, 5) },
        fdw_b: { shape: [4], data: seeded(4, 6) },
        axis: { shape: [], data: [-1], dtype: 'int32' },
        hw: { shape: [2], data: [1, 2], dtype: 'int32' },
        flat_shape: { shape: [2], data: [-1, 6 * 5 * 4], dtype: 'int32' },
        fc_t: { shape: [3, 120], data: seeded(360, 7) },
        last: { shape: [], data: [1], dtype: 'int32' },
      },
    );
    const model = await loadGraphModelFromArtifacts(modelJson, weights);
    const input = tf.randomUniform([3, 11, 10, 3], 0, 1, 'float32', 9) as tf.Tensor4D;
    for (const node of ['out', 'cat', 'fdw', 'Identity']) {
      const expected = extractGraphFeatures(model, input, node).dataSync();
      const session = await InferenceSession.create(exportGraphModelToOnnx(modelJson, weights, { outputNode: node, inputShape: [11, 10, 3] }));
      const out = (await session.run({ input: new Tensor('float32', input.dataSync() as Float32Array, [3, 11, 10, 3]) }))['graft_features']!;
      expect(out.dims, node).toEqual([3, expected.length / 3]);
      const data = out.data as Float32Array;
      expect(Math.max(...Array.from(data, (v, i) => Math.abs(v - expected[i]!))), node).toBeLessThan(1e-5);
      await session.release();
    }
    tf.dispose(input);
    model.dispose();
  });
});

describe('TF.js graph model folders: malformed input fails clearly and writes nothing', () => {
  /** A small valid graph model folder: one Conv2D + Relu6 + Mean, weights in two shards. */
  async function makeModelDir(): Promise<{ dir: string; json: Record<string, unknown> }> {
    const dir = await tempDir('graft-graph-');
    const filter = Float32Array.from({ length: 3 * 3 * 3 * 4 }, (_v, i) => Math.sin(i));
    const json = {
      format: 'graph-model',
      modelTopology: {
        node: [
          { name: 'x', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: [{ size: '-1' }, { size: '8' }, { size: '8' }, { size: '3' }] } } } },
          { name: 'w', op: 'Const', attr: { dtype: { type: 'DT_FLOAT' } } },
          { name: 'axes', op: 'Const', attr: { dtype: { type: 'DT_INT32' } } },
          {
            name: 'conv',
            op: 'Conv2D',
            input: ['x', 'w'],
            attr: { padding: { s: Buffer.from('SAME').toString('base64') }, strides: { list: { i: ['1', '2', '2', '1'] } }, dilations: { list: { i: ['1', '1', '1', '1'] } }, data_format: { s: Buffer.from('NHWC').toString('base64') } },
          },
          { name: 'relu', op: 'Relu6', input: ['conv'] },
          { name: 'pool', op: 'Mean', input: ['relu', 'axes'], attr: { keep_dims: { b: false } } },
        ],
      },
      weightsManifest: [
        {
          paths: ['group1-shard1of2.bin', 'group1-shard2of2.bin'],
          weights: [
            { name: 'w', shape: [3, 3, 3, 4], dtype: 'float32' },
            { name: 'axes', shape: [2], dtype: 'int32' },
          ],
        },
      ],
    };
    const bytes = Buffer.concat([Buffer.from(filter.buffer), Buffer.from(new Int32Array([1, 2]).buffer)]);
    await writeFile(join(dir, 'model.json'), JSON.stringify(json));
    await writeFile(join(dir, 'group1-shard1of2.bin'), bytes.subarray(0, 100));
    await writeFile(join(dir, 'group1-shard2of2.bin'), bytes.subarray(100));
    return { dir, json };
  }

  it('loads the valid folder, and its export matches tfjs (SAME, stride 2, odd size)', async () => {
    const { dir } = await makeModelDir();
    const model = await loadGraphModelFromDir(dir);
    const { modelJson, weightBytes } = await readGraphModelDir(dir);
    const x = tf.randomUniform([2, 8, 8, 3], -1, 1, 'float32', 3) as tf.Tensor4D;
    const expected = extractGraphFeatures(model, x, 'pool').dataSync();
    const session = await InferenceSession.create(exportGraphModelToOnnx(modelJson, weightBytes, { outputNode: 'pool', inputShape: [8, 8, 3] }));
    const out = (await session.run({ input: new Tensor('float32', x.dataSync() as Float32Array, [2, 8, 8, 3]) }))['graft_features']!;
    expect(out.dims).toEqual([2, 4]);
    const data = out.data as Float32Array;
    expect(Math.max(...Array.from(data, (v, i) => Math.abs(v - expected[i]!)))).toBeLessThan(1e-5);
    await session.release();
    tf.dispose(x);
    model.dispose();
  });

  it.each([
    ['a missing shard', 'MODEL_NOT_FOUND', /group1-shard2of2\.bin/, async (dir: string) => rm(join(dir, 'group1-shard2of2.bin'))],
    ['a short shard', 'INVALID_MODEL_DIR', /group1-shard2of2\.bin \(8 bytes\)/, async (dir: string) => writeFile(join(dir, 'group1-shard2of2.bin'), Buffer.alloc(8))],
    ['a hostile path', 'INVALID_MODEL_DIR', /"\.\.\/\.\.\/x" .* outside the model folder/, async (dir: string, json: Record<string, unknown>) => {
      const manifest = json.weightsManifest as { paths: string[] }[];
      manifest[0]!.paths[1] = '../../x';
      await writeFile(join(dir, 'model.json'), JSON.stringify(json));
    }],
  ] as const)('rejects %s', async (_what, code, pattern, damage) => {
    const { dir, json } = await makeModelDir();
    await damage(dir, json);
    const before = (await readdir(dir)).sort();
    const bytesBefore = await Promise.all(before.map((f) => readFile(join(dir, f))));
    const error = await caughtAsync(loadGraphModelFromDir(dir));
    expect(error).toBeInstanceOf(GraftError);
    expect((error as GraftError).code).toBe(code);
    expect((error as GraftError).message).toMatch(pattern);
    expect((await readdir(dir)).sort()).toEqual(before);
    const bytesAfter = await Promise.all(before.map((f) => readFile(join(dir, f))));
    expect(bytesAfter.map((b) => b.length)).toEqual(bytesBefore.map((b) => b.length));
  });

  it('rejects a layers model.json with a hint', async () => {
    const { dir } = await makeModelDir();
    await writeFile(join(dir, 'model.json'), JSON.stringify({ modelTopology: { class_name: 'Sequential', config: {} }, weightsManifest: [] }));
    const error = await caughtAsync(loadGraphModelFromDir(dir));
    expect((error as GraftError).code).toBe('INVALID_MODEL_DIR');
    expect((error as GraftError).hint).toMatch(/layers model/);
  });
});
