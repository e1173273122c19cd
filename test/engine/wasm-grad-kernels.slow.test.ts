import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureTfjsBackend } from '../../src/runtime/tfjs-backend.js';
import { loadLayersModelFromDir } from '../../src/readers/tfjs-layers.js';
import { sharedDir } from '../support.js';
import {
  registerWasmGradKernels,
  setWasmGradOverrides,
  setWasmSimdLoops,
  wasmGradKernelNames,
} from '../../src/engine/wasm-grad-kernels/index.js';
import { readOnnxModel } from '../../src/onnx/onnx-model.js';
import { importOnnxToTfjs } from '../../src/onnx-to-tfjs/index.js';
import { expectsNativeGemm, int8Model } from '../support.js';

type Pad = 'same' | 'valid' | [[0, 0], [number, number], [number, number], [0, 0]];

interface ConvCase {
  readonly name: string;
  readonly kind: 'conv' | 'depthwise';
  readonly x: [number, number, number, number];
  /** conv: [kh, kw, ci, co]; depthwise: [kh, kw, c, multiplier]. */
  readonly w: [number, number, number, number];
  readonly stride: number;
  readonly pad: Pad;
}

const cases: ConvCase[] = [
  { name: 'conv 1x1 stride 1', kind: 'conv', x: [2, 7, 7, 8], w: [1, 1, 8, 16], stride: 1, pad: 'same' },
  { name: 'conv 1x1 stride 2 valid', kind: 'conv', x: [2, 7, 7, 8], w: [1, 1, 8, 12], stride: 2, pad: 'valid' },
  { name: 'conv 3x3 stride 1 same', kind: 'conv', x: [2, 7, 7, 5], w: [3, 3, 5, 6], stride: 1, pad: 'same' },
  { name: 'conv 3x3 stride 2 same (even)', kind: 'conv', x: [2, 8, 8, 3], w: [3, 3, 3, 8], stride: 2, pad: 'same' },
  { name: 'conv 3x3 stride 2 same (odd)', kind: 'conv', x: [1, 9, 7, 4], w: [3, 3, 4, 5], stride: 2, pad: 'same' },
  { name: 'conv 3x3 stride 2 valid', kind: 'conv', x: [2, 8, 9, 3], w: [3, 3, 3, 4], stride: 2, pad: 'valid' },
  { name: 'conv 3x3 explicit pads', kind: 'conv', x: [1, 6, 6, 3], w: [3, 3, 3, 4], stride: 1, pad: [[0, 0], [1, 0], [0, 2], [0, 0]] },
  { name: 'depthwise 3x3 stride 1 same', kind: 'depthwise', x: [2, 7, 7, 16], w: [3, 3, 16, 1], stride: 1, pad: 'same' },
  { name: 'depthwise 3x3 stride 2 same (even)', kind: 'depthwise', x: [2, 14, 14, 8], w: [3, 3, 8, 1], stride: 2, pad: 'same' },
  { name: 'depthwise 3x3 stride 2 same (odd)', kind: 'depthwise', x: [1, 7, 9, 8], w: [3, 3, 8, 1], stride: 2, pad: 'same' },
  { name: 'depthwise 3x3 stride 2 valid', kind: 'depthwise', x: [2, 9, 8, 4], w: [3, 3, 4, 1], stride: 2, pad: 'valid' },
  { name: 'depthwise 3x3 stride 1 valid', kind: 'depthwise', x: [1, 6, 6, 4], w: [3, 3, 4, 1], stride: 1, pad: 'valid' },
  { name: 'depthwise 5x5 explicit pads', kind: 'depthwise', x: [1, 8, 8, 4], w: [5, 5, 4, 1], stride: 1, pad: [[0, 0], [2, 1], [1, 2], [0, 0]] },
  { name: 'depthwise 3x3 multiplier 2', kind: 'depthwise', x: [2, 6, 6, 3], w: [3, 3, 3, 2], stride: 2, pad: 'same' },
  { name: 'depthwise 3x3 stride 2 same, 6 channels (no SIMD loop)', kind: 'depthwise', x: [2, 9, 9, 6], w: [3, 3, 6, 1], stride: 2, pad: 'same' },
  { name: 'depthwise 3x3 stride 2 explicit pads', kind: 'depthwise', x: [1, 10, 9, 8], w: [3, 3, 8, 1], stride: 2, pad: [[0, 0], [0, 1], [1, 1], [0, 0]] },
  { name: 'conv 3x3 stride 2 same, 3 -> 32 (first-conv shape)', kind: 'conv', x: [1, 16, 16, 3], w: [3, 3, 3, 32], stride: 2, pad: 'same' },
];

