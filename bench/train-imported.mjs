// Fine-tuning throughput of IMPORTED ONNX graphs (importOnnxToTfjs) on tfjs-wasm: the training graph of issue 4.
// Usage: npx tsc -p tsconfig.build.json && node bench/train-imported.mjs [steps=5] [--only=int8-top3,tm-full,...]
//          [--profile] [--no-without] [--ablate] [--pytorch]
//   (GRAFT_DIST=<dir> runs against another build folder; GRAFT_SHARED_DIR points at ../shared.)
// Configurations (one SGD step: forward + backward + update, batch 8, softmax cross-entropy on a new dense head
// over the pooled features; BatchNorm and quantized ranges in inference mode):
//   int8-top3  MobileNetV2 1.0 int8 (mobilenetv2-12-int8.onnx, imported as float): blocks 14-16 + last 1x1 conv +
//              pooling on cached cut activations (block 13's output '597_quantized', [8,160,7,7])
//   int8-full  the same model, whole network on [8,3,224,224]
//   tm-top3    Teachable Machine MobileNetV2 0.35 exported to ONNX (exportLayersModelToOnnx, as open-backbone.ts
//              does), blocks 14-16 + Conv_1 on 'block_13_project_BN' ([8,7,7,56], the export's NHWC input)
//   tm-full    the same model, whole network on [8,224,224,3]
// Prints one JSON line per measurement:
//   {kind:'network'}: img/s with registerWasmGradKernels(); `imgPerSecNativeGemm` with registerWasmGradKernels({
//     nativeGemm: 1 }) (onnxruntime's native GEMM for big matrix products, one thread; --no-native skips it);
//     `withoutGraftKernels` is the rate (or the error) with wasm's own kernels only (restored in the same process).
//     All are timed in alternation, `rounds` times (--rounds=N, default 2); medians are printed.
//   {kind:'ablation'} (--ablate): img/s with one of Graft's kernels switched back to wasm's own (or to tfjs's
//     default gradient), interleaved with the all-on rate.
//   {kind:'profile'} (--profile): ms per step by kernel name (tf.profile; each name's smallest total over 3 steps),
//     largest first, then the largest single calls. With the native GEMM available, also profiled with it.
//   {kind:'pytorch'} (--pytorch): /usr/bin/python3 ../shared/reference/pytorch_baseline.py --only train, run after
//     Graft's timings (never concurrently), and the ratios against the issue 4 targets.
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';

const BATCH = 8;
const CLASSES = 5;
const steps = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 5);
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7).split(',');
const withProfile = process.argv.includes('--profile');
const withWithout = !process.argv.includes('--no-without');
const withAblation = process.argv.includes('--ablate');
const withPytorch = process.argv.includes('--pytorch');
const withNative = !process.argv.includes('--no-native');
const rounds = Number(process.argv.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 2);
const profileSteps = 3;
const repoRoot = resolve(fileURLToPath(import.meta.url), '../..');
const dist = resolve(process.env.GRAFT_DIST ?? resolve(repoRoot, 'dist'));
const shared = process.env.GRAFT_SHARED_DIR ?? resolve(repoRoot, '../shared');
const importDist = (p) => import(pathToFileURL(resolve(dist, p)).href);
const { ensureTfjsBackend } = await importDist('runtime/tfjs-backend.js');
const gradKernels = await importDist('engine/wasm-grad-kernels/index.js');
const { loadLayersModelFromDir } = await importDist('readers/tfjs-layers.js');
const { exportLayersModelToOnnx } = await importDist('tfjs-to-onnx/layers-model-to-onnx.js');
const { decodeOnnxModel } = await importDist('onnx/onnx-model.js');
const { importOnnxToTfjs } = await importDist('onnx-to-tfjs/index.js');

const print = (o) => console.log(JSON.stringify(o));
if ((await ensureTfjsBackend()) !== 'wasm') throw new Error('bench/train-imported.mjs needs the wasm backend');

// Kernel configs before and after registration, so that both can be put in place in one process.
const names = [...gradKernels.wasmGradKernelNames];
const snapshot = () => new Map(names.map((n) => [n, tf.getKernel(n, 'wasm')]));
const wasmOwn = snapshot();
gradKernels.registerWasmGradKernels();
const graftAll = snapshot();
function useKernels(pick) {
  for (const n of names) {
    const config = pick(n);
    if (tf.getKernel(n, 'wasm') === config) continue;
    if (tf.getKernel(n, 'wasm') !== undefined) tf.unregisterKernel(n, 'wasm');
    if (config !== undefined) tf.registerKernel(config);
  }
}
const useGraft = () => useKernels((n) => graftAll.get(n));
const useWasmOwn = () => useKernels((n) => wasmOwn.get(n));
// Gradients Graft overrides (tf.registerGradient) are switched by the module's own toggle, when it has one.
const setGradientOverrides = (on) => gradKernels.setWasmGradOverrides?.(on);
// registerWasmGradKernels({ nativeGemm }) routes big matrix products to onnxruntime's native GEMM (opt-in).
const hasNative = withNative && gradKernels.isNativeGemmAvailable?.() === true;

