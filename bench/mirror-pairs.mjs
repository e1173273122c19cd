// Exploratory: classes that are each other's mirror image (traffic signs "turn left" / "turn right"). Mirror rows
// labelled with the image's own class teach the head that a left arrow is a right arrow. Does labelling each mirror
// row with its class's mirror twin (detected on the training images) beat plain mirror rows?
// Usage: npm run build && node bench/mirror-pairs.mjs [--datasets gtsrb43] [--backbones int8,tm] [--seeds 1,2,3]
import { appendFileSync } from 'node:fs';
import { extractHeadFeatures } from '../dist/recipes/extract-head-features.js';
import { scanDataset } from '../dist/data/scan-dataset.js';
import { fitLinearHead } from '../dist/learn/select/fit-linear-head.js';
import { assignFolds, groupKeys } from '../dist/learn/select/folds.js';
import { denseForward } from '../dist/core/dense-layer.js';
import { cacheDir, graftBackbones, groupBy, testDirOf, trainBackbone, trainDirOf } from './reference.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
const datasets = opt('datasets', 'gtsrb43').split(',');
const backbones = opt('backbones', 'int8,tm').split(',');
const seeds = opt('seeds', '1,2,3').split(',').map(Number);
const outFile = opt('out', 'bench/out/mirror-pairs.jsonl');
// --debug prints, for each class, the three classes its mirror images are named most often (out of fold).

async function features(dir, bb, classNames) {
  const ds = await scanDataset(dir);
  const names = classNames ?? [...new Set(ds.items.map((i) => i.label))].sort();
  const files = ds.items.map((i) => i.file);
  const f = await extractHeadFeatures(files, { ...trainBackbone(graftBackbones[bb]), cacheDir, mirror: true });
  const keep = files.flatMap((_, i) => (f.vectors[i] && f.mirrored[i] ? [i] : []));
  const dim = f.backbone.featureDim;
  const matrix = (vs) => ({ data: Float32Array.from(keep.flatMap((i) => [...vs[i]])), count: keep.length, dim });
  return { names, files: keep.map((i) => files[i]), labels: Int32Array.from(keep, (i) => names.indexOf(ds.items[i].label)), plain: matrix(f.vectors), mirrored: matrix(f.mirrored) };
}

const predict = (layers, m, i) => denseForward(layers, m.data.subarray(i * m.dim, (i + 1) * m.dim));
const argmax = (p) => p.indexOf(Math.max(...p));

for (const name of datasets) {
  for (const bb of backbones) {
    const train = await features(trainDirOf(name), bb);
    const test = await features(testDirOf(name), bb, train.names);
    const k = train.names.length;
    const groups = groupBy[name] ? groupKeys(train.files, groupBy[name]) : undefined;
    for (const seed of seeds) {
      const base = { classWeights: 'balanced', maxFolds: 'auto', seed };
      // 1. A head on plain rows only; how it names each class's mirror images (never trained on).
      const plainHead = await fitLinearHead({ plain: train.plain, labels: train.labels, classNames: train.names, files: train.files, ...(groups ? { groups } : {}) }, { ...base, c: 'auto', trainViews: 'plain', tta: false });
      // Out of fold: a head that saw an image names its mirror image as that image (the features barely change).
      const named = Array.from({ length: k }, () => new Float64Array(k));
      const count = new Float64Array(k);
      const { fold, k: folds } = assignFolds(train.labels, train.names, groups, seed, 5);
      for (let f = 0; f < folds; f++) {
        const inFold = [...train.labels.keys()].filter((i) => fold[i] !== f);
        const pick = (m) => ({ data: Float32Array.from(inFold.flatMap((i) => [...m.data.subarray(i * m.dim, (i + 1) * m.dim)])), count: inFold.length, dim: m.dim });
        const head = await fitLinearHead({ plain: pick(train.plain), labels: Int32Array.from(inFold, (i) => train.labels[i]), classNames: train.names, files: inFold.map((i) => train.files[i]) }, { ...base, c: plainHead.c, trainViews: 'plain', tta: false, crossValidate: false });
        for (let i = 0; i < train.plain.count; i++) {
          if (fold[i] !== f) continue;
          named[train.labels[i]][argmax(predict(head.layers, train.mirrored, i))]++;
          count[train.labels[i]]++;
        }
      }
      if (args.includes('--debug')) {
        for (let a = 0; a < k; a++) {
          const top = [...named[a]].map((v, b) => [b, v / count[a]]).sort((x, y) => y[1] - x[1]).slice(0, 3);
          console.log(train.names[a], top.map(([b, f]) => `${train.names[b]}:${f.toFixed(2)}`).join(' '));
        }
      }
      // Twins: a and b whose mirror images are mostly named as each other.
      const twin = Int32Array.from({ length: k }, (_, a) => a);
      const pairs = [];
      for (let a = 0; a < k; a++) {
        for (let b = a + 1; b < k; b++) {
          if (named[a][b] / count[a] > 0.5 && named[b][a] / count[b] > 0.5) {
            twin[a] = b;
            twin[b] = a;
            pairs.push([train.names[a], train.names[b], (named[a][b] / count[a]).toFixed(2), (named[b][a] / count[b]).toFixed(2)]);
          }
        }
      }
      // 2. Mirror rows labelled as their twin's, an image's two rows in one group.
      const n = train.plain.count;
      const rows = { data: new Float32Array(2 * n * train.plain.dim), count: 2 * n, dim: train.plain.dim };
      rows.data.set(train.plain.data);
      rows.data.set(train.mirrored.data, n * train.plain.dim);
      const rowLabels = Int32Array.from({ length: 2 * n }, (_, r) => (r < n ? train.labels[r] : twin[train.labels[r - n]]));
      const rowGroups = Array.from({ length: 2 * n }, (_, r) => (groups ? groups[r % n] : `img${r % n}`));
      const swapped = await fitLinearHead({ plain: rows, labels: rowLabels, classNames: train.names, files: [...train.files, ...train.files], groups: rowGroups }, { ...base, c: 'auto', trainViews: 'plain', tta: false });
      // 3. The default's family with plain mirror rows, for like-for-like (mirror rows and TTA chosen by CV).
      const usual = await fitLinearHead({ plain: train.plain, mirrored: train.mirrored, labels: train.labels, classNames: train.names, files: train.files, ...(groups ? { groups } : {}) }, { ...base, c: 'auto', trainViews: 'auto', tta: 'auto' });
      const score = (layers, tta, perm) => {
        let right = 0;
        for (let i = 0; i < test.plain.count; i++) {
          const p = predict(layers, test.plain, i);
          if (tta) {
            const m = predict(layers, test.mirrored, i);
            for (let c = 0; c < k; c++) p[c] = (p[c] + m[perm[c]]) / 2;
          }
          if (argmax(p) === test.labels[i]) right++;
        }
        return Number((right / test.plain.count).toFixed(4));
      };
      const identity = Int32Array.from({ length: k }, (_, c) => c);
      const row = {
        dataset: name, backbone: bb, seed, pairs,
        plainOnly: score(plainHead.layers, false, identity),
        usual: score(usual.layers, usual.tta, identity), usualChoice: { trainViews: usual.trainViews, tta: usual.tta, c: usual.c },
        swapped: score(swapped.layers, false, identity), swappedTta: score(swapped.layers, true, twin), swappedC: swapped.c,
      };
      console.log(JSON.stringify(row));
      appendFileSync(outFile, `${JSON.stringify(row)}\n`);
    }
  }
}
