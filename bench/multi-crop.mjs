// Would more crops help the default head? Ten-crop test-time augmentation (the 0.875 crop at the centre and the four
// corners, each with its mirror image) against the default's two views (the centre crop and its mirror), and the same
// ten views as training rows. Features are dumped here with onnxruntime and sharp (the two-scale view
// [0.875 crop | whole square] that `graft train` uses, resized by sharp, not inside the graph), each variant is
// trained by Graft's own fitLinearHead (C, mirror rows and TTA chosen by CV on train, as the default), and the test
// folder is scored once per variant. `outOfFold` simulates a CV choice between the default and crop rows: each
// variant's log-loss on held-out images' centre views, same folds. Results and reading: RESULTS.md, "What the recipe
// is", item 12. `meanCrops`: one row per image, its crop half the mean of the five crops' features.
// Usage: npm run build && node bench/multi-crop.mjs [--datasets a,b | --train dir --test dir --name label]
//        [--backbones int8,tm] [--seeds 1,2,3] [--out file] [--cache dir (the dumped views, reused)]
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import { fitLinearHead } from '../dist/learn/select/fit-linear-head.js';
import { groupBy, referenceBackbones, testDirOf, trainDirOf } from './reference.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
const outFile = opt('out', 'bench/out/multi-crop.jsonl');
mkdirSync('bench/out', { recursive: true });
const wanted = opt('backbones', 'int8,tm');
const backbones = referenceBackbones(mkdtempSync(join(tmpdir(), 'graft-multi-crop-')), wanted);
const layouts = { int8: { nhwc: false, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }, tm: { nhwc: true, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] } };
const SIZE = 224;
const BIG = 256; // 224 / 0.875
// The five crops of the 256 square: centre first, then the corners.
const OFFSETS = [[16, 16], [0, 0], [32, 0], [0, 32], [32, 32]];

function listImages(dir) {
  const classes = readdirSync(dir).filter((c) => statSync(join(dir, c)).isDirectory()).sort();
  return { classes, files: classes.flatMap((c, i) => readdirSync(join(dir, c)).sort().map((f) => ({ file: join(dir, c, f), name: f, label: i }))) };
}

function mirror(px, size) {
  const out = Buffer.alloc(px.length);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) for (let c = 0; c < 3; c++) out[(y * size + x) * 3 + c] = px[(y * size + size - 1 - x) * 3 + c];
  return out;
}

/** The twelve 224 views of an image: five crops and the whole square, plain then mirrored. */
async function viewsOf(file) {
  const base = () => sharp(file, { pages: 1 }).rotate().removeAlpha().toColourspace('srgb');
  const big = (await base().resize(BIG, BIG, { fit: 'cover', kernel: 'linear' }).raw().toBuffer());
  const whole = (await base().resize(SIZE, SIZE, { fit: 'cover', kernel: 'linear' }).raw().toBuffer());
  const crop = (px, [ox, oy]) => {
    const out = Buffer.alloc(SIZE * SIZE * 3);
    for (let y = 0; y < SIZE; y++) px.copy(out, y * SIZE * 3, ((y + oy) * BIG + ox) * 3, ((y + oy) * BIG + ox + SIZE) * 3);
    return out;
  };
  const plain = [...OFFSETS.map((o) => crop(big, o)), whole];
  const bigM = mirror(big, BIG);
  const mirrored = [...OFFSETS.map((o) => crop(bigM, o)), mirror(whole, SIZE)];
  return [...plain, ...mirrored];
}

/** Features [12 views][images * dim] of every image. */
async function dump(session, layout, files) {
  const P = SIZE * SIZE;
  const views = Array.from({ length: 12 }, () => []);
  let dim = 0;
  for (let b = 0; b < files.length; b += 4) {
    const chunk = files.slice(b, b + 4);
    const all = await Promise.all(chunk.map((f) => viewsOf(f.file)));
    const data = new Float32Array(chunk.length * 12 * 3 * P);
    all.forEach((imgViews, i) => imgViews.forEach((px, v) => {
      const k = i * 12 + v;
      for (let p = 0; p < P; p++) for (let c = 0; c < 3; c++) data[k * 3 * P + (layout.nhwc ? p * 3 + c : c * P + p)] = (px[p * 3 + c] / 255 - layout.mean[c]) / layout.std[c];
    }));
    const shape = layout.nhwc ? [chunk.length * 12, SIZE, SIZE, 3] : [chunk.length * 12, 3, SIZE, SIZE];
    const r = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', data, shape) });
    const o = r[session.outputNames.at(-1)].data;
    dim = o.length / (chunk.length * 12);
    for (let i = 0; i < chunk.length; i++) for (let v = 0; v < 12; v++) views[v].push(o.slice((i * 12 + v) * dim, (i * 12 + v + 1) * dim));
  }
  return { dim, views };
}

