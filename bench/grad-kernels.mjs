// Training throughput with Graft's wasm gradient kernels (src/engine/wasm-grad-kernels), and per-kernel timings.
// Usage: npx tsc -p tsconfig.build.json && node bench/grad-kernels.mjs [steps=10] [--full]
//   (GRAFT_DIST=<dir> runs against another build folder; GRAFT_SHARED_DIR points at ../shared.)
// Prints one JSON line per measurement:
//   {kind:'network'}: img/s of one SGD step (forward + backward + update, batch 8, BN in inference mode) of the
//     TM MobileNetV2 0.35 suffix on cut activations: 'top3' = blocks 14-16 + Conv_1 + GAP + dense on 7x7x56,
//     'top4' = blocks 13-16 (+ the stride-2 depthwise) + head on 14x14x32; with wasm's own Conv2DBackpropInput
//     and with Graft's 1x1 GEMM path. '--full' adds the whole network at 224x224.
//   {kind:'kernel'}: ms per call of each gradient kernel at the suffix's shapes, Graft's vs a naive per-tap
//     composition of tf ops (the DESIGN.md baseline) or wasm's own kernel.
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';

const BATCH = 8;
const steps = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 10);
const withFull = process.argv.includes('--full');
const repoRoot = resolve(fileURLToPath(import.meta.url), '../..');
const dist = resolve(process.env.GRAFT_DIST ?? resolve(repoRoot, 'dist'));
const shared = process.env.GRAFT_SHARED_DIR ?? resolve(repoRoot, '../shared');
const importDist = (p) => import(pathToFileURL(resolve(dist, p)).href);
const { ensureTfjsBackend } = await importDist('runtime/tfjs-backend.js');
const { registerWasmGradKernels } = await importDist('engine/wasm-grad-kernels/index.js');
const { loadLayersModelFromDir } = await importDist('readers/tfjs-layers.js');

if ((await ensureTfjsBackend()) !== 'wasm') throw new Error('bench/grad-kernels.mjs needs the wasm backend');
const wasmConv2DBackpropInput = tf.getKernel('Conv2DBackpropInput', 'wasm');
registerWasmGradKernels();
const graftConv2DBackpropInput = tf.getKernel('Conv2DBackpropInput', 'wasm');
function useConv2DBackpropInput(config) {
  tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
  tf.registerKernel(config);
}

const print = (o) => console.log(JSON.stringify(o));

/** Rebuilds the layers after `cutLayer` on a new input, sharing their weights, and adds GAP + dense. */
function suffixModel(backbone, cutLayer, classes = 5) {
  const layers = backbone.layers;
  const cutAt = layers.findIndex((l) => l.name === cutLayer);
  if (cutAt < 0) throw new Error(`no layer ${cutLayer}`);
  const cutShape = layers[cutAt].outputShape.slice(1);
  const input = tf.input({ shape: cutShape });
  const outputs = new Map([[cutLayer, input]]);
  let last = input;
  for (const layer of layers.slice(cutAt + 1)) {
    const inbound = layer.inboundNodes[0].inboundLayers.map((l) => outputs.get(l.name));
    if (inbound.some((t) => t === undefined)) throw new Error(`${layer.name} reads from before the cut`);
    last = layer.apply(inbound.length === 1 ? inbound[0] : inbound);
    outputs.set(layer.name, last);
  }
  const pooled = tf.layers.globalAveragePooling2d({}).apply(last);
  const logits = tf.layers.dense({ units: classes }).apply(pooled);
  return { model: tf.model({ inputs: input, outputs: logits }), cutShape };
}

function trainStepImgPerSec(model, inputShape) {
  const x = tf.randomNormal([BATCH, ...inputShape], 0, 1, 'float32', 1);
  const labels = tf.tensor1d([0, 1, 2, 3, 4, 0, 1, 2], 'int32');
  const ys = tf.oneHot(labels, 5);
  const optimizer = tf.train.sgd(1e-3);
  const vars = model.trainableWeights.map((w) => w.read());
  const step = () => {
    const loss = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(ys, model.apply(x, { training: false })), true, vars);
    loss.dataSync();
    loss.dispose();
  };
  step(); step(); // warm-up
  const buffersBefore = tf.backend().numDataIds();
  const start = performance.now();
  for (let i = 0; i < steps; i++) step();
  const seconds = (performance.now() - start) / 1000;
  // A kernel that forgot an intermediate would grow the wasm backend's buffers every step.
  const leakedBuffers = tf.backend().numDataIds() - buffersBefore;
  if (leakedBuffers !== 0) print({ kind: 'warning', leakedBuffersOverSteps: leakedBuffers });
  tf.dispose([x, labels, ys]);
  optimizer.dispose();
  return (steps * BATCH) / seconds;
}

/**
 * ms per call of `fn` on fresh copies of `inputs` each call (copied outside the timed region): wasm's
 * BatchMatMul caches XNNPACK's packed right-hand operand by tensor id, so reusing one input would time
 * a cache hit that training (new activations every step) never gets.
 */
