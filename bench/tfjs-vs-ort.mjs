// tfjs-wasm vs onnxruntime-node on the ONNX exported from the same TF.js layers model.
// Usage: npx tsc -p tsconfig.build.json && node bench/tfjs-vs-ort.mjs [batches=4]
// Prints one JSON line per model: img/s for tfjs predict (wasm) and ORT ('all', 2 intra-op threads), batch 16, 224x224.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { ensureTfjsBackend } from '../dist/runtime/tfjs-backend.js';
import { loadLayersModelFromDir, loadNsfwjsMobileNetV2, truncateAt } from '../dist/readers/tfjs-layers.js';
import { exportLayersModelToOnnx } from '../dist/tfjs-to-onnx/layers-model-to-onnx.js';

const BATCH = 16;
const SIZE = 224;
const batches = Number(process.argv[2] ?? 4);
const repoRoot = resolve(fileURLToPath(import.meta.url), '../..');
const shared = process.env.GRAFT_SHARED_DIR ?? resolve(repoRoot, '../shared');

async function timeIt(runBatch) {
  await runBatch(); // warm-up: kernel compilation, session allocation
  const start = performance.now();
  for (let i = 0; i < batches; i++) await runBatch();
  return (batches * BATCH) / ((performance.now() - start) / 1000);
}

async function bench(name, model) {
  const input = new Float32Array(BATCH * SIZE * SIZE * 3).map((_, i) => ((i * 7919) % 255) / 255);
  const tfjsImgPerSec = await timeIt(async () => {
    const y = tf.tidy(() => model.predict(tf.tensor4d(input, [BATCH, SIZE, SIZE, 3])));
    await y.data();
    y.dispose();
  });
  const exportStart = performance.now();
  const bytes = exportLayersModelToOnnx(model);
  const exportMs = performance.now() - exportStart;
  const session = await InferenceSession.create(bytes, { graphOptimizationLevel: 'all', intraOpNumThreads: 2 });
  const feed = { input: new Tensor('float32', input, [BATCH, SIZE, SIZE, 3]) };
  const ortImgPerSec = await timeIt(() => session.run(feed));
  await session.release();
  console.log(JSON.stringify({ model: name, backend: tf.getBackend(), batch: BATCH, batches, tfjsImgPerSec: +tfjsImgPerSec.toFixed(1), ortImgPerSec: +ortImgPerSec.toFixed(1), speedup: +(ortImgPerSec / tfjsImgPerSec).toFixed(1), exportMs: Math.round(exportMs), onnxBytes: bytes.length }));
}

await ensureTfjsBackend((reason) => console.error(`warning: ${reason}`));
const nsfw = await loadNsfwjsMobileNetV2();
await bench('nsfwjs-mobilenetv2@flatten_1', truncateAt(nsfw.model, 'flatten_1'));
nsfw.model.dispose();
const tmDir = resolve(shared, 'models/tm-mobilenetv2-035/base');
if (existsSync(tmDir)) {
  const tm = await loadLayersModelFromDir(tmDir);
  await bench('tm-mobilenetv2-035/base', tm);
  tm.dispose();
} else {
  console.error(`skipping tm-mobilenetv2-035: ${tmDir} not found`);
}

// Load indicator: the int8 MobileNetV2 DESIGN.md measured at 556-578 img/s on an idle machine. A much
// lower number here means other processes share the 2 cores and every figure above is low by as much.
const int8Path = resolve(shared, 'models/mobilenetv2-int8-onnx/mobilenetv2-12-int8.onnx');
if (existsSync(int8Path)) {
  const session = await InferenceSession.create(int8Path, { graphOptimizationLevel: 'all', intraOpNumThreads: 2 });
  const feed = { [session.inputNames[0]]: new Tensor('float32', new Float32Array(BATCH * 3 * SIZE * SIZE).fill(0.1), [BATCH, 3, SIZE, SIZE]) };
  const imgPerSec = await timeIt(() => session.run(feed));
  await session.release();
  console.log(JSON.stringify({ model: 'reference mobilenetv2-12-int8 (ORT)', batch: BATCH, batches, ortImgPerSec: +imgPerSec.toFixed(1), designMeasured: '556-578' }));
}