function randomArray(size: number, seed: number): Float32Array {
  // A small LCG keeps the cases reproducible without a tfjs seed (which differs per backend).
  let state = seed >>> 0;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state / 2 ** 31 - 1;
  }
  return out;
}

const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Gradients of sum(conv(x, w) * upstream) with respect to x and w, on the active backend. */
function convGradients(c: ConvCase, seed: number): { dx: Float32Array; dw: Float32Array } {
  return tf.tidy(() => {
    const x = tf.tensor4d(randomArray(sizeOf(c.x), seed), c.x);
    const w = tf.tensor4d(randomArray(sizeOf(c.w), seed + 1), c.w);
    const forward = (xi: tf.Tensor4D, wi: tf.Tensor4D): tf.Tensor4D => c.kind === 'conv'
      ? tf.conv2d(xi, wi, c.stride, c.pad)
      : tf.depthwiseConv2d(xi, wi, c.stride, c.pad);
    const outShape = forward(x, w).shape;
    const upstream = tf.tensor(randomArray(sizeOf(outShape), seed + 2), outShape);
    const [dx, dw] = tf.grads((xi: tf.Tensor, wi: tf.Tensor) => forward(xi as tf.Tensor4D, wi as tf.Tensor4D).mul(upstream).sum())([x, w]);
    return { dx: dx!.dataSync() as Float32Array, dw: dw!.dataSync() as Float32Array };
  });
}

/** Runs `body` with Graft's SIMD loops switched on or off (the XNNPACK compositions), then back on. */
function withSimdLoops<T>(on: boolean, body: () => T): T {
  setWasmSimdLoops(on);
  try {
    return body();
  } finally {
    setWasmSimdLoops(true);
  }
}

function relativeError(actual: Float32Array, expected: Float32Array): number {
  expect(actual.length).toBe(expected.length);
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < expected.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(actual[i]! - expected[i]!));
    maxRef = Math.max(maxRef, Math.abs(expected[i]!));
  }
  return maxDiff / Math.max(maxRef, 1e-12);
}