async function int8Model() {
  return decodeOnnxModel(await readFile(resolve(shared, 'models/mobilenetv2-int8-onnx/mobilenetv2-12-int8.onnx')), 'mobilenetv2-12-int8.onnx');
}
async function tmModel() {
  const layers = await loadLayersModelFromDir(resolve(shared, 'models/tm-mobilenetv2-035/base'));
  const bytes = exportLayersModelToOnnx(layers, { featureOutputName: 'graft_features' });
  layers.dispose();
  return decodeOnnxModel(bytes, 'tm-mobilenetv2-035');
}

const configs = [
  { name: 'int8-top3', model: int8Model, cut: '597_quantized', features: '464_quantized', imageShape: [3, 224, 224] },
  { name: 'int8-full', model: int8Model, features: '464_quantized', imageShape: [3, 224, 224] },
  { name: 'tm-top3', model: tmModel, cut: 'block_13_project_BN', features: 'graft_features', imageShape: [224, 224, 3] },
  { name: 'tm-full', model: tmModel, features: 'graft_features', imageShape: [224, 224, 3] },
].filter((c) => !only || only.includes(c.name));

/** Everything one configuration's step needs: the imported graph, its input batch, the head and the optimizer. */
async function prepare(config) {
  const model = await config.model();
  const images = tf.randomUniform([BATCH, ...config.imageShape], -1, 1, 'float32', 1);
  let x = images;
  if (config.cut) {
    // Cached cut activations: what the frozen prefix produces for these images, in ONNX layout.
    const prefix = importOnnxToTfjs(model, { outputs: [config.cut] });
    x = tf.tidy(() => prefix.predict(images));
    prefix.dispose();
    images.dispose();
  }
  const graph = importOnnxToTfjs(model, config.cut ? { input: config.cut, outputs: [config.features] } : { outputs: [config.features] });
  const featureDim = tf.tidy(() => graph.predict(x.slice(0, 1)).size);
  const w = tf.variable(tf.randomNormal([featureDim, CLASSES], 0, 0.01, 'float32', 2), true, `${config.name}/head/w`);
  const b = tf.variable(tf.zeros([CLASSES]), true, `${config.name}/head/b`);
  const ys = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 0, 1, 2], 'int32'), CLASSES);
  const optimizer = tf.train.sgd(1e-3);
  const vars = [...graph.trainableVariables(), w, b];
  const loss = () => {
    const features = tf.reshape(graph.predict(x, { training: true }), [BATCH, featureDim]);
    return tf.losses.softmaxCrossEntropy(ys, tf.add(tf.matMul(features, w), b));
  };
  const step = () => {
    const value = optimizer.minimize(loss, true, vars);
    value.dataSync();
    value.dispose();
  };
  const dispose = () => {
    graph.dispose();
    optimizer.dispose();
    tf.dispose([x, w, b, ys]);
  };
  return { step, dispose, inputShape: x.shape, trainable: vars.length, featureDim };
}

/** img/s over `steps` steps after one warm-up step; throws what the step throws. */
function imgPerSec(step, count = steps) {
  step();
  const buffersBefore = tf.backend().numDataIds();
  const start = performance.now();
  for (let i = 0; i < count; i++) step();
  const seconds = (performance.now() - start) / 1000;
  // A kernel that forgot an intermediate would grow the wasm backend's buffers every step.
  const leaked = tf.backend().numDataIds() - buffersBefore;
  if (leaked !== 0) print({ kind: 'warning', leakedBuffersOverSteps: leaked });
  return (count * BATCH) / seconds;
}

function tryRate(step) {
  try {
    return imgPerSec(step);
  } catch (error) {
    // A gradient that throws leaves tfjs's tape behind with every tensor the forward pass saved (engine.gradients
    // clears it only on success): free them, or the next configurations run out of wasm memory.
    const engine = tf.engine();
    for (const node of engine.state.activeTape ?? []) for (const t of node.saved ?? []) t.dispose();
    engine.state.activeTape = null;
    return String(error instanceof Error ? error.message : error).slice(0, 160);
  }
}

const round1 = (v) => (typeof v === 'number' ? +v.toFixed(2) : v);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * ms per step by kernel name: tf.profile over `profileSteps` steps, keeping each kernel name's smallest per-step
 * total (the machine is shared: a preempted kernel otherwise dominates), and the largest single calls of the last.
 */
