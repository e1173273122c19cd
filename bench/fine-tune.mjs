// Fine-tuning acceptance (issue 4): accuracy over seeds, time to accuracy against PyTorch's tutorial recipe, and
// training throughput against PyTorch's fine-tuning steps, all in one run.
// Usage: npm run build && node bench/fine-tune.mjs [accuracy|time|all] [--seeds 1,2,3] [--no-pytorch]
//   GRAFT_SHARED_DIR points at ../shared; PYTHON at a Python with torch + torchvision (default /usr/bin/python3).
// Prints one JSON line per run; the PyTorch line comes first so every ratio is against the same session.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repoRoot = resolve(fileURLToPath(import.meta.url), '../..');
const shared = resolve(process.env.GRAFT_SHARED_DIR ?? join(repoRoot, '../shared'));
const { train } = await import(pathToFileURL(join(repoRoot, 'dist/recipes/train.js')).href);
const what = process.argv[2] ?? 'all';
const seedsArg = process.argv.indexOf('--seeds');
const seeds = seedsArg > 0 ? process.argv[seedsArg + 1].split(',').map(Number) : [1, 2, 3];
const print = (o) => console.log(JSON.stringify(o));

const int8 = join(shared, 'models/mobilenetv2-int8-onnx/mobilenetv2-12-int8.onnx');
const tm035 = join(shared, 'models/tm-mobilenetv2-035/base/model.json');
const hymenoptera = { train: join(shared, 'datasets/hymenoptera/train'), val: join(shared, 'datasets/hymenoptera/val') };
const flowers12 = { train: join(shared, 'datasets/flowers12/train'), val: join(shared, 'datasets/flowers12/test') };

let pytorch;
if (!process.argv.includes('--no-pytorch')) {
  const python = process.env.PYTHON ?? '/usr/bin/python3';
  const started = performance.now();
  const out = execFileSync(python, [join(shared, 'reference/pytorch_baseline.py'), hymenoptera.train], { encoding: 'utf8', maxBuffer: 1 << 24 });
  pytorch = JSON.parse(out.trim().split('\n').pop());
  print({ kind: 'pytorch', ...pytorch, tutorial_25_epochs_s: Math.round(pytorch.tutorial_epoch_s * 25 * 10) / 10, wall_s: Math.round((performance.now() - started) / 100) / 10 });
}

/** One cold run (fresh cache): the wall time a user waits, extraction included. */
async function run(label, dataset, backbone, seed, fineTune = {}) {
  const cacheDir = mkdtempSync(join(tmpdir(), 'graft-ft-cache-'));
  const out = mkdtempSync(join(tmpdir(), 'graft-ft-out-'));
  try {
    const started = performance.now();
    const r = await train({ ...dataset, backbone, out: join(out, 'model'), cacheDir, config: { seed }, fineTune });
    const wall = (performance.now() - started) / 1000;
    const row = {
      kind: 'fine-tune',
      label,
      seed,
      accuracy: Number(r.val.accuracy.toFixed(4)),
      headOnlyAccuracy: r.fineTune?.headOnly ? Number(r.fineTune.headOnly.accuracy.toFixed(4)) : undefined,
      cut: r.fineTune?.cut.description,
      bestEpoch: r.fineTune?.bestEpoch,
      history: r.fineTune?.history.map((h) => Number((h.val_acc ?? h.acc).toFixed(4))),
      trainImgPerSec: r.fineTune?.trainImgPerSec,
      timings: { ...r.timings, ...(r.fineTune ? r.fineTune.timings : {}) },
      wall_s: Number(wall.toFixed(1)),
    };
    if (pytorch) {
      row.vsTutorial25Epochs = Number((wall / (pytorch.tutorial_epoch_s * 25)).toFixed(3));
      if (r.fineTune) row.vsPytorchTopImgPerSec = Number((r.fineTune.trainImgPerSec / pytorch.finetune_top_img_s).toFixed(2));
    }
    print(row);
    return row;
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  }
}

function summary(label, rows) {
  const accs = rows.map((r) => r.accuracy);
  const mean = accs.reduce((a, b) => a + b, 0) / accs.length;
  const sd = Math.sqrt(accs.reduce((a, b) => a + (b - mean) ** 2, 0) / accs.length);
  print({ kind: 'summary', label, seeds, mean: Number(mean.toFixed(4)), sd: Number(sd.toFixed(4)), min: Math.min(...accs), max: Math.max(...accs) });
}

if (what === 'time' || what === 'all') {
  // Time to accuracy on hymenoptera with the default recipe, cold, against 25 epochs of the PyTorch tutorial.
  const rows = [];
  for (const seed of seeds) rows.push(await run('hymenoptera int8 1.0 default fine-tune', hymenoptera, int8, seed, {}));
  summary('hymenoptera int8 1.0 default fine-tune', rows);
}
if (what === 'accuracy' || what === 'all') {
  for (const [label, dataset, backbone] of [
    ['flowers12 TM 0.35 fine-tune', flowers12, tm035],
    ['flowers12 int8 1.0 fine-tune', flowers12, int8],
  ]) {
    const rows = [];
    for (const seed of seeds) rows.push(await run(label, dataset, backbone, seed, {}));
    summary(label, rows);
  }
}
