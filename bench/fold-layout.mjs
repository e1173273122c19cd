// One evaluation of a cross-validation's fold problems over plain and mirror rows, as the selection runs it: rows in
// image order (every problem multiplies every row) against rows laid out by fold (each fold's stretch multiplied only
// by the problems that train on it), on random features. Prints milliseconds per evaluation and the ratio, for the
// shapes behind paysToLayOutByFold's threshold (src/learn/select/fold-layout.ts).
// Usage: npm run build && node bench/fold-layout.mjs [--reps 20]
import { SoftmaxObjective } from '../dist/learn/linear/softmax-objective.js';
import { paysToLayOutByFold } from '../dist/learn/select/fold-layout.js';

const args = process.argv.slice(2);
const reps = Number(args.includes('--reps') ? args[args.indexOf('--reps') + 1] : 20);
const dim = 2560;
const shapes = [
  { images: 3120, classes: 79, folds: 3 },
  { images: 2560, classes: 100, folds: 5 },
  { images: 1536, classes: 79, folds: 3 },
  { images: 1720, classes: 43, folds: 5 },
  { images: 900, classes: 79, folds: 5 },
  { images: 900, classes: 12, folds: 5 },
  { images: 2000, classes: 12, folds: 3 },
];

async function msPerEvaluation(images, classes, folds, byFold) {
  const count = 2 * images;
  const data = new Float32Array(count * dim);
  for (let i = 0; i < data.length; i++) data[i] = Math.random();
  const labels = Int32Array.from({ length: count }, (_, r) => r % classes);
  const objective = new SoftmaxObjective({ data, count, dim }, labels, classes);
  const mean = new Float32Array(dim).fill(0.5);
  const std = new Float32Array(dim).fill(0.3);
  // By fold: fold f's plain and mirror rows are one stretch; in image order its images are spread over the rows.
  const foldOf = (r) => (byFold ? Math.floor(r / (count / folds)) : (r % images) % folds);
  const which = Array.from({ length: folds }, (_, f) => objective.addProblem({ rowWeights: Float32Array.from({ length: count }, (_, r) => (foldOf(r) === f ? 0 : 1)), mean, std, c: 1 }));
  const points = which.map(() => Float64Array.from({ length: objective.size }, () => (Math.random() - 0.5) * 0.01));
  try {
    for (let i = 0; i < 3; i++) await objective.evaluate(which, points);
    const started = performance.now();
    for (let i = 0; i < reps; i++) await objective.evaluate(which, points);
    return (performance.now() - started) / reps;
  } finally {
    await objective.dispose();
  }
}

console.log('images classes folds | image order ms | by fold ms | ratio | laid out by fold by default');
for (const { images, classes, folds } of shapes) {
  const inOrder = await msPerEvaluation(images, classes, folds, false);
  const byFold = await msPerEvaluation(images, classes, folds, true);
  console.log(`${images} ${classes} ${folds} | ${inOrder.toFixed(1)} | ${byFold.toFixed(1)} | ${(byFold / inOrder).toFixed(2)} | ${paysToLayOutByFold(images, folds, classes, dim, true)}`);
}