const cacheDir = opt('cache', join(tmpdir(), 'graft-multi-crop-cache'));
mkdirSync(cacheDir, { recursive: true });

/** dump(), kept in cacheDir as raw float32 (one file per set: 12 views x images x dim). */
async function cachedDump(session, layout, files, key) {
  const file = join(cacheDir, `${key}.f32`);
  if (existsSync(file)) {
    const { dim, count } = JSON.parse(readFileSync(`${file}.json`, 'utf8'));
    const all = new Float32Array(readFileSync(file).buffer.slice(0));
    return { dim, views: Array.from({ length: 12 }, (_, v) => Array.from({ length: count }, (_, i) => all.subarray((v * count + i) * dim, (v * count + i + 1) * dim))) };
  }
  const d = await dump(session, layout, files);
  const count = d.views[0].length;
  const all = new Float32Array(12 * count * d.dim);
  d.views.forEach((rows, v) => rows.forEach((r, i) => all.set(r, (v * count + i) * d.dim)));
  writeFileSync(file, all);
  writeFileSync(`${file}.json`, JSON.stringify({ dim: d.dim, count }));
  return d;
}

/** [crop view | whole view] rows for the given crop index, plain or mirrored. */
function twoScale(d, cropIndex, mirrored) {
  const n = d.views[0].length;
  const out = new Float32Array(n * 2 * d.dim);
  const c = d.views[cropIndex + (mirrored ? 6 : 0)];
  const w = d.views[5 + (mirrored ? 6 : 0)];
  for (let i = 0; i < n; i++) {
    out.set(c[i], i * 2 * d.dim);
    out.set(w[i], i * 2 * d.dim + d.dim);
  }
  return { data: out, count: n, dim: 2 * d.dim };
}

/** [mean of the five crop views | whole view] rows, plain or mirrored. */
function meanCrops(d, mirrored) {
  const m = twoScale(d, 0, mirrored);
  for (const c of [1, 2, 3, 4]) {
    const other = twoScale(d, c, mirrored);
    for (let i = 0; i < m.count; i++) for (let j = 0; j < d.dim; j++) m.data[i * m.dim + j] += other.data[i * m.dim + j];
  }
  for (let i = 0; i < m.count; i++) for (let j = 0; j < d.dim; j++) m.data[i * m.dim + j] /= 5;
  return m;
}

function stack(matrices) {
  const dim = matrices[0].dim;
  const count = matrices.reduce((s, m) => s + m.count, 0);
  const data = new Float32Array(count * dim);
  let at = 0;
  for (const m of matrices) {
    data.set(m.data, at);
    at += m.data.length;
  }
  return { data, count, dim };
}

function probabilities(layer, m) {
  const k = layer.outputDim;
  const out = new Float64Array(m.count * k);
  for (let i = 0; i < m.count; i++) {
    const logits = new Float64Array(k);
    for (let o = 0; o < k; o++) logits[o] = layer.bias[o];
    for (let j = 0; j < m.dim; j++) {
      const x = m.data[i * m.dim + j];
      if (x === 0) continue;
      for (let o = 0; o < k; o++) logits[o] += x * layer.weight[j * k + o];
    }
    const max = Math.max(...logits);
    let sum = 0;
    for (let o = 0; o < k; o++) sum += (logits[o] = Math.exp(logits[o] - max));
    for (let o = 0; o < k; o++) out[i * k + o] = logits[o] / sum;
  }
  return out;
}

function accuracyOf(views, layer, labels) {
  const k = layer.outputDim;
  const probs = views.map((m) => probabilities(layer, m));
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    let bestP = -1;
    for (let o = 0; o < k; o++) {
      const p = probs.reduce((s, pr) => s + pr[i * k + o], 0);
      if (p > bestP) [best, bestP] = [o, p];
    }
    if (best === labels[i]) correct++;
  }
  return Number((correct / labels.length).toFixed(4));
}

function rowsOf(m, indices) {
  const data = new Float32Array(indices.length * m.dim);
  indices.forEach((r, j) => data.set(m.data.subarray(r * m.dim, (r + 1) * m.dim), j * m.dim));
  return { data, count: indices.length, dim: m.dim };
}

