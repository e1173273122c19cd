// Would more crops help the default head? Ten-crop test-time augmentation (the 0.875 crop at the centre and the four
// corners, each with its mirror image) against the default's two views (the centre crop and its mirror), and the same
// ten views as training rows. Features are dumped here with onnxruntime and sharp (the two-scale view
// [0.875 crop | whole square] that `graft train` uses, resized by sharp, not inside the graph), each variant is
// trained by Graft's own fitLinearHead (C, mirror rows and TTA chosen by CV on train, as the default), and the test
// folder is scored once per variant. `outOfFold` simulates a CV choice between the default and crop rows: each
// variant's log-loss on held-out images' centre views, in Graft's own folds. Results and reading: RESULTS.md, "What the recipe
// is", item 12. `meanCrops`: one row per image, its crop half the mean of the five crops' features.
// `--c-factors 1,0.316,...` runs only crop rows at the default's chosen C times each factor (out-of-fold log-loss and
// test accuracy): how `graft train`'s crop-row candidates were placed (RESULTS.md, item 12, "Built"). `--mirror-mean`
// runs only the default and one row per image averaging its centre view's features with its mirror's (item 14).
// Usage: npm run build && node bench/multi-crop.mjs [--datasets a,b | --train dir --test dir --name label]
//        [--backbones int8,tm] [--seeds 1,2,3] [--out file] [--cache dir (the dumped views, reused)] [--c-factors list | --mirror-mean]
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import { denseForward } from '../dist/core/dense-layer.js';
import { defaultFolds } from '../dist/learn/select/cross-validate.js';
import { fitLinearHead } from '../dist/learn/select/fit-linear-head.js';
import { assignFolds } from '../dist/learn/select/folds.js';
import { groupBy, referenceBackbones, testDirOf, trainDirOf } from './reference.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
const cFactors = opt('c-factors') && opt('c-factors').split(',').map(Number);
const mirrorMean = args.includes('--mirror-mean');
const outFile = opt('out', cFactors ? 'bench/out/multi-crop-c-factors.jsonl' : mirrorMean ? 'bench/out/mirror-mean.jsonl' : 'bench/out/multi-crop.jsonl');
mkdirSync('bench/out', { recursive: true });
const wanted = opt('backbones', 'int8,tm');
const backbones = await referenceBackbones(mkdtempSync(join(tmpdir(), 'graft-multi-crop-')), wanted);
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

const VIEWS = 12;

/** Features of every image's 12 views: `data` is [view][image][dim], flat. */
async function dump(session, layout, files) {
  const P = SIZE * SIZE;
  let data;
  let dim = 0;
  for (let b = 0; b < files.length; b += 4) {
    const chunk = files.slice(b, b + 4);
    const all = await Promise.all(chunk.map((f) => viewsOf(f.file)));
    const input = new Float32Array(chunk.length * VIEWS * 3 * P);
    all.forEach((imgViews, i) => imgViews.forEach((px, v) => {
      const k = i * VIEWS + v;
      for (let p = 0; p < P; p++) for (let c = 0; c < 3; c++) input[k * 3 * P + (layout.nhwc ? p * 3 + c : c * P + p)] = (px[p * 3 + c] / 255 - layout.mean[c]) / layout.std[c];
    }));
    const shape = layout.nhwc ? [chunk.length * VIEWS, SIZE, SIZE, 3] : [chunk.length * VIEWS, 3, SIZE, SIZE];
    const r = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', input, shape) });
    const o = r[session.outputNames.at(-1)].data;
    dim = o.length / (chunk.length * VIEWS);
    data ??= new Float32Array(VIEWS * files.length * dim);
    for (let i = 0; i < chunk.length; i++) for (let v = 0; v < VIEWS; v++) data.set(o.subarray((i * VIEWS + v) * dim, (i * VIEWS + v + 1) * dim), (v * files.length + b + i) * dim);
  }
  return { dim, count: files.length, data };
}

const cacheDir = opt('cache', join(tmpdir(), 'graft-multi-crop-cache'));
mkdirSync(cacheDir, { recursive: true });

/** dump(), kept in cacheDir (the flat float32 data, and its shape beside it). */
async function cachedDump(session, layout, files, key) {
  const file = join(cacheDir, `${key}.f32`);
  if (existsSync(file)) return { ...JSON.parse(readFileSync(`${file}.json`, 'utf8')), data: new Float32Array(readFileSync(file).buffer.slice(0)) };
  const d = await dump(session, layout, files);
  writeFileSync(file, d.data);
  writeFileSync(`${file}.json`, JSON.stringify({ dim: d.dim, count: d.count }));
  return d;
}

/** [crop view | whole view] rows for the given crop index (0: centre), plain or mirrored. */
function twoScale(d, cropIndex, mirrored) {
  const view = (v) => d.data.subarray(v * d.count * d.dim, (v + 1) * d.count * d.dim);
  const [crop, whole] = [view(cropIndex + (mirrored ? 6 : 0)), view(5 + (mirrored ? 6 : 0))];
  const out = new Float32Array(d.count * 2 * d.dim);
  for (let i = 0; i < d.count; i++) {
    out.set(crop.subarray(i * d.dim, (i + 1) * d.dim), i * 2 * d.dim);
    out.set(whole.subarray(i * d.dim, (i + 1) * d.dim), i * 2 * d.dim + d.dim);
  }
  return { data: out, count: d.count, dim: 2 * d.dim };
}

