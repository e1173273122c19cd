// `graft export --to teachable-machine`: how the exported model scores when fed as Teachable Machine's and ml5's
// libraries feed it, against `graft eval` of the same model directory on the same test folder, and its cost.
// Usage: npm run build && node bench/teachable-machine.mjs [--datasets hymenoptera,flowers12] [--backbones int8,tm]
//          [--seeds 1,2,3] [--tfjs] [--out bench/out/teachable-machine.jsonl]
// --tfjs also scores `graft export --to tfjs` (its model.predict on Graft's own preprocessing, in tfjs-wasm): field
// `tfjsExport`.
//
// The libraries' preprocessing, emulated in Node on the decoded photo (EXIF orientation applied, as browsers do):
// - Teachable Machine (`tmImage`'s cropTo + capture): the centre square scaled to 224 x 224 (a canvas draw; here
//   sharp's bilinear), then v / 127 - 1;
// - ml5 1.x (`imgToTensor`): the whole photo stretched to 224 x 224 by tf.image.resizeBilinear, then v / 127 - 1.
// Both run the exported model in TensorFlow.js (wasm backend, the one Graft uses in Node).
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { exportTeachableMachine } from '../dist/model/export-teachable-machine.js';
import { exportTfjs } from '../dist/model/export-tfjs.js';
import { decodeImage } from '../dist/data/decode-image.js';
import { loadLayersModelFromDir } from '../dist/readers/tfjs-layers.js';
import { disposeLayersModel } from '../dist/readers/dispose-layers-model.js';
import { ensureTfjsBackend } from '../dist/runtime/tfjs-backend.js';
import { evaluateOn, graft, graftBackbones, groupBy, testDirOf, trainDirOf } from './reference.mjs';

const { values } = parseArgs({
  options: {
    datasets: { type: 'string', default: 'hymenoptera,flowers12' },
    backbones: { type: 'string', default: 'int8,tm' },
    seeds: { type: 'string', default: '1,2,3' },
    tfjs: { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench/out/teachable-machine.jsonl' },
  },
});
const SIDE = 224;
const BATCH = 16;
await ensureTfjsBackend();
mkdirSync(dirname(values.out), { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'graft-bench-tm-'));

/** The test folder's images as [file, class index], classes in sorted order (the model's labels). */
function testImages(testDir, labels) {
  return labels.flatMap((label, k) => readdirSync(join(testDir, label)).sort().map((f) => [join(testDir, label, f), k]));
}

/** 224 x 224 x 3 bytes of a photo as one library prepares it. */
async function pixels(file, library) {
  const image = sharp(file).rotate().removeAlpha().toColourspace('srgb');
  if (library === 'tm') return (await image.resize(SIDE, SIDE, { fit: 'cover', kernel: 'linear' }).raw().toBuffer());
  const { data, info } = await image.raw().toBuffer({ resolveWithObject: true });
  return tf.tidy(() => tf.image.resizeBilinear(tf.tensor3d(data, [info.height, info.width, 3], 'int32').toFloat(), [SIDE, SIDE]).dataSync());
}

async function accuracy(model, images, library) {
  let right = 0;
  const started = performance.now();
  for (let i = 0; i < images.length; i += BATCH) {
    const batch = images.slice(i, i + BATCH);
    const x = new Float32Array(batch.length * SIDE * SIDE * 3);
    for (let b = 0; b < batch.length; b++) {
      const p = await pixels(batch[b][0], library);
      for (let j = 0; j < p.length; j++) x[b * SIDE * SIDE * 3 + j] = p[j] / 127 - 1;
    }
    const predicted = tf.tidy(() => model.predict(tf.tensor4d(x, [batch.length, SIDE, SIDE, 3])).argMax(-1).dataSync());
    batch.forEach(([, k], b) => (right += predicted[b] === k ? 1 : 0));
  }
  return { accuracy: right / images.length, msPerImage: (performance.now() - started) / images.length };
}

/** Accuracy of a `--to tfjs` export's model.predict, each image preprocessed as its graft-model.json says. */
async function tfjsExportAccuracy(modelDir, testDir) {
  const exported = await exportTfjs(modelDir, { out: join(work, 'tfjs-export') });
  const model = await loadLayersModelFromDir(exported.out);
  try {
    const { preprocessing: pre } = JSON.parse(readFileSync(join(exported.out, 'graft-model.json'), 'utf8'));
    let right = 0;
    const images = testImages(testDir, exported.labels);
    for (const [file, k] of images) {
      const x = await decodeImage(file, pre);
      const predicted = tf.tidy(() => {
        const y = model.predict(tf.tensor4d(x, [1, pre.inputSize, pre.inputSize, 3]));
        return (Array.isArray(y) ? y[0] : y).argMax(-1).dataSync()[0];
      });
      right += predicted === k ? 1 : 0;
    }
    return right / images.length;
  } finally {
    disposeLayersModel(model);
    rmSync(exported.out, { recursive: true, force: true });
  }
}

for (const dataset of values.datasets.split(',')) {
  for (const bb of values.backbones.split(',')) {
    const b = graftBackbones[bb];
    for (const seed of values.seeds.split(',').map(Number)) {
      const dir = join(work, `${dataset}-${bb}-${seed}`);
      const groups = groupBy[dataset] ? ['--group-by', groupBy[dataset]] : [];
      graft(['train', trainDirOf(dataset), '--backbone', b.graft, ...(b.graftFlags ?? []), ...groups, '--seed', String(seed), '--out', dir, '--json']);
      const scored = await evaluateOn(dir, testDirOf(dataset));
      const started = performance.now();
      const exported = await exportTeachableMachine(dir);
      const exportSeconds = (performance.now() - started) / 1000;
      const model = await loadLayersModelFromDir(exported.out);
      try {
        const images = testImages(testDirOf(dataset), exported.labels);
        const tm = await accuracy(model, images, 'tm');
        const ml5 = await accuracy(model, images, 'ml5');
        const line = {
          date: new Date().toISOString(),
          dataset,
          backbone: bb,
          seed,
          graftEval: Number(scored.accuracy.toFixed(4)),
          teachableMachine: Number(tm.accuracy.toFixed(4)),
          ml5: Number(ml5.accuracy.toFixed(4)),
          ...(values.tfjs ? { tfjsExport: Number((await tfjsExportAccuracy(dir, testDirOf(dataset))).toFixed(4)) } : {}),
          images: images.length,
          tta: exported.testTimeAugmentation,
          exportSeconds: Number(exportSeconds.toFixed(1)),
          mb: Number((exported.bytes / 1e6).toFixed(1)),
          msPerImage: Number(tm.msPerImage.toFixed(0)),
          onnxruntimeMaxAbsDiff: exported.check.onnxruntime.maxAbsDiff,
        };
        appendFileSync(values.out, `${JSON.stringify(line)}\n`);
        console.log(JSON.stringify(line));
      } finally {
        disposeLayersModel(model);
        rmSync(exported.out, { recursive: true, force: true });
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
}
rmSync(work, { recursive: true, force: true });
