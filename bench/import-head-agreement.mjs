// What the int8 ONNX -> tfjs import means for a transfer-learning user: train Graft's default head on onnxruntime's
// features (the train split), then classify the held-out split twice, once from onnxruntime's features and once
// from the tfjs-imported graph's features, and count how often the two top-1 answers agree.
// (bench/onnx-import.mjs measures agreement of the 1000-class ImageNet logits instead; see RESULTS.md.)
// Usage: npx tsc -p tsconfig.build.json && node bench/import-head-agreement.mjs
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { InferenceSession, Tensor } from 'onnxruntime-node';

const repoRoot = resolve(fileURLToPath(import.meta.url), '../..');
const shared = process.env.GRAFT_SHARED_DIR ?? resolve(repoRoot, '../shared');
const dist = (p) => import(pathToFileURL(join(repoRoot, 'dist', p)).href);
const { train } = await dist('recipes/train.js');
const { decodeImage } = await dist('data/decode-image.js');
const { scanImageFolder } = await dist('data/scan-folder.js');
const { ensureTfjsBackend } = await dist('runtime/tfjs-backend.js');
const { readOnnxModel } = await dist('onnx/onnx-model.js');
const { importOnnxToTfjs } = await dist('onnx-to-tfjs/index.js');
const { unpackHeadWeights } = await dist('model/save-model.js');
const { denseForward } = await dist('core/dense-layer.js');

const modelDir = join(shared, 'models/mobilenetv2-int8-onnx');
const backbone = join(modelDir, 'mobilenetv2-12-int8.onnx');
const sets = [
  ['hymenoptera', join(shared, 'datasets/hymenoptera/train'), join(shared, 'datasets/hymenoptera/val')],
  ['flowers12', join(shared, 'datasets/flowers12/train'), join(shared, 'datasets/flowers12/test')],
];
await ensureTfjsBackend();
const session = await InferenceSession.create(join(modelDir, 'mobilenetv2-12-int8-feat.onnx'), { graphOptimizationLevel: 'all', intraOpNumThreads: 2 });
const onnx = await readOnnxModel(backbone);
const graph = importOnnxToTfjs(onnx, { outputs: ['464_quantized'] });
const argmax = (row) => row.reduce((best, v, i) => (v > row[best] ? i : best), 0);

for (const [name, trainDir, evalDir] of sets) {
  const out = mkdtempSync(join(tmpdir(), 'graft-agree-'));
  const cacheDir = mkdtempSync(join(tmpdir(), 'graft-agree-cache-'));
  try {
    // One scale, no mirror averaging: the head reads the 224-pixel features this comparison feeds both engines.
    const result = await train({ train: trainDir, val: evalDir, backbone, out: join(out, 'model'), cacheDir, config: { multiScale: false, tta: 'off' } });
    const manifest = JSON.parse(readFileSync(join(result.model, 'graft.json'), 'utf8'));
    const head = unpackHeadWeights(new Uint8Array(readFileSync(join(result.model, 'head.bin'))), manifest);
    const items = (await scanImageFolder(evalDir)).items;
    let agree = 0;
    let correctOrt = 0;
    let correctTfjs = 0;
    let maxFeatureDiff = 0;
    for (const item of items) {
      const pixels = await decodeImage(item.file, manifest.preprocessing);
      const ort = await session.run({ input: new Tensor('float32', pixels, [1, 3, 224, 224]) });
      const fOrt = new Float32Array(ort.features.data);
      const fTfjs = tf.tidy(() => graph.predict(tf.tensor(pixels, [1, 3, 224, 224])).reshape([-1]).dataSync());
      for (let i = 0; i < fOrt.length; i++) maxFeatureDiff = Math.max(maxFeatureDiff, Math.abs(fOrt[i] - fTfjs[i]));
      const a = argmax(denseForward(head, fOrt));
      const b = argmax(denseForward(head, new Float32Array(fTfjs)));
      const truth = result.labels.indexOf(item.label);
      agree += a === b ? 1 : 0;
      correctOrt += a === truth ? 1 : 0;
      correctTfjs += b === truth ? 1 : 0;
    }
    console.log(JSON.stringify({ dataset: name, images: items.length, top1Agreement: Number((agree / items.length).toFixed(4)), disagreements: items.length - agree, accuracyOrtFeatures: Number((correctOrt / items.length).toFixed(4)), accuracyTfjsFeatures: Number((correctTfjs / items.length).toFixed(4)), maxAbsFeatureDiff: Number(maxFeatureDiff.toFixed(4)) }));
  } finally {
    rmSync(out, { recursive: true, force: true });
    rmSync(cacheDir, { recursive: true, force: true });
  }
}