function msPerCall(fn, inputs) {
  let calls = 0;
  let timedMs = 0;
  const wall = performance.now();
  for (let i = -2; calls < 3 || performance.now() - wall < 400; i++) {
    const fresh = inputs.map((t) => t.add(0));
    const start = performance.now();
    const out = fn(...fresh);
    (Array.isArray(out) ? out[0] : out).dataSync();
    if (i >= 0) { timedMs += performance.now() - start; calls++; }
    tf.dispose([out, fresh]);
  }
  return timedMs / calls;
}

// Naive compositions from tf ops: one slice, multiply and full reduction per filter tap (DESIGN.md's baseline).
function naiveDepthwiseFilterGrad(x, dy, k, stride) {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const [, ho, wo] = dy.shape;
    const padTotal = Math.max((ho - 1) * stride + k - h, 0);
    const top = Math.floor(padTotal / 2);
    const xp = tf.pad(x, [[0, 0], [top, padTotal - top], [top, padTotal - top], [0, 0]]);
    const taps = [];
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) {
      const tap = tf.stridedSlice(xp, [0, i, j, 0], [n, i + (ho - 1) * stride + 1, j + (wo - 1) * stride + 1, c], [1, stride, stride, 1]);
      taps.push(tap.mul(dy).sum([0, 1, 2]));
    }
    return tf.stack(taps).reshape([k, k, c, 1]);
  });
}
function naiveConvFilterGrad1x1(x, dy) {
  return tf.tidy(() => {
    const [n, h, w, ci] = x.shape;
    const co = dy.shape[3];
    return tf.matMul(x.reshape([n * h * w, ci]), dy.reshape([n * h * w, co]), true, false).reshape([1, 1, ci, co]);
  });
}

const run = (name, inputs, attrs) => tf.engine().runKernel(name, inputs, attrs);

function kernelTimings() {
  const shapes = [
    { at: 'block_14 (7x7)', n: BATCH, hw: 7, c: 336, stride: 1, cin: 56 },
    { at: 'Conv_1 (7x7)', n: BATCH, hw: 7, c: 1280, stride: 1, cin: 112, pointwiseOnly: true },
    { at: 'block_13 (14x14, stride 2)', n: BATCH, hw: 14, c: 192, stride: 2, cin: 32 },
  ];
  for (const s of shapes) {
    const ho = Math.ceil(s.hw / s.stride);
    const x = tf.randomNormal([s.n, s.hw, s.hw, s.c]);
    const dwFilter = tf.randomNormal([3, 3, s.c, 1]);
    const dyDw = tf.randomNormal([s.n, ho, ho, s.c]);
    // Pointwise expand conv: cin -> c at the block's input resolution (Conv_1: 112 -> 1280).
    const xPw = tf.randomNormal([s.n, s.hw, s.hw, s.cin]);
    const wPw = tf.randomNormal([1, 1, s.cin, s.c]);
    const dyPw = tf.randomNormal([s.n, s.hw, s.hw, s.c]);
    const rows = [];
    if (!s.pointwiseOnly) {
      const dwAttrs = { strides: s.stride, pad: 'same', dilations: 1, dataFormat: 'NHWC', filterShape: [3, 3, s.c, 1], inputShape: x.shape };
      rows.push({ kernel: 'DepthwiseConv2dNativeBackpropFilter', graftMs: msPerCall((a, b) => run('DepthwiseConv2dNativeBackpropFilter', { x: a, dy: b }, dwAttrs), [x, dyDw]),
        naiveMs: msPerCall((a, b) => naiveDepthwiseFilterGrad(a, b, 3, s.stride), [x, dyDw]) });
      rows.push({ kernel: 'DepthwiseConv2dNativeBackpropInput', graftMs: msPerCall((a, b) => run('DepthwiseConv2dNativeBackpropInput', { dy: a, filter: b }, dwAttrs), [dyDw, dwFilter]) });
      rows.push({ kernel: 'DepthwiseConv2dNative (forward, for scale)', graftMs: msPerCall((a, b) => tf.depthwiseConv2d(a, b, s.stride, 'same'), [x, dwFilter]) });
    }
    const pwAttrs = { strides: 1, pad: 'valid', dataFormat: 'NHWC', filterShape: [1, 1, s.cin, s.c], inputShape: xPw.shape };
    rows.push({ kernel: 'Conv2DBackpropFilter 1x1', graftMs: msPerCall((a, b) => run('Conv2DBackpropFilter', { x: a, dy: b }, pwAttrs), [xPw, dyPw]),
      naiveMs: msPerCall(naiveConvFilterGrad1x1, [xPw, dyPw]) });
    const graftInput = msPerCall((a, b) => run('Conv2DBackpropInput', { dy: a, filter: b }, pwAttrs), [dyPw, wPw]);
    useConv2DBackpropInput(wasmConv2DBackpropInput);
    const wasmInput = msPerCall((a, b) => run('Conv2DBackpropInput', { dy: a, filter: b }, pwAttrs), [dyPw, wPw]);
    useConv2DBackpropInput(graftConv2DBackpropInput);
    rows.push({ kernel: 'Conv2DBackpropInput 1x1', graftMs: graftInput, wasmOwnMs: wasmInput });
    rows.push({ kernel: 'Conv2D 1x1 (forward, for scale)', graftMs: msPerCall((a, b) => tf.conv2d(a, b, 1, 'valid'), [xPw, wPw]) });
    for (const r of rows) {
      print({ kind: 'kernel', at: s.at, ...r, graftMs: +r.graftMs.toFixed(3),
        ...(r.naiveMs ? { naiveMs: +r.naiveMs.toFixed(3), speedup: +(r.naiveMs / r.graftMs).toFixed(2) } : {}),
        ...(r.wasmOwnMs ? { wasmOwnMs: +r.wasmOwnMs.toFixed(3), speedup: +(r.wasmOwnMs / r.graftMs).toFixed(2) } : {}) });
    }
    tf.dispose([x, dwFilter, dyDw, xPw, wPw, dyPw]);
  }
}

