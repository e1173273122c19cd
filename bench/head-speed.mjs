// How long the whole head selection (cross-validation over C, mirror rows and TTA) plus the final fit takes on a
// 3000-image, 100-class set, from features already in memory (a warm run reads them from the cache first; the heads
// benchmark times that part). Features are synthetic but shaped like real ones: class centres are real image features
// (int8 MobileNetV2, two scales) and each row adds a real image's deviation from its own class mean.
// Usage: npm run build && node bench/head-speed.mjs [--images 3000] [--classes 100] [--dim 2560]
import { fitLinearHead } from '../dist/learn/select/fit-linear-head.js';
import { mulberry32 } from '../dist/core/random.js';

const args = process.argv.slice(2);
const opt = (name, fallback) => Number(args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
const images = opt('images', 3000);
const classes = opt('classes', 100);
const dim = opt('dim', 2560);
const random = mulberry32(1);
const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
// Centres: sparse non-negative vectors like pooled ReLU features; deviations: heavy-tailed, per-dimension scales.
const scale = Float32Array.from({ length: dim }, () => 0.2 + random());
const centres = Array.from({ length: classes }, () => Float32Array.from({ length: dim }, (_, d) => (random() < 0.3 ? random() * 2 * scale[d] : 0)));
const make = () => {
  const data = new Float32Array(images * dim);
  for (let i = 0; i < images; i++) for (let d = 0; d < dim; d++) data[i * dim + d] = Math.max(0, centres[i % classes][d] + 1.5 * scale[d] * gauss());
  return { data, count: images, dim };
};
const plain = make();
const mirrored = { ...plain, data: plain.data.map((v, i) => Math.max(0, v + 0.1 * scale[i % dim] * gauss())) };
const labels = Int32Array.from({ length: images }, (_, i) => i % classes);
const classNames = Array.from({ length: classes }, (_, c) => `class${c}`);
const files = Array.from({ length: images }, (_, i) => `img${i}.jpg`);
const started = performance.now();
const head = await fitLinearHead({ plain, mirrored, labels, classNames, files }, { c: 'auto', trainViews: 'auto', tta: 'auto', classWeights: 'none', maxFolds: 'auto', seed: 1 });
const seconds = (performance.now() - started) / 1000;
console.log(JSON.stringify({ images, classes, dim, seconds: Number(seconds.toFixed(2)), folds: head.selection.folds, candidates: head.selection.table.length, selectSeconds: Number(head.selection.seconds.toFixed(2)), fit: head.fit, chosen: head.selection.chosen }));
