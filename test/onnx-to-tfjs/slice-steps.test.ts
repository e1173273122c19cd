import * as tf from '@tensorflow/tfjs';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeOnnxModel, decodeOnnxModel, makeFloatValueInfo, makeNode, type NodeProto } from '../../src/onnx/onnx-model.js';
import { importOnnxToTfjs } from '../../src/onnx-to-tfjs/index.js';
import { ensureTfjsBackend } from '../../src/runtime/tfjs-backend.js';
import { initializers, seeded } from '../onnx/onnx-fixtures.js';

beforeAll(async () => {
  await ensureTfjsBackend();
});

/**
 * ONNX Slice with steps (a mirror image is a Slice of step -1 along the width: Graft's test-time augmentation), on
 * image data and on shape data, against onnxruntime: negative and larger steps, negative and out-of-range starts and
 * ends (clamped differently for negative steps), several axes at once.
 */
describe('importOnnxToTfjs: Slice with steps', () => {
  it('gives onnxruntime’s values for every form', async () => {
    const { inits, i64 } = initializers();
    const cases: { name: string; starts: number[]; ends: number[]; axes: number[]; steps: number[] }[] = [
      { name: 'mirror', starts: [-1], ends: [-(2 ** 31)], axes: [3], steps: [-1] },
      { name: 'every_second_row', starts: [0], ends: [100], axes: [2], steps: [2] },
      { name: 'back_by_two', starts: [3], ends: [0], axes: [3], steps: [-2] },
      { name: 'clamped_back', starts: [100], ends: [-100], axes: [2], steps: [-3] },
      { name: 'two_axes', starts: [1, -2], ends: [3, -6], axes: [1, 3], steps: [1, -1] },
      { name: 'empty', starts: [0], ends: [3], axes: [2], steps: [-1] },
    ];
    const nodes: NodeProto[] = cases.map((c) =>
      makeNode('Slice', ['x', i64(`${c.name}_starts`, c.starts), i64(`${c.name}_ends`, c.ends), i64(`${c.name}_axes`, c.axes), i64(`${c.name}_steps`, c.steps)], [c.name]),
    );
    // Shape data, on the host at import: the dims reversed by a Slice of step -1, then x reshaped to them.
    nodes.push(
      makeNode('Shape', ['x'], ['shape']),
      makeNode('Slice', ['shape', i64('r_starts', [-1]), i64('r_ends', [-(2 ** 40)]), i64('r_axes', [0]), i64('r_steps', [-1])], ['reversed_shape']),
      makeNode('Reshape', ['x', 'reversed_shape'], ['reshaped']),
    );
    const outputs = [...cases.map((c) => c.name), 'reshaped'];
    const dims = [2, 3, 4, 5];
    const model = decodeOnnxModel(
      encodeOnnxModel({
        irVersion: 8,
        opsetImport: [{ domain: '', version: 13 }],
        producerName: 'graft-test',
        graph: { name: 'slices', node: nodes, initializer: inits, input: [makeFloatValueInfo('x', dims)], output: outputs.map((o) => makeFloatValueInfo(o, ['d0', 'd1', 'd2', 'd3'])) },
      }),
      'slices',
    );
    const x = seeded(2 * 3 * 4 * 5, 7);
    const session = await InferenceSession.create(encodeOnnxModel(model));
    const expected = await session.run({ x: new Tensor('float32', x, dims) });
    await session.release();
    const graph = importOnnxToTfjs(model, { outputs });
    try {
      const actual = tf.tidy(() => Object.fromEntries(Object.entries(graph.predictAll(tf.tensor(x, dims))).map(([name, t]) => [name, { shape: t.shape, data: Array.from(t.dataSync()) }])));
      for (const name of outputs) {
        expect(actual[name]!.shape, name).toEqual(expected[name]!.dims.map(Number));
        expect(actual[name]!.data, name).toEqual(Array.from(expected[name]!.data as Float32Array));
      }
      expect(expected.empty!.dims.map(Number)).toEqual([2, 3, 0, 5]);
    } finally {
      graph.dispose();
    }
  });
});
