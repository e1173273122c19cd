// ONNX -> trainable tfjs import of the int8 MobileNetV2 (ONNX Model Zoo), checked against onnxruntime on
// every hymenoptera (train+val) and flowers12 (train+test) image.
// Usage: npx tsc -p tsconfig.build.json && node bench/onnx-import.mjs [float|round|both=both] [batch=16]
// Prints one JSON line per quantizedActivations mode: top-1 agreement with ORT's logits, max abs diff of the
// 1280-d pooled features (the tensor feeding the classifier) vs ORT's DequantizeLinear'd `features`, max abs
// diff of the logits, import time, and tfjs forward img/s (decode and ORT excluded). A last line measures how
// chaotic the model is: ORT's own top-1 agreement after scaling each input value by (1 + k*1e-6), |k| <= 6.
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { decodeImage } from '../dist/data/decode-image.js';
import { makePreprocessing } from '../dist/core/preprocessing.js';
import { ensureTfjsBackend } from '../dist/runtime/tfjs-backend.js';
import { readOnnxModel } from '../dist/onnx/onnx-model.js';
import { importOnnxToTfjs } from '../dist/onnx-to-tfjs/index.js';

const modeArg = process.argv[2] ?? 'both';
if (!['float', 'round', 'both'].includes(modeArg)) throw new RangeError(`mode must be float, round or both. Received: ${modeArg}`);
const modes = modeArg === 'both' ? ['float', 'round'] : [modeArg];
const BATCH = Number(process.argv[3] ?? 16);
const SIZE = 224;
const repoRoot = resolve(fileURLToPath(import.meta.url), '../..');
const shared = process.env.GRAFT_SHARED_DIR ?? resolve(repoRoot, '../shared');
const modelDir = join(shared, 'models/mobilenetv2-int8-onnx');
const splits = ['hymenoptera/train', 'hymenoptera/val', 'flowers12/train', 'flowers12/test'].map((s) => join(shared, 'datasets', s));

function listImages(dir) {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return listImages(path);
      return /\.(jpe?g|png|gif|webp)$/i.test(name) ? [path] : [];
    });
}

await ensureTfjsBackend();
const pre = makePreprocessing({ inputSize: SIZE, scale: 'imagenet', layout: 'nchw' });
const files = splits.flatMap(listImages);
const model = await readOnnxModel(join(modelDir, 'mobilenetv2-12-int8.onnx'));
const session = await InferenceSession.create(join(modelDir, 'mobilenetv2-12-int8-feat.onnx'), { graphOptimizationLevel: 'all', intraOpNumThreads: 2 });

// Decode once; every mode sees the same pixels, and ORT's results are shared.
const batches = [];
const skipped = [];
for (let i = 0; i < files.length; i += BATCH) {
  const images = [];
  for (const file of files.slice(i, i + BATCH)) {
    try {
      images.push(await decodeImage(file, pre));
    } catch (error) {
      skipped.push(`${file}: ${error.message}`);
    }
  }
  if (images.length === 0) continue;
  const data = new Float32Array(images.length * 3 * SIZE * SIZE);
  images.forEach((image, k) => data.set(image, k * image.length));
  const result = await session.run({ input: new Tensor('float32', data, [images.length, 3, SIZE, SIZE]) });
  batches.push({ data, count: images.length, logits: new Float32Array(result.output.data), features: new Float32Array(result.features.data) });
}

function argmaxRows(logits, count) {
  return Array.from({ length: count }, (_, n) => {
    let best = 0;
    for (let c = 1; c < 1000; c++) if (logits[n * 1000 + c] > logits[n * 1000 + best]) best = c;
    return best;
  });
}

for (const mode of modes) {
  const start = performance.now();
  const graph = importOnnxToTfjs(model, { outputs: ['output', '464_quantized'], quantizedActivations: mode });
  const importMs = performance.now() - start;
  let agree = 0;
  let total = 0;
  let maxFeatureDiff = 0;
  let maxLogitDiff = 0;
  let maxFeature = 0;
  let forwardMs = 0;
  for (const batch of batches) {
    const t0 = performance.now();
    const outputs = graph.predictAll(tf.tensor4d(batch.data, [batch.count, 3, SIZE, SIZE]));
    const logits = await outputs.output.data();
    const features = await outputs['464_quantized'].data();
    forwardMs += performance.now() - t0;
    tf.dispose(outputs);
    for (let j = 0; j < features.length; j++) {
      maxFeatureDiff = Math.max(maxFeatureDiff, Math.abs(features[j] - batch.features[j]));
      maxFeature = Math.max(maxFeature, Math.abs(batch.features[j]));
    }
    for (let n = 0; n < batch.count; n++) {
      let [a, b] = [0, 0];
      for (let c = 0; c < 1000; c++) {
        const k = n * 1000 + c;
        maxLogitDiff = Math.max(maxLogitDiff, Math.abs(logits[k] - batch.logits[k]));
        if (logits[k] > logits[n * 1000 + a]) a = c;
        if (batch.logits[k] > batch.logits[n * 1000 + b]) b = c;
      }
      agree += a === b ? 1 : 0;
      total++;
    }
  }
  graph.dispose();
  console.log(
    JSON.stringify({
      mode,
      images: total,
      skipped: skipped.length,
      top1Agreement: +(agree / total).toFixed(4),
      disagreements: total - agree,
      maxAbsFeatureDiff: +maxFeatureDiff.toFixed(4),
      maxAbsFeature: +maxFeature.toFixed(3),
      maxAbsLogitDiff: +maxLogitDiff.toFixed(4),
      importMs: Math.round(importMs),
      tfjsForwardImgPerSec: +(total / (forwardMs / 1000)).toFixed(1),
      backend: tf.getBackend(),
      batch: BATCH,
    }),
  );
}
let selfAgree = 0;
let selfTotal = 0;
for (const batch of batches) {
  const perturbed = batch.data.map((v, j) => v * (1 + 1e-6 * (((j * 7919) % 13) - 6)));
  const result = await session.run({ input: new Tensor('float32', perturbed, [batch.count, 3, SIZE, SIZE]) });
  const a = argmaxRows(batch.logits, batch.count);
  const b = argmaxRows(result.output.data, batch.count);
  selfAgree += a.filter((c, i) => c === b[i]).length;
  selfTotal += batch.count;
}
console.log(JSON.stringify({ mode: 'ort-vs-ort, input x (1 +- 6e-6)', images: selfTotal, top1Agreement: +(selfAgree / selfTotal).toFixed(4) }));
if (skipped.length > 0) console.error(`skipped ${skipped.length} unreadable files:\n  ${skipped.join('\n  ')}`);
