// Classes of very different sizes, as a user's own photos often are: each dataset's train/ cut down so that class
// sizes fall geometrically from the whole class to 1/ratio of it (which class gets which size is drawn per seed;
// whole tracks for gtsrb43), `graft train` with the defaults and with `--class-weights balanced`, `graft eval` on
// the whole untouched test folder (balanced, as every test folder here is), next to the reference linear probe
// (../shared/reference: dump_features.mjs + linear_probe.py, unweighted) on the very same images. Graft's runs are
// also scored as if the test images came in the training set's proportions (each class's recall weighted by it).
// Usage: npm run build && node bench/imbalanced.mjs [--datasets a,b] [--backbones int8,tm] [--ratio 10] [--seeds 1,2,3]
//   [--variants none,balanced,balanced+fine-tune] [--no-probe] [--out file]
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { train } from '../dist/recipes/train.js';
import { mulberry32, shuffleInPlace } from '../dist/core/random.js';
import { cacheDir, dumpFeatures, evaluateOn, groupBy, linearProbe, referenceBackbones, testDirOf, trainBackbone, trainDirOf } from './reference.mjs';
import { classesOf, linkSubset } from './subsets.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
const datasets = opt('datasets', 'hymenoptera,flowers12,dtd10,plantseedlings12,gtsrb43').split(',');
const chosenBackbones = opt('backbones', 'int8,tm').split(',');
const ratio = Number(opt('ratio', '10'));
const seeds = opt('seeds', '1,2,3').split(',').map(Number);
/** What Graft runs: class weights, '+fine-tune' for `--fine-tune` with its defaults. */
const variants = opt('variants', 'none,balanced').split(',');
/** Without the probe (and its feature dumps): for reruns of Graft alone on the same subsets. */
const withProbe = !args.includes('--no-probe');
const outFile = opt('out', 'bench/out/imbalanced.jsonl');
mkdirSync('bench/out', { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'graft-imbalanced-'));
const backbones = await referenceBackbones(work, chosenBackbones);

/**
 * The class at rank r of K keeps ratio^(-r/(K-1)) of its tracks (at least 2), all frames of each; the ranks are a
 * seeded permutation of the classes. Drawn once per dataset and seed: both backbones see the same images.
 */
const subsets = new Map();
function drawSubset(name, trainDir, seed) {
  const key = `${name}-${seed}`;
  if (!subsets.has(key)) {
    const k = classesOf(trainDir).length;
    const rank = shuffleInPlace([...Array(k).keys()], mulberry32(seed * 7919 + ratio));
    const keep = (index, tracks) => tracks.slice(0, Math.max(2, Math.round(tracks.length * ratio ** (-rank[index] / (k - 1))))).flat();
    subsets.set(key, linkSubset(name, trainDir, join(work, key), seed, 500 + ratio, keep));
  }
  return subsets.get(key);
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const recalls = (confusion) => confusion.map((row, i) => row[i] / Math.max(1, row.reduce((a, b) => a + b, 0)));
/**
 * Accuracy where test images come in the training set's class proportions: each class's recall weighted by its share
 * of the training images (the test folders are balanced, so plain accuracy is the case of even proportions).
 */
const priorAccuracy = (confusion, labels, subset) => {
  const counts = labels.map((label) => readdirSync(join(subset, label)).length);
  const total = counts.reduce((a, b) => a + b, 0);
  return recalls(confusion).reduce((sum, recall, i) => sum + (recall * counts[i]) / total, 0);
};

for (const name of datasets) {
  const test = testDirOf(name);
  for (const bb of chosenBackbones) {
    const b = backbones[bb];
    const testPrefix = join(work, `${name}-${bb}-test`);
    if (withProbe) dumpFeatures(b, test, testPrefix);
    const accs = { probe: [], ...Object.fromEntries(variants.flatMap((v) => [[v, []], [`${v}Prior`, []]])) };
    for (const seed of seeds) {
      const subset = drawSubset(name, trainDirOf(name), seed);
      const prefix = join(work, `${basename(subset)}-${bb}`);
      const row = { dataset: name, backbone: bb, ratio, seed };
      if (withProbe) {
        dumpFeatures(b, subset, `${prefix}-train`);
        const probe = linearProbe(`${prefix}-train`, testPrefix);
        accs.probe.push(probe.test_accuracy);
        Object.assign(row, { trainImages: probe.train, testImages: probe.test, probe: { test: Number(probe.test_accuracy.toFixed(4)), C: probe.C } });
      }
      for (const variant of variants) {
        const [classWeights, fineTune] = variant.split('+');
        const r = await train({
          train: subset,
          ...trainBackbone(b),
          out: join(work, `${basename(subset)}-${bb}-${variant}`),
          cacheDir,
          config: { seed, classWeights, ...(groupBy[name] ? { groupBy: groupBy[name] } : {}) },
          ...(fineTune ? { fineTune: {} } : {}),
        });
        const report = await evaluateOn(r.model, test);
        accs[variant].push(report.accuracy);
        const prior = priorAccuracy(report.confusion.matrix, report.confusion.labels, subset);
        accs[`${variant}Prior`].push(prior);
        row[variant] = { test: Number(report.accuracy.toFixed(4)), priorWeighted: Number(prior.toFixed(4)), head: r.head, ...(r.fineTune ? { fineTuneKept: r.fineTune.kept, holdout: r.fineTune.holdout } : {}) };
      }
      console.log(JSON.stringify(row));
      appendFileSync(outFile, `${JSON.stringify(row)}\n`);
    }
    const round = (x) => Number(x.toFixed(4));
    const summary = {
      dataset: name, backbone: bb, ratio, ...(withProbe ? { probeMean: round(mean(accs.probe)) } : {}),
      means: Object.fromEntries(variants.map((v) => [v, round(mean(accs[v]))])),
      ...(withProbe ? { deltas: Object.fromEntries(variants.map((v) => [v, Number(((mean(accs[v]) - mean(accs.probe)) * 100).toFixed(1))])) } : {}),
      priorWeighted: Object.fromEntries(variants.map((v) => [v, round(mean(accs[`${v}Prior`]))])),
    };
    console.log(JSON.stringify(summary));
    appendFileSync(outFile, `${JSON.stringify(summary)}\n`);
  }
}