describe('wasm gradient kernels', () => {
  beforeAll(async () => {
    expect(await ensureTfjsBackend()).toBe('wasm');
  });

  it('registers nothing on import, then registers idempotently', () => {
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();
    registerWasmGradKernels();
    const first = wasmGradKernelNames.map((name) => tf.getKernel(name, 'wasm')?.kernelFunc);
    registerWasmGradKernels();
    const second = wasmGradKernelNames.map((name) => tf.getKernel(name, 'wasm')?.kernelFunc);
    expect(first.every((f) => f !== undefined)).toBe(true);
    expect(second).toEqual(first);
  });

  it.each(cases.flatMap((c) => [{ ...c, simd: true }, { ...c, simd: false }]))('$name (SIMD loops $simd): wasm gradients equal the cpu backend\'s', async (c) => {
    registerWasmGradKernels();
    await tf.setBackend('cpu');
    const expected = convGradients(c, 7);
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const dataIdsBefore = tf.backend().numDataIds();
    const actual = withSimdLoops(c.simd, () => convGradients(c, 7));
    // Both the engine's tensors and the backend's buffers: the kernels free their intermediates.
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.backend().numDataIds()).toBe(dataIdsBefore);
    expect(relativeError(actual.dw, expected.dw)).toBeLessThanOrEqual(1e-4);
    expect(relativeError(actual.dx, expected.dx)).toBeLessThanOrEqual(1e-4);
  });

  it.each([
    { name: 'broadcast [1,1,1,C] to [N,H,W,C]', shape: [1, 1, 1, 6], reps: [2, 3, 4, 1] },
    { name: 'broadcast on inner axes', shape: [2, 1, 3, 1], reps: [1, 4, 1, 5] },
    { name: 'a real tile (falls back to wasm\'s kernel)', shape: [2, 3], reps: [2, 3] },
  ])('Tile $name equals the cpu backend', async ({ shape, reps }) => {
    registerWasmGradKernels();
    const values = randomArray(sizeOf(shape), 11);
    await tf.setBackend('cpu');
    const expected = tf.tidy(() => tf.tile(tf.tensor(values, shape), reps).dataSync() as Float32Array);
    await tf.setBackend('wasm');
    const actual = tf.tidy(() => tf.tile(tf.tensor(values, shape), reps).dataSync() as Float32Array);
    expect(Array.from(actual)).toEqual(Array.from(expected));
  });

  it('batch-norm gradients (which tile) equal the cpu backend\'s', async () => {
    registerWasmGradKernels();
    const shape: [number, number, number, number] = [2, 5, 5, 6];
    const grads = (): Float32Array[] => tf.tidy(() => {
      const x = tf.tensor4d(randomArray(sizeOf(shape), 21), shape);
      const scale = tf.tensor1d(randomArray(6, 22));
      const offset = tf.tensor1d(randomArray(6, 23));
      const mean = tf.tensor1d(randomArray(6, 24));
      const variance = tf.tensor1d(randomArray(6, 25)).abs().add(0.5);
      const upstream = tf.tensor4d(randomArray(sizeOf(shape), 26), shape);
      const f = (xi: tf.Tensor, si: tf.Tensor, oi: tf.Tensor): tf.Scalar =>
        tf.batchNorm(xi as tf.Tensor4D, mean, variance, oi as tf.Tensor1D, si as tf.Tensor1D, 1e-3).mul(upstream).sum();
      return tf.grads(f)([x, scale, offset]).map((g) => g.dataSync() as Float32Array);
    });
    await tf.setBackend('cpu');
    const expected = grads();
    await tf.setBackend('wasm');
    const actual = grads();
    actual.forEach((a, i) => expect(relativeError(a, expected[i]!)).toBeLessThanOrEqual(1e-4));
  });

  const tmBase = join(sharedDir, 'models/tm-mobilenetv2-035/base');
  it.skipIf(!existsSync(join(tmBase, 'model.json')))('real weights: MobileNetV2 0.35 blocks 14-16 + Conv_1 gradients equal the cpu backend\'s', async () => {
    registerWasmGradKernels();
    const loaded = await loadLayersModelFromDir(tmBase);
    const backbone = (loaded.layers.find((l) => l instanceof tf.LayersModel) as tf.LayersModel | undefined) ?? loaded;
    // Rebuild the layers after the cut on a new 7x7x56 input, sharing their weights.
    const cutAt = backbone.layers.findIndex((l) => l.name === 'block_13_project_BN');
    const input = tf.input({ shape: [7, 7, 56] });
    const outputs = new Map<string, tf.SymbolicTensor>([['block_13_project_BN', input]]);
    let last = input;
    for (const layer of backbone.layers.slice(cutAt + 1)) {
      const inbound = layer.inboundNodes[0]!.inboundLayers.map((l) => outputs.get(l.name)!);
      last = layer.apply(inbound.length === 1 ? inbound[0]! : inbound) as tf.SymbolicTensor;
      outputs.set(layer.name, last);
    }
    const suffix = tf.model({ inputs: input, outputs: last });
    const xValues = randomArray(2 * 7 * 7 * 56, 31);
    const grads = (): Float32Array[] => tf.tidy(() => {
      const x = tf.tensor4d(xValues, [2, 7, 7, 56]);
      const upstream = tf.tensor4d(randomArray(2 * 7 * 7 * 1280, 32), [2, 7, 7, 1280]);
      const { grads: g } = tf.variableGrads(() => (suffix.apply(x, { training: false }) as tf.Tensor).mul(upstream).sum() as tf.Scalar,
        suffix.trainableWeights.map((w) => w.read() as tf.Variable));
      return Object.values(g).map((t) => t.dataSync() as Float32Array);
    });
    await tf.setBackend('cpu');
    const expected = grads();
    await tf.setBackend('wasm');
    const actual = grads();
    expect(actual.length).toBe(suffix.trainableWeights.length);
    actual.forEach((a, i) => expect(relativeError(a, expected[i]!)).toBeLessThanOrEqual(1e-4));
    loaded.dispose();
  });

  it('trains a tiny conv -> depthwise -> BN -> relu6 -> GAP -> dense model on wasm', async () => {
    registerWasmGradKernels();
    await tf.setBackend('wasm');
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [12, 12, 3], filters: 8, kernelSize: 3, strides: 2, padding: 'same', useBias: false, kernelInitializer: 'glorotUniform' }),
        tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false }),
        tf.layers.batchNormalization(),
        tf.layers.reLU({ maxValue: 6 }),
        tf.layers.globalAveragePooling2d({}),
        tf.layers.dense({ units: 2, activation: 'softmax' }),
      ],
    });
    model.compile({ optimizer: tf.train.adam(0.05), loss: 'categoricalCrossentropy' });
    const xs = tf.tensor4d(randomArray(8 * 12 * 12 * 3, 3), [8, 12, 12, 3]);
    // Class 1 images are brighter: learnable by the conv layers in a few steps.
    const labels = [0, 1, 0, 1, 1, 0, 1, 0];
    const shifted = tf.tidy(() => xs.add(tf.tensor1d(labels).reshape([8, 1, 1, 1]).mul(0.8)));
    const ys = tf.oneHot(tf.tensor1d(labels, 'int32'), 2);
    const losses: number[] = [];
    for (let step = 0; step < 8; step++) {
      const loss = await model.trainOnBatch(shifted, ys);
      losses.push(loss as number);
    }
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.8);
    tf.dispose([xs, shifted, ys]);
    model.dispose();
  });
});

