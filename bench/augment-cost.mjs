// What an augmented view costs against a plain decode, one image at a time: 24 hymenoptera bee JPEGs at 224
// (the measurement a test used to print; performance is measured here, not in tests).
// Usage: npm run build && node bench/augment-cost.mjs
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

const dist = new URL('../dist/', import.meta.url);
const { decodeImageBytes } = await import(new URL('data/decode-image.js', dist).href);
const { decodeView, decodeViews, viewParams } = await import(new URL('data/augment.js', dist).href);
const { makePreprocessing } = await import(new URL('core/preprocessing.js', dist).href);

const dir = join(process.env.GRAFT_SHARED_DIR ?? new URL('../../shared', import.meta.url).pathname, 'datasets/hymenoptera/train/bees');
const files = (await readdir(dir)).filter((f) => f.endsWith('.jpg')).sort().slice(0, 24).map((f) => join(dir, f));
const pre = makePreprocessing({ inputSize: 224, scale: 'imagenet', layout: 'nchw' });
const bytes = await Promise.all(files.map((f) => readFile(f)));
const shas = bytes.map((b) => createHash('sha256').update(b).digest('hex'));
const time = async (fn) => {
  const t0 = performance.now();
  for (let round = 0; round < 2; round++) for (const [i, b] of bytes.entries()) await fn(b, i);
  return (performance.now() - t0) / (2 * bytes.length);
};
await time((b) => decodeImageBytes(b, pre)); // warm-up
const plainMs = await time((b) => decodeImageBytes(b, pre));
const viewMs = await time((b, i) => decodeView(b, pre, viewParams(shas[i], 1, 1)));
const noRotateMs = await time((b, i) => decodeView(b, pre, { ...viewParams(shas[i], 1, 1), rotateDegrees: 0 }));
const noJitterMs = await time((b, i) => decodeView(b, pre, { ...viewParams(shas[i], 1, 1), brightness: 1, contrast: 1, saturation: 1 }));
const threeViewsMs = await time((b, i) => decodeViews(b, pre, [1, 2, 3].map((v) => viewParams(shas[i], v, 1))));
console.log(
  `decode, one image at a time, ${bytes.length} hymenoptera JPEGs at 224: plain ${plainMs.toFixed(2)} ms, ` +
    `augmented view ${viewMs.toFixed(2)} ms (${(viewMs / plainMs).toFixed(2)}x; without rotation ${noRotateMs.toFixed(2)} ms, ` +
    `without colour jitter ${noJitterMs.toFixed(2)} ms), 3 views with decodeViews ${threeViewsMs.toFixed(2)} ms ` +
    `(${(threeViewsMs / 3).toFixed(2)} ms a view)`,
);
