// Many classes with few images each, the case the issue opened with (100 fine-grained classes, ~29 training images
// each): every class of every dataset in ../shared/datasets as one classification task (79 classes), at most n
// training images per class drawn (seeded; one per track for gtsrb43) from each train/ folder, every test folder
// merged as the test set. `graft train` with the defaults and `graft eval` on that test set, next to the reference
// linear probe (../shared/reference: dump_features.mjs + linear_probe.py) on the very same images.
// `--frames all` takes every frame of a gtsrb43 track instead of one (so up to `shots` images per class there too,
// whole tracks, and the cross-validation grouped by track): with --shots 40, a 3 120-image, 79-class set.
// Usage: npm run build && node bench/many-classes.mjs [--backbones int8,tm] [--shots 29] [--frames one|all] [--seeds 1,2,3] [--out file]
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../dist/recipes/train.js';
import { cacheDir, dumpFeatures, evaluateOn, groupBy, linearProbe, referenceBackbones, testDirOf, trainBackbone, trainDirOf } from './reference.mjs';
import { classesOf, linkSubset } from './subsets.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
const datasets = opt('datasets', 'hymenoptera,flowers12,dtd10,plantseedlings12,gtsrb43').split(',');
const chosenBackbones = opt('backbones', 'int8,tm').split(',');
const shots = Number(opt('shots', '29'));
const allFrames = opt('frames', 'one') === 'all';
const seeds = opt('seeds', '1,2,3').split(',').map(Number);
const outFile = opt('out', 'bench/out/many-classes.jsonl');
mkdirSync('bench/out', { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'graft-many-classes-'));
const backbones = await referenceBackbones(work, chosenBackbones);
const splitDir = (name, split) => (split === 'train' ? trainDirOf(name) : testDirOf(name));
/** Class `cls` of dataset `name` in the merged task. */
const merged = (name) => (cls) => `${name}-${cls}`;

// The merged test set: every test image, linked under its merged class.
const testDir = join(work, 'test');
for (const name of datasets) {
  for (const cls of classesOf(splitDir(name, 'test'))) {
    mkdirSync(join(testDir, merged(name)(cls)), { recursive: true });
    for (const file of readdirSync(join(splitDir(name, 'test'), cls))) symlinkSync(join(splitDir(name, 'test'), cls, file), join(testDir, merged(name)(cls), file));
  }
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const onePerTrack = (_, tracks, next) => tracks.slice(0, shots).map((track) => track[Math.floor(next() * track.length)]);
/** Whole tracks (one file each outside gtsrb43) until `shots` files. */
const wholeTracks = (_, tracks) => {
  const files = [];
  for (const track of tracks) if (files.length + track.length <= shots) files.push(...track);
  return files;
};
for (const bb of chosenBackbones) {
  const b = backbones[bb];
  const testPrefix = join(work, `test-${bb}`);
  dumpFeatures(b, testDir, testPrefix);
  const accs = { probe: [], graft: [] };
  for (const seed of seeds) {
    const trainDir = join(work, `train-${seed}`);
    if (!existsSync(trainDir)) for (const name of datasets) linkSubset(name, splitDir(name, 'train'), trainDir, seed, 700 + shots, allFrames ? wholeTracks : onePerTrack, merged(name));
    const prefix = join(work, `train-${seed}-${bb}`);
    dumpFeatures(b, trainDir, prefix);
    const probeStarted = performance.now();
    const probe = linearProbe(prefix, testPrefix);
    const probeSeconds = (performance.now() - probeStarted) / 1000;
    const r = await train({ train: trainDir, ...trainBackbone(b), out: join(work, `model-${seed}-${bb}`), cacheDir, config: { seed, ...(allFrames ? { groupBy: groupBy.gtsrb43 } : {}) } });
    const report = await evaluateOn(r.model, testDir);
    accs.probe.push(probe.test_accuracy);
    accs.graft.push(report.accuracy);
    const row = {
      backbone: bb, shots, frames: allFrames ? 'all' : 'one', seed, classes: r.labels.length, trainImages: probe.train, testImages: probe.test,
      probe: { test: Number(probe.test_accuracy.toFixed(4)), C: probe.C, seconds: Number(probeSeconds.toFixed(1)) },
      graft: { test: Number(report.accuracy.toFixed(4)), head: r.head, trainSeconds: r.timings.train_s },
    };
    console.log(JSON.stringify(row));
    appendFileSync(outFile, `${JSON.stringify(row)}\n`);
  }
  const summary = { backbone: bb, shots, frames: allFrames ? 'all' : 'one', probeMean: Number(mean(accs.probe).toFixed(4)), graftMean: Number(mean(accs.graft).toFixed(4)), delta: Number(((mean(accs.graft) - mean(accs.probe)) * 100).toFixed(1)) };
  console.log(JSON.stringify(summary));
  appendFileSync(outFile, `${JSON.stringify(summary)}\n`);
}