/** MobileNetV2's first conv (3x3, stride 2, after ZeroPadding2D): only whole-network training needs it. */
function firstConvTimings() {
  const x = tf.randomNormal([BATCH, 225, 225, 3]);
  const w = tf.randomNormal([3, 3, 3, 16]);
  const dy = tf.randomNormal([BATCH, 112, 112, 16]);
  const attrs = { strides: 2, pad: 'valid', dataFormat: 'NHWC', filterShape: [3, 3, 3, 16], inputShape: x.shape };
  const naiveFilter = (xi, dyi) => tf.tidy(() => {
    const taps = [];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) {
      const tap = tf.stridedSlice(xi, [0, i, j, 0], [BATCH, i + 223, j + 223, 3], [1, 2, 2, 1]).reshape([-1, 3]);
      taps.push(tf.matMul(tap, dyi.reshape([-1, 16]), true, false));
    }
    return tf.stack(taps).reshape([3, 3, 3, 16]);
  });
  const graftFilter = msPerCall((a, b) => run('Conv2DBackpropFilter', { x: a, dy: b }, attrs), [x, dy]);
  const naive = msPerCall(naiveFilter, [x, dy]);
  print({ kind: 'kernel', at: 'Conv1 (225x225x3, 3x3 stride 2)', kernel: 'Conv2DBackpropFilter 3x3', graftMs: +graftFilter.toFixed(2), naiveMs: +naive.toFixed(2), speedup: +(naive / graftFilter).toFixed(2) });
  const graftInput = msPerCall((a, b) => run('Conv2DBackpropInput', { dy: a, filter: b }, attrs), [dy, w]);
  useConv2DBackpropInput(wasmConv2DBackpropInput);
  const wasmInput = msPerCall((a, b) => run('Conv2DBackpropInput', { dy: a, filter: b }, attrs), [dy, w]);
  useConv2DBackpropInput(graftConv2DBackpropInput);
  print({ kind: 'kernel', at: 'Conv1 (225x225x3, 3x3 stride 2)', kernel: 'Conv2DBackpropInput 3x3', graftMs: +graftInput.toFixed(2), wasmOwnMs: +wasmInput.toFixed(2), speedup: +(wasmInput / graftInput).toFixed(2) });
  tf.dispose([x, w, dy]);
}

const base = await loadLayersModelFromDir(resolve(shared, 'models/tm-mobilenetv2-035/base'));
const backbone = base.layers.find((l) => l instanceof tf.LayersModel) ?? base;
for (const [name, cut] of [['top3', 'block_13_project_BN'], ['top4', 'block_12_add']]) {
  const { model, cutShape } = suffixModel(backbone, cut);
  useConv2DBackpropInput(wasmConv2DBackpropInput);
  const wasmOwn = trainStepImgPerSec(model, cutShape);
  useConv2DBackpropInput(graftConv2DBackpropInput);
  const graft = trainStepImgPerSec(model, cutShape);
  print({ kind: 'network', suffix: name, cut, cutShape, batch: BATCH, steps,
    imgPerSec: +graft.toFixed(1), imgPerSecWithWasmConv2DBackpropInput: +wasmOwn.toFixed(1) });
}
if (withFull) {
  const full = tf.model({ inputs: backbone.inputs, outputs: tf.layers.dense({ units: 5 }).apply(tf.layers.globalAveragePooling2d({}).apply(backbone.outputs[0])) });
  print({ kind: 'network', suffix: 'full', cutShape: [224, 224, 3], batch: BATCH, steps, imgPerSec: +trainStepImgPerSec(full, [224, 224, 3]).toFixed(2) });
}
kernelTimings();
if (withFull) firstConvTimings();