/** The five crops' two-scale rows: [crop][plain, mirrored]. */
const allCrops = (d) => [0, 1, 2, 3, 4].map((c) => [twoScale(d, c, false), twoScale(d, c, true)]);

/** Rows whose crop half is the mean of the five crops' (the whole half is the same in all five). */
function meanOfCrops(crops) {
  const m = { ...crops[0], data: Float32Array.from(crops[0].data) };
  for (const other of crops.slice(1)) for (let j = 0; j < m.data.length; j++) m.data[j] += other.data[j];
  for (let j = 0; j < m.data.length; j++) m.data[j] /= crops.length;
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

function rowsOf(m, indices) {
  const data = new Float32Array(indices.length * m.dim);
  indices.forEach((r, j) => data.set(m.data.subarray(r * m.dim, (r + 1) * m.dim), j * m.dim));
  return { data, count: indices.length, dim: m.dim };
}

/** Each row's class probabilities under the head, [rows][K]. */
const probabilities = (head, m) => Array.from({ length: m.count }, (_, i) => denseForward(head.layers, m.data.subarray(i * m.dim, (i + 1) * m.dim)));

/** The views a head is scored on: the plain one, and its mirror where CV chose test-time augmentation. */
const viewsFor = (head, [plain, mirrored]) => (head.tta ? [plain, mirrored] : [plain]);
const choiceOf = (head) => ({ c: head.c, trainViews: head.trainViews, tta: head.tta });

/** Accuracy of the head on `labels` with each image's probabilities averaged over `views`. */
function accuracyOf(views, head, labels) {
  const probs = views.map((m) => probabilities(head, m));
  const correct = labels.filter((label, i) => {
    const mean = Array.from(probs[0][i], (_, o) => probs.reduce((s, pr) => s + pr[i][o], 0));
    return mean.indexOf(Math.max(...mean)) === label;
  }).length;
  return Number((correct / labels.length).toFixed(4));
}

/**
 * Out-of-fold log-loss (class-weighted as Graft's CV) on the centre views of held-out images, in Graft's own folds,
 * of heads with `choice` fixed, trained by `rowsFor(trainImages)` on the other folds.
 */
async function outOfFoldLoss({ labels, classNames, groups, seed, choice, rowsFor, centre }) {
  const n = labels.length;
  const { k, fold } = assignFolds(labels, classNames, groups, seed, defaultFolds(n));
  const counts = new Float64Array(classNames.length);
  labels.forEach((l) => counts[l]++);
  const weight = (l) => n / (classNames.length * counts[l]);
  let loss = 0;
  let total = 0;
  for (let f = 0; f < k; f++) {
    const trainImages = [...labels.keys()].filter((i) => fold[i] !== f);
    const held = [...labels.keys()].filter((i) => fold[i] === f);
    const head = await fitLinearHead({ ...rowsFor(trainImages), classNames, files: [] }, { ...choice, classWeights: 'balanced', maxFolds: 'auto', crossValidate: false, seed });
    const views = viewsFor(head, centre).map((m) => probabilities(head, rowsOf(m, held)));
    held.forEach((image, j) => {
      const p = views.reduce((s, pr) => s + pr[j][labels[image]], 0) / views.length;
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
    const testCrops = allCrops(te);
    const testCentre = testCrops[0];
    const testTen = testCrops.flat();
    const trainCrops = allCrops(tr);
    const trainCentre = trainCrops[0];
    const trainMean = [0, 1].map((mirrored) => meanOfCrops(trainCrops.map((views) => views[mirrored])));
    const fileNames = train.files.map((f) => f.file);
    // Each image's crops share its group, so they share a fold.
    const imageGroups = groups ?? fileNames;
    const ofImages = (ims) => Int32Array.from(ims, (i) => labels[i]);
    const centreRows = (centre) => (ims) => ({ plain: rowsOf(centre[0], ims), mirrored: rowsOf(centre[1], ims), labels: ofImages(ims) });
    const cropRows = (ims) => ({ plain: stack(trainCrops.map(([p]) => rowsOf(p, ims))), mirrored: stack(trainCrops.map(([, m]) => rowsOf(m, ims))), labels: ofImages([0, 1, 2, 3, 4].flatMap(() => ims)) });
    for (const seed of opt('seeds', '1,2,3').split(',').map(Number)) {
      const base = { c: 'auto', trainViews: 'auto', tta: 'auto', classWeights: 'balanced', maxFolds: 'auto', seed };
      const whole = { labels, classNames: train.classes, files: fileNames, ...(groups ? { groups } : {}) };
      let t0 = performance.now();
      const head = await fitLinearHead({ ...whole, plain: trainCentre[0], mirrored: trainCentre[1] }, base);
      const headSeconds = (performance.now() - t0) / 1000;
      const common = { labels, classNames: train.classes, groups: imageGroups, seed, centre: trainCentre };
      if (cFactors) {
        // Crop rows (with mirror rows, as `graft train` tries them) at C = the default's chosen C times each factor.
        const row = { dataset: name, backbone: bb, seed, chosen: choiceOf(head), default: accuracyOf(viewsFor(head, testCentre), head, testLabels) };
        row.oofDefault = Number((await outOfFoldLoss({ ...common, choice: choiceOf(head), rowsFor: centreRows(trainCentre) })).toFixed(5));
        row.cheap = [];
        for (const factor of cFactors) {
          const choice = { c: head.c * factor, trainViews: 'plain+flip', tta: head.tta };
          const oof = await outOfFoldLoss({ ...common, choice, rowsFor: cropRows });
          const fitted = await fitLinearHead({ ...cropRows([...labels.keys()]), classNames: train.classes, files: [], groups: [0, 1, 2, 3, 4].flatMap(() => imageGroups) }, { ...choice, classWeights: 'balanced', maxFolds: 'auto', crossValidate: false, seed });
          row.cheap.push({ factor: Number(factor.toFixed(3)), oof: Number(oof.toFixed(5)), acc: accuracyOf(viewsFor(fitted, testCentre), fitted, testLabels) });
        }
        console.log(JSON.stringify(row));
        appendFileSync(outFile, `${JSON.stringify(row)}\n`);
        continue;
      }
      if (mirrorMean) {
        // One row per image, the mean of its centre view's and its mirror image's features (mirror of the mean = the
        // mean, so no mirror rows and no TTA), tested on the same means: half the rows of mirror rows.
        const [trainAvg, testAvg] = [trainCentre, testCentre].map(([p, m]) => meanOfCrops([p, m]));
        t0 = performance.now();
        const avgHead = await fitLinearHead({ ...whole, plain: trainAvg }, { ...base, trainViews: 'plain', tta: false });
        const avgSeconds = (performance.now() - t0) / 1000;
        const row = {
          dataset: name, backbone: bb, seed, chosen: choiceOf(head), default: accuracyOf(viewsFor(head, testCentre), head, testLabels),
          mirrorMean: { c: avgHead.c, acc: accuracyOf([testAvg], avgHead, testLabels) },
          headSeconds: { default: Number(headSeconds.toFixed(2)), mirrorMean: Number(avgSeconds.toFixed(2)) },
        };
        console.log(JSON.stringify(row));
        appendFileSync(outFile, `${JSON.stringify(row)}\n`);
        continue;
      }
      t0 = performance.now();
      const rowsHead = await fitLinearHead({ ...cropRows([...labels.keys()]), classNames: train.classes, files: [0, 1, 2, 3, 4].flatMap(() => fileNames), groups: [0, 1, 2, 3, 4].flatMap(() => imageGroups) }, base);
      const rowsSeconds = (performance.now() - t0) / 1000;
      const meanHead = await fitLinearHead({ ...whole, plain: trainMean[0], mirrored: trainMean[1] }, base);
      const row = {
        dataset: name, backbone: bb, seed, dumpSeconds: Number(dumpSeconds.toFixed(1)),
        chosen: choiceOf(head),
        // The default: the centre crop, with its mirror when CV chose TTA.
        default: accuracyOf(viewsFor(head, testCentre), head, testLabels),
        tenCrop: accuracyOf(testTen, head, testLabels),
        // Five crops, mirrored only where CV chose TTA.
        fiveCrop: accuracyOf(head.tta ? testTen : testCrops.map(([plain]) => plain), head, testLabels),
        // Selection and final fit, in this process (the harness's only timing: the dumps are not Graft's extraction).
        headSeconds: { default: Number(headSeconds.toFixed(2)), cropRows: Number(rowsSeconds.toFixed(2)) },
        outOfFold: {
          default: Number((await outOfFoldLoss({ ...common, choice: choiceOf(head), rowsFor: centreRows(trainCentre) })).toFixed(5)),
          cropRows: Number((await outOfFoldLoss({ ...common, choice: choiceOf(rowsHead), rowsFor: cropRows })).toFixed(5)),
        },
        cropRows: { chosen: choiceOf(rowsHead), tenCrop: accuracyOf(testTen, rowsHead, testLabels), centre: accuracyOf(viewsFor(rowsHead, testCentre), rowsHead, testLabels) },
        // One row per image, its crop half the mean of the five crops' (the head's cost unchanged), tested on the centre views.
        meanCrops: {
          chosen: choiceOf(meanHead),
          centre: accuracyOf(viewsFor(meanHead, testCentre), meanHead, testLabels),
          outOfFold: Number((await outOfFoldLoss({ ...common, choice: choiceOf(meanHead), rowsFor: centreRows(trainMean) })).toFixed(5)),
        },
      };
      console.log(JSON.stringify(row));
      appendFileSync(outFile, `${JSON.stringify(row)}\n`);
    }
    await session.release();
  }
}