async function profileStep(name, step) {
  const best = new Map();
  let info;
  for (let s = 0; s < profileSteps; s++) {
    info = await tf.profile(() => step());
    const perName = new Map();
    for (const k of info.kernels) {
      const e = perName.get(k.name) ?? { ms: 0, calls: 0 };
      e.ms += k.kernelTimeMs;
      e.calls++;
      perName.set(k.name, e);
    }
    for (const [n, e] of perName) if (!best.has(n) || best.get(n).ms > e.ms) best.set(n, e);
  }
  const rows = [...best.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const total = rows.reduce((t, [, e]) => t + e.ms, 0);
  print({ kind: 'profile', config: name, steps: profileSteps, kernelMsTotal: +total.toFixed(1), kernels: rows.length,
    byKernel: Object.fromEntries(rows.map(([n, e]) => [n, `${e.ms.toFixed(1)} ms / ${e.calls}`])) });
  const bigCalls = info.kernels.filter((k) => k.kernelTimeMs > total / 60).sort((a, b) => b.kernelTimeMs - a.kernelTimeMs).slice(0, 12);
  for (const k of bigCalls) print({ kind: 'profile-call', config: name, kernel: k.name, ms: +k.kernelTimeMs.toFixed(2), inputShapes: k.inputShapes.map((sh) => sh?.join('x')).join(' | ') });
}

const results = {};
const nativeResults = {};
for (const config of configs) {
  useGraft();
  setGradientOverrides(true);
  const prepared = await prepare(config);
  const graft = [];
  const native = [];
  const own = [];
  for (let r = 0; r < rounds; r++) {
    useGraft();
    setGradientOverrides(true);
    graft.push(imgPerSec(prepared.step));
    if (hasNative) {
      gradKernels.registerWasmGradKernels({ nativeGemm: 1 });
      native.push(imgPerSec(prepared.step));
      gradKernels.registerWasmGradKernels({ nativeGemm: false });
    }
    if (withWithout && (r === 0 || typeof own[0] === 'number')) {
      useWasmOwn();
      setGradientOverrides(false);
      own.push(tryRate(prepared.step));
      useGraft();
      setGradientOverrides(true);
    }
  }
  results[config.name] = median(graft);
  if (hasNative) nativeResults[config.name] = median(native);
  print({ kind: 'network', config: config.name, inputShape: prepared.inputShape, batch: BATCH, steps, rounds,
    trainableVariables: prepared.trainable, imgPerSec: round1(median(graft)), runs: graft.map(round1),
    ...(hasNative ? { imgPerSecNativeGemm: round1(median(native)), nativeRuns: native.map(round1) } : {}),
    ...(withWithout ? { withoutGraftKernels: typeof own[0] === 'string' ? own[0] : round1(median(own)) } : {}) });
  if (withAblation) {
    for (const n of names.filter((k) => graftAll.get(k) !== wasmOwn.get(k))) {
      const on = [];
      const off = [];
      for (let r = 0; r < rounds; r++) {
        on.push(imgPerSec(prepared.step));
        useKernels((k) => (k === n ? wasmOwn.get(k) : graftAll.get(k)));
        off.push(tryRate(prepared.step));
        useGraft();
      }
      print({ kind: 'ablation', config: config.name, without: n, imgPerSec: round1(median(on)), imgPerSecWithout: typeof off[0] === 'string' ? off[0] : round1(median(off)) });
    }
    if (gradKernels.setWasmSimdLoops) {
      const on = [];
      const off = [];
      for (let r = 0; r < rounds; r++) {
        on.push(imgPerSec(prepared.step));
        gradKernels.setWasmSimdLoops(false);
        off.push(imgPerSec(prepared.step));
        gradKernels.setWasmSimdLoops(true);
      }
      print({ kind: 'ablation', config: config.name, without: 'SIMD loops', imgPerSec: round1(median(on)), imgPerSecWithout: round1(median(off)) });
    }
    if (gradKernels.setWasmGradOverrides) {
      const on = [];
      const off = [];
      for (let r = 0; r < rounds; r++) {
        on.push(imgPerSec(prepared.step));
        setGradientOverrides(false);
        off.push(imgPerSec(prepared.step));
        setGradientOverrides(true);
      }
      print({ kind: 'ablation', config: config.name, without: 'gradient overrides', imgPerSec: round1(median(on)), imgPerSecWithout: round1(median(off)) });
    }
  }
  if (withProfile) {
    await profileStep(config.name, prepared.step);
    if (hasNative) {
      gradKernels.registerWasmGradKernels({ nativeGemm: 1 });
      await profileStep(`${config.name}+nativeGemm`, prepared.step);
      gradKernels.registerWasmGradKernels({ nativeGemm: false });
    }
  }
  prepared.dispose();
}

if (withPytorch) {
  const script = resolve(shared, 'reference/pytorch_baseline.py');
  const folder = resolve(shared, 'datasets/hymenoptera/train');
  const out = execFileSync('/usr/bin/python3', [script, folder, '--only', 'train'], { encoding: 'utf8', maxBuffer: 1 << 20 });
  const torch = JSON.parse(out.trim().split('\n').at(-1));
  print({ kind: 'pytorch', ...torch });
  const ratio = (graft, ref) => (graft === undefined ? undefined : +(graft / ref).toFixed(2));
  print({ kind: 'targets', top3Target: 1.5, fullTarget: 0.5,
    top3VsTorchTop: ratio(results['int8-top3'], torch.finetune_top_img_s),
    fullVsTorchAll: ratio(results['int8-full'], torch.finetune_all_img_s),
    top3NativeGemmVsTorchTop: ratio(nativeResults['int8-top3'], torch.finetune_top_img_s),
    fullNativeGemmVsTorchAll: ratio(nativeResults['int8-full'], torch.finetune_all_img_s) });
}