/** Folds by group, stratified by each group's first image's class, shuffled by seed. */
function foldsOf(labels, groups, k, seed) {
  let state = seed * 2654435761 >>> 0;
  const random = () => ((state = (state * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  const classOfGroup = new Map();
  groups.forEach((g, i) => classOfGroup.has(g) || classOfGroup.set(g, labels[i]));
  const foldOfGroup = new Map();
  const byClass = new Map();
  for (const [g, c] of classOfGroup) byClass.set(c, [...(byClass.get(c) ?? []), g]);
  let offset = 0;
  for (const gs of byClass.values()) {
    for (let i = gs.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [gs[i], gs[j]] = [gs[j], gs[i]];
    }
    gs.forEach((g, j) => foldOfGroup.set(g, (offset + j) % k));
    offset += gs.length;
  }
  return groups.map((g) => foldOfGroup.get(g));
}

/**
 * Out-of-fold log-loss (class-weighted as Graft's CV) on the centre views of held-out images, of heads with fixed
 * choices trained by `rowsFor(trainImages)` on the other folds.
 */
async function outOfFoldLoss({ labels, classNames, groups, seed, choice, rowsFor, centre }) {
  const n = labels.length;
  const k = n < 2000 ? 5 : 3;
  const fold = foldsOf(labels, groups, k, seed);
  const counts = new Float64Array(classNames.length);
  labels.forEach((l) => counts[l]++);
  const weight = (l) => n / (classNames.length * counts[l]);
  let loss = 0;
  let total = 0;
  for (let f = 0; f < k; f++) {
    const trainImages = [...labels.keys()].filter((i) => fold[i] !== f);
    const held = [...labels.keys()].filter((i) => fold[i] === f);
    const head = await fitLinearHead({ ...rowsFor(trainImages), classNames, files: [] }, { c: choice.c, trainViews: choice.trainViews, tta: choice.tta, classWeights: 'balanced', maxFolds: 'auto', crossValidate: false, seed });
    const layer = head.layers[0];
    const views = (choice.tta ? centre : centre.slice(0, 1)).map((m) => probabilities(layer, rowsOf(m, held)));
    held.forEach((image, j) => {
      const p = views.reduce((s, pr) => s + pr[j * classNames.length + labels[image]], 0) / views.length;
      loss -= weight(labels[image]) * Math.log(Math.max(p, 1e-15));
      total += weight(labels[image]);
    });
  }
  return loss / total;
}

// Any folders too (e.g. the ones digits.mjs or fashion-mnist.mjs wrote): --train <dir> --test <dir> --name <label>.
const folders = opt('train') ? { [opt('name', 'folders')]: { train: opt('train'), test: opt('test') } } : undefined;
for (const name of folders ? Object.keys(folders) : opt('datasets', 'hymenoptera,flowers12,dtd10,plantseedlings12,gtsrb43').split(',')) {
  const train = listImages(folders?.[name].train ?? trainDirOf(name));
  const test = listImages(folders?.[name].test ?? testDirOf(name));
  const pattern = groupBy[name] && new RegExp(groupBy[name]);
  const groups = pattern ? train.files.map((f) => f.name.match(pattern)?.[1] ?? f.name) : undefined;
  for (const bb of wanted.split(',')) {
    const session = await ort.InferenceSession.create(backbones[bb].dump, { graphOptimizationLevel: 'all', intraOpNumThreads: 2 });
    const t = performance.now();
    const [tr, te] = [await cachedDump(session, layouts[bb], train.files, `${name}-${bb}-train`), await cachedDump(session, layouts[bb], test.files, `${name}-${bb}-test`)];
    const dumpSeconds = (performance.now() - t) / 1000;
    const labels = Int32Array.from(train.files, (f) => f.label);
    const testLabels = test.files.map((f) => f.label);
    const testCentre = [twoScale(te, 0, false), twoScale(te, 0, true)];
    const testTen = [0, 1, 2, 3, 4].flatMap((c) => [twoScale(te, c, false), twoScale(te, c, true)]);
    const testFivePlain = [0, 1, 2, 3, 4].map((c) => twoScale(te, c, false));
    for (const seed of opt('seeds', '1,2,3').split(',').map(Number)) {
      const base = { c: 'auto', trainViews: 'auto', tta: 'auto', classWeights: 'balanced', maxFolds: 'auto', seed };
      const fileNames = train.files.map((f) => f.file);
      let t0 = performance.now();
      const head = await fitLinearHead({ plain: twoScale(tr, 0, false), mirrored: twoScale(tr, 0, true), labels, classNames: train.classes, files: fileNames, ...(groups ? { groups } : {}) }, base);
      const headSeconds = (performance.now() - t0) / 1000;
      const layer = head.layers[0];
      const row = {
        dataset: name, backbone: bb, seed, dumpSeconds: Number(dumpSeconds.toFixed(1)),
        chosen: { c: head.c, trainViews: head.trainViews, tta: head.tta },
        // The default: the centre crop, with its mirror when CV chose TTA.
        default: accuracyOf(head.tta ? testCentre : testCentre.slice(0, 1), layer, testLabels),
        tenCrop: accuracyOf(testTen, layer, testLabels),
        // Five crops, mirrored only where CV chose TTA.
        fiveCrop: accuracyOf(head.tta ? testTen : testFivePlain, layer, testLabels),
      };
      // The five crops as training rows too (each image's crops share its group, so they share a fold).
      const n = labels.length;
      const imageGroups = groups ?? train.files.map((f) => f.file);
      t0 = performance.now();
      const rowsHead = await fitLinearHead({
        plain: stack([0, 1, 2, 3, 4].map((c) => twoScale(tr, c, false))),
        mirrored: stack([0, 1, 2, 3, 4].map((c) => twoScale(tr, c, true))),
        labels: Int32Array.from({ length: 5 * n }, (_, r) => labels[r % n]),
        classNames: train.classes,
        files: Array.from({ length: 5 * n }, (_, r) => fileNames[r % n]),
        groups: Array.from({ length: 5 * n }, (_, r) => imageGroups[r % n]),
      }, base);
      // Selection and final fit, in this process (the harness's only timing: the dumps are not Graft's extraction).
      row.headSeconds = { default: Number(headSeconds.toFixed(2)), cropRows: Number(((performance.now() - t0) / 1000).toFixed(2)) };
      const trainCentre = [twoScale(tr, 0, false), twoScale(tr, 0, true)];
      const trainCrops = [0, 1, 2, 3, 4].map((c) => [twoScale(tr, c, false), twoScale(tr, c, true)]);
      const common = { labels, classNames: train.classes, groups: imageGroups, seed, centre: trainCentre };
      const oofDefault = await outOfFoldLoss({ ...common, choice: row.chosen, rowsFor: (ims) => ({ plain: rowsOf(trainCentre[0], ims), mirrored: rowsOf(trainCentre[1], ims), labels: Int32Array.from(ims, (i) => labels[i]) }) });
      const oofRows = await outOfFoldLoss({ ...common, choice: { c: rowsHead.c, trainViews: rowsHead.trainViews, tta: rowsHead.tta }, rowsFor: (ims) => ({ plain: stack(trainCrops.map(([p]) => rowsOf(p, ims))), mirrored: stack(trainCrops.map(([, m]) => rowsOf(m, ims))), labels: Int32Array.from({ length: 5 * ims.length }, (_, r) => labels[ims[r % ims.length]]) }) });
      row.outOfFold = { default: Number(oofDefault.toFixed(5)), cropRows: Number(oofRows.toFixed(5)) };
      row.cropRows = { chosen: { c: rowsHead.c, trainViews: rowsHead.trainViews, tta: rowsHead.tta }, tenCrop: accuracyOf(testTen, rowsHead.layers[0], testLabels), centre: accuracyOf(rowsHead.tta ? testCentre : testCentre.slice(0, 1), rowsHead.layers[0], testLabels) };
      // One row per image, its crop half the mean of the five crops' (the head's cost unchanged), tested on the centre views.
      const trainMean = [meanCrops(tr, false), meanCrops(tr, true)];
      const meanHead = await fitLinearHead({ plain: trainMean[0], mirrored: trainMean[1], labels, classNames: train.classes, files: fileNames, ...(groups ? { groups } : {}) }, base);
      const oofMean = await outOfFoldLoss({ ...common, choice: { c: meanHead.c, trainViews: meanHead.trainViews, tta: meanHead.tta }, rowsFor: (ims) => ({ plain: rowsOf(trainMean[0], ims), mirrored: rowsOf(trainMean[1], ims), labels: Int32Array.from(ims, (i) => labels[i]) }) });
      row.meanCrops = { chosen: { c: meanHead.c, trainViews: meanHead.trainViews, tta: meanHead.tta }, centre: accuracyOf(meanHead.tta ? testCentre : testCentre.slice(0, 1), meanHead.layers[0], testLabels), outOfFold: Number(oofMean.toFixed(5)) };
      console.log(JSON.stringify(row));
      appendFileSync(outFile, `${JSON.stringify(row)}\n`);
    }
    await session.release();
  }
}