/**
 * Runs `compute` on the cpu backend, then on wasm checking that wasm's kernels freed what they made (the
 * second wasm run: the first moves variables read on cpu back to wasm).
 */
async function onCpuAndWasm(compute: () => Float32Array[]): Promise<{ expected: Float32Array[]; actual: Float32Array[] }> {
  await tf.setBackend('cpu');
  const expected = compute();
  await tf.setBackend('wasm');
  compute();
  const tensorsBefore = tf.memory().numTensors;
  const dataIdsBefore = tf.backend().numDataIds();
  const actual = compute();
  expect(tf.memory().numTensors).toBe(tensorsBefore);
  expect(tf.backend().numDataIds()).toBe(dataIdsBefore);
  return { expected, actual };
}

const nativeModes = expectsNativeGemm ? [false, true] : [false];

describe('wasm kernels for imported graphs', () => {
  beforeAll(async () => {
    expect(await ensureTfjsBackend()).toBe('wasm');
    registerWasmGradKernels();
  });

  // [m, k, n] of op(A)·op(B): generic, tall-skinny (Graft's streaming A^T·B loop; rows not a multiple of 4),
  // n not a multiple of 4, a wide A (A^T·B as (B^T·A)^T), and one big enough for the native GEMM.
  const products: [number, number, number][] = [[13, 24, 20], [6, 1030, 12], [7, 515, 10], [40, 64, 3], [64, 48, 1100]];
  const matMulCases = products.flatMap(([m, k, n]) => [false, true].flatMap((ta) => [false, true].flatMap((tb) =>
    nativeModes.map((native) => ({ m, k, n, ta, tb, native })))));
  it.each(matMulCases)('matMul [$m,$k]x[$k,$n] transposeA=$ta transposeB=$tb nativeGemm=$native equals the cpu backend', async ({ m, k, n, ta, tb, native }) => {
    const a = randomArray(m * k, 51);
    const b = randomArray(k * n, 52);
    registerWasmGradKernels({ nativeGemm: native });
    try {
      const { expected, actual } = await onCpuAndWasm(() => tf.tidy(() => [
        tf.matMul(tf.tensor2d(a, ta ? [k, m] : [m, k]), tf.tensor2d(b, tb ? [n, k] : [k, n]), ta, tb).dataSync() as Float32Array,
      ]));
      expect(relativeError(actual[0]!, expected[0]!)).toBeLessThanOrEqual(1e-5);
    } finally {
      registerWasmGradKernels({ nativeGemm: false });
    }
  });

  it('batched matMul with transposes (wasm\'s own kernel) equals the cpu backend', async () => {
    const a = randomArray(2 * 6 * 5, 53);
    const b = randomArray(2 * 7 * 6, 54);
    const { expected, actual } = await onCpuAndWasm(() => tf.tidy(() => [
      tf.matMul(tf.tensor3d(a, [2, 6, 5]), tf.tensor3d(b, [2, 7, 6]), true, true).dataSync() as Float32Array,
    ]));
    expect(relativeError(actual[0]!, expected[0]!)).toBeLessThanOrEqual(1e-5);
  });

  it.each([
    { name: 'leading axes of NHWC (a bias gradient)', shape: [3, 5, 7, 8], axes: [0, 1, 2], keepDims: false },
    { name: 'leading axes, keepDims', shape: [3, 5, 7, 8], axes: [0, 1, 2], keepDims: true },
    { name: 'negative leading axes', shape: [3, 5, 12], axes: [-3, -2], keepDims: false },
    { name: 'axis 0 of a tall matrix', shape: [1030, 12], axes: [0], keepDims: false },
    { name: 'leading axes, inner size not a multiple of 4 (wasm\'s kernel)', shape: [2, 3, 5], axes: [0, 1], keepDims: false },
    { name: 'inner axes (wasm\'s kernel)', shape: [3, 5, 7, 8], axes: [1, 2], keepDims: true },
  ])('Sum over $name equals the cpu backend', async ({ shape, axes, keepDims }) => {
    const values = randomArray(sizeOf(shape), 61);
    const { expected, actual } = await onCpuAndWasm(() => tf.tidy(() => {
      const s = tf.sum(tf.tensor(values, shape), axes, keepDims);
      return [s.dataSync() as Float32Array, new Float32Array(s.shape)];
    }));
    expect(Array.from(actual[1]!)).toEqual(Array.from(expected[1]!));
    expect(relativeError(actual[0]!, expected[0]!)).toBeLessThanOrEqual(1e-5);
  });

  it('Identity and same-dtype Cast share data; the buffer is freed with the last tensor', async () => {
    await tf.setBackend('wasm');
    const before = tf.backend().numDataIds();
    const x = tf.tensor1d([1.5, -2, 3]);
    const copy = tf.clone(x);
    const same = tf.cast(x, 'float32');
    const ints = tf.cast(x, 'int32');
    expect(tf.backend().numDataIds()).toBe(before + 2); // x's buffer (shared 3 ways) and the int32 one
    expect(Array.from(copy.dataSync())).toEqual([1.5, -2, 3]);
    expect(Array.from(same.dataSync())).toEqual([1.5, -2, 3]);
    expect(Array.from(ints.dataSync())).toEqual([1, -2, 3]);
    x.dispose();
    expect(Array.from(copy.dataSync())).toEqual([1.5, -2, 3]);
    copy.dispose();
    same.dispose();
    ints.dispose();
    expect(tf.backend().numDataIds()).toBe(before);
  });

  // Values on the clamp boundaries are included: tfjs's gradients pass dy at x == min and x == max for
  // ClipByValue, at x == 6 but not at x == 0 for Relu6, and not at 0 for Relu.
  const boundaries = [-1, 0.5, 0, 6, 1, -3];
  it.each([
    { op: 'clipByValue(-1, 0.5)', f: (x: tf.Tensor) => tf.clipByValue(x, -1, 0.5) },
    { op: 'relu6', f: (x: tf.Tensor) => tf.relu6(x) },
    { op: 'relu', f: (x: tf.Tensor) => tf.relu(x) },
  ].flatMap((c) => [true, false].map((overrides) => ({ ...c, overrides }))))('$op gradient (overrides $overrides) equals the cpu backend\'s', async ({ f, overrides }) => {
    const shape = [2, 5, 3, 7]; // 210 values: the SIMD loop and its scalar tail
    const values = randomArray(sizeOf(shape), 71).map((v) => v * 8);
    values.set(boundaries, 100);
    const upstream = randomArray(sizeOf(shape), 72);
    setWasmGradOverrides(overrides);
    try {
      const { expected, actual } = await onCpuAndWasm(() => tf.tidy(() => {
        const u = tf.tensor(upstream, shape);
        return [tf.grad((x: tf.Tensor) => f(x).mul(u).sum())(tf.tensor(values, shape)).dataSync() as Float32Array];
      }));
      // Exactly equal (masked entries are +0 here where tfjs's dy * 0 may give -0).
      expect(relativeError(actual[0]!, expected[0]!)).toBe(0);
    } finally {
      setWasmGradOverrides(true);
    }
  });

  it.skipIf(!existsSync(int8Model)).each(nativeModes)('real weights: int8 MobileNetV2 1.0 imported, blocks 14-16 + last conv (nativeGemm=%s), gradients equal the cpu backend\'s', async (native) => {
    await tf.setBackend('wasm');
    // Block 13's output (7x7x160) is the cut; the pooled 1280-d features are the output.
    const graph = importOnnxToTfjs(await readOnnxModel(int8Model), { input: '597_quantized', outputs: ['464_quantized'] });
    const xValues = randomArray(2 * 160 * 7 * 7, 81).map((v) => v * 3);
    const upstream = randomArray(2 * 1280, 82);
    registerWasmGradKernels({ nativeGemm: native });
    try {
      const { expected, actual } = await onCpuAndWasm(() => tf.tidy(() => {
        const x = tf.tensor4d(xValues, [2, 160, 7, 7]);
        const u = tf.tensor4d(upstream, [2, 1280, 1, 1]);
        const { grads } = tf.variableGrads(() => graph.predict(x, { training: true }).mul(u).sum() as tf.Scalar, graph.trainableVariables());
        return graph.trainableVariables().map((v) => grads[v.name]!.dataSync() as Float32Array);
      }));
      expect(actual.length).toBe(graph.trainableVariables().length);
      actual.forEach((a, i) => expect(relativeError(a, expected[i]!)).toBeLessThanOrEqual(1e-4));
    } finally {
      registerWasmGradKernels({ nativeGemm: false });
      graph.dispose();
    }
  });
});
