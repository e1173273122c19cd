// TF.js graph models: tfjs-wasm `execute` to the feature node vs onnxruntime-node on the ONNX export, and export time.
// Usage: npx tsc -p tsconfig.build.json && node bench/tfjs-graph.mjs [batches=4]
//   (GRAFT_DIST=<dir> runs against another build folder.)
// Prints one JSON line per model: img/s for tfjs (wasm) and ORT ('all', 2 intra-op threads), batch 16, 224x224.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { InferenceSession, Tensor } from 'onnxruntime-node';

const BATCH = 16;
const SIZE = 224;
const batches = Number(process.argv[2] ?? 4);
const repoRoot = resolve(fileURLToPath(import.meta.url), '../..');
const dist = resolve(process.env.GRAFT_DIST ?? resolve(repoRoot, 'dist'));
const shared = process.env.GRAFT_SHARED_DIR ?? resolve(repoRoot, '../shared');
const { ensureTfjsBackend } = await import(pathToFileURL(resolve(dist, 'runtime/tfjs-backend.js')).href);
const graph = {
  ...(await import(pathToFileURL(resolve(dist, 'readers/tfjs-graph/index.js')).href)),
  ...(await import(pathToFileURL(resolve(dist, 'tfjs-to-onnx/graph-model-to-onnx.js')).href)),
};

async function imgPerSec(runBatch) {
  await runBatch(); // warm-up: kernel compilation, session allocation
  const start = performance.now();
  for (let i = 0; i < batches; i++) await runBatch();
  return (batches * BATCH) / ((performance.now() - start) / 1000);
}

async function bench(name, load) {
  const { model, modelJson, weightBytes } = await load();
  const node = graph.graphFeatureNode(modelJson);
  const input = tf.randomUniform([BATCH, SIZE, SIZE, 3], 0, 1, 'float32', 1);
  const data = input.dataSync();
  const tfjs = await imgPerSec(async () => {
    const out = graph.extractGraphFeatures(model, input, node);
    await out.data();
    out.dispose();
  });
  const exportStart = performance.now();
  const onnx = graph.exportGraphModelToOnnx(modelJson, weightBytes, { outputNode: node, inputShape: [SIZE, SIZE, 3] });
  const exportMs = performance.now() - exportStart;
  const session = await InferenceSession.create(onnx, { graphOptimizationLevel: 'all', intraOpNumThreads: 2 });
  const feeds = { input: new Tensor('float32', data, [BATCH, SIZE, SIZE, 3]) };
  const ort = await imgPerSec(() => session.run(feeds));
  await session.release();
  tf.dispose(input);
  model.dispose();
  console.log(JSON.stringify({ model: name, node, batch: BATCH, tfjsWasmImgPerSec: +tfjs.toFixed(1), ortImgPerSec: +ort.toFixed(1), speedup: +(ort / tfjs).toFixed(1), exportMs: Math.round(exportMs), onnxBytes: onnx.length }));
}

await ensureTfjsBackend();
await bench('nsfwjs mobilenet_v2_mid', () => graph.loadNsfwjsMobileNetV2Mid());
const v1 = resolve(shared, 'models/mobilenet-v1-025-tfjs/graph');
if (existsSync(v1)) {
  await bench('mobilenet-v1-025 (TF Hub graph)', async () => ({ model: await graph.loadGraphModelFromDir(v1), ...(await graph.readGraphModelDir(v1)) }));
} else {
  console.error(`skipping mobilenet-v1-025: ${v1} not found (set GRAFT_SHARED_DIR)`);
}
