// Few images per class, as a Teachable Machine user has: n training images per class drawn (seeded) from each
// dataset's train/, `graft train` with the defaults, `graft eval` on the whole untouched test folder, next to the
// reference linear probe (../shared/reference: dump_features.mjs + linear_probe.py) on the very same images.
// The full-data comparison is bench/heads.mjs; this one asks whether the defaults, chosen there, hold where
// cross-validation has 5-10 images per class to go on.
// Usage: npm run build && node bench/few-shot.mjs [--datasets a,b] [--backbones int8,tm] [--shots 5,10] [--seeds 1,2,3] [--crops auto] [--out file]
import { appendFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { train } from '../dist/recipes/train.js';
import { cacheDir, dumpFeatures, evaluateOn, groupBy, linearProbe, referenceBackbones, testDirOf, trainBackbone, trainDirOf } from './reference.mjs';
import { linkSubset } from './subsets.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
const datasets = opt('datasets', 'hymenoptera,flowers12,dtd10,plantseedlings12,gtsrb43').split(',');
const chosenBackbones = opt('backbones', 'int8,tm').split(',');
const shots = opt('shots', '5,10').split(',').map(Number);
const seeds = opt('seeds', '1,2,3').split(',').map(Number);
const outFile = opt('out', 'bench/out/few-shot.jsonl');
// --crops auto|on: the training images' corner crops as cross-validated (or fixed) extra rows (default: off).
const crops = opt('crops', undefined);
mkdirSync('bench/out', { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'graft-few-shot-'));
const backbones = await referenceBackbones(work, chosenBackbones);
/** n images per class of `trainDir` (drawn once: both backbones see it). Where frames come in tracks of one physical
 * sign (gtsrb43), each class's n images come from n different tracks, as a user would photograph n different signs. */
const subsets = new Map();
function drawSubset(name, trainDir, n, seed) {
  const key = `${name}-${n}-${seed}`;
  if (!subsets.has(key)) {
    const onePerTrack = (_, tracks, next) => tracks.slice(0, n).map((track) => track[Math.floor(next() * track.length)]);
    subsets.set(key, linkSubset(name, trainDir, join(work, key), seed, n, onePerTrack));
  }
  return subsets.get(key);
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

for (const name of datasets) {
  const test = testDirOf(name);
  for (const bb of chosenBackbones) {
    const b = backbones[bb];
    const testPrefix = join(work, `${name}-${bb}-test`);
    dumpFeatures(b, test, testPrefix);
    for (const n of shots) {
      const graftAccs = [];
      const probeAccs = [];
      for (const seed of seeds) {
        const subset = drawSubset(name, trainDirOf(name), n, seed);
        const prefix = join(work, `${basename(subset)}-${bb}`);
        dumpFeatures(b, subset, `${prefix}-train`);
        const probe = linearProbe(`${prefix}-train`, testPrefix);
        const r = await train({
          train: subset,
          ...trainBackbone(b),
          out: join(work, `${basename(subset)}-${bb}-model`),
          cacheDir,
          config: { seed, ...(groupBy[name] ? { groupBy: groupBy[name] } : {}), ...(crops ? { crops } : {}) },
        });
        const report = await evaluateOn(r.model, test);
        graftAccs.push(report.accuracy);
        probeAccs.push(probe.test_accuracy);
        const row = {
          dataset: name, backbone: bb, shots: n, seed, trainImages: probe.train, testImages: probe.test,
          probe: { test: Number(probe.test_accuracy.toFixed(4)), C: probe.C },
          graft: { test: Number(report.accuracy.toFixed(4)), head: r.head, folds: r.selection?.folds ?? null },
        };
        console.log(JSON.stringify(row));
        appendFileSync(outFile, `${JSON.stringify(row)}\n`);
      }
      const summary = {
        dataset: name, backbone: bb, shots: n, probeMean: Number(mean(probeAccs).toFixed(4)), graftMean: Number(mean(graftAccs).toFixed(4)),
        delta: Number(((mean(graftAccs) - mean(probeAccs)) * 100).toFixed(1)),
      };
      console.log(JSON.stringify(summary));
      appendFileSync(outFile, `${JSON.stringify(summary)}\n`);
    }
  }
}
