// Feature-extraction benchmark: Graft vs its references, in one run on the same machine.
//   1. PyTorch reference: ../shared/reference/pytorch_baseline.py --only extract (decode + resize + MobileNetV2
//      forward, DataLoader batch 32): extract_img_s.
//   2. Raw ORT on pre-decoded tensors (the decode-free limit): the same model and session options Graft uses.
//   3. Decode alone (sharp, 4 in flight), and the end-to-end ceiling 1 / (1/decode + 1/forward) (DESIGN.md).
//   4. `graft embed` end to end, cold cache (decode included), as a user runs it: its own img/s and wall time.
//   5. `graft train` cold and then warm (same data, other head): extraction time of each.
// Usage: npm run build && node bench/extract.mjs [dataset-dir] [--model file.onnx] [--skip-torch]
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scanDataset } from '../dist/data/scan-dataset.js';
import { decodeAll } from '../dist/data/decode-stream.js';
import { openBackbone } from '../dist/engine/open-backbone.js';
import { resolveBackbone } from '../dist/hub/resolve-backbone.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const shared = resolve(process.env.GRAFT_SHARED_DIR ?? join(repo, '../shared'));
const args = process.argv.slice(2);
const flag = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const dataset = resolve(args.find((a) => !a.startsWith('--') && a !== flag('--model')) ?? join(shared, 'datasets/hymenoptera/train'));
// --model takes a path or a catalogue name (e.g. nsfwjs_mobilenet_v2: a float MobileNetV2 1.0, exported to ONNX by Graft).
const modelFlag = flag('--model') ?? join(shared, 'models/mobilenetv2-int8-onnx/mobilenetv2-12-int8.onnx');
const modelPath = existsSync(modelFlag) ? resolve(modelFlag) : modelFlag;
const graft = join(repo, 'bin/graft.js');
const results = { dataset, model: modelPath };
const round = (x) => Math.round(x * 10) / 10;

function cli(argv, cacheDir) {
  const t = performance.now();
  const run = spawnSync(process.execPath, [graft, ...argv, '--json'], { env: { ...process.env, GRAFT_CACHE_DIR: cacheDir }, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (run.status !== 0) throw new Error(`graft ${argv.join(' ')} failed:\n${run.stderr}`);
  return { json: JSON.parse(run.stdout), wall_s: (performance.now() - t) / 1000 };
}

// 1. PyTorch reference.
if (!args.includes('--skip-torch')) {
  const out = execFileSync('/usr/bin/python3', [join(shared, 'reference/pytorch_baseline.py'), dataset, '--only', 'extract'], { encoding: 'utf8' });
  results.pytorch = JSON.parse(out.trim().split('\n').pop());
}

// 2-3. Decode alone, then raw ORT on the decoded tensors.
const files = (await scanDataset(dataset)).items.map((i) => i.file);
const handle = await openBackbone(await resolveBackbone(modelPath, { cacheDir: mkdtempSync(join(tmpdir(), 'graft-bench-')) }), { cacheDir: tmpdir() });
const pre = handle.info.preprocessing;
let t = performance.now();
const tensors = [];
for await (const item of decodeAll(files, pre, { concurrency: 4 })) tensors.push(item.data);
results.decode_img_s = round(tensors.length / ((performance.now() - t) / 1000));
const backbone = await handle.load();
const size = pre.inputSize ** 2 * 3;
const batch = 16;
const runAll = async () => {
  for (let i = 0; i < tensors.length; i += batch) {
    const n = Math.min(batch, tensors.length - i);
    const input = new Float32Array(n * size);
    for (let j = 0; j < n; j++) input.set(tensors[i + j], j * size);
    await backbone.embed(input, n);
  }
};
await runAll(); // warm-up
t = performance.now();
await runAll();
results.raw_ort_forward_img_s = round(tensors.length / ((performance.now() - t) / 1000));
await backbone.dispose();
results.ceiling_img_s = round(1 / (1 / results.decode_img_s + 1 / results.raw_ort_forward_img_s));

// 4. graft embed, cold cache: one view per image (what the raw ORT reference runs: the ratios below), and the default
// (two scales and the mirror image: four backbone passes per image, what graft train reads).
const embed = (flags) => {
  const run = cli(['embed', dataset, '--backbone', modelPath, ...flags], mkdtempSync(join(tmpdir(), 'graft-bench-cache-')));
  return { img_per_s: run.json.img_per_s, seconds: run.json.seconds, wall_s: round(run.wall_s), computed: run.json.computed, wall_img_s: round(run.json.computed / run.wall_s) };
};
results.graft_embed = embed(['--no-multi-scale', '--no-mirror']);
results.graft_embed_default = { ...embed([]), passes_per_image: 4 };

// 5. graft train cold, then warm with another head.
const trainCache = mkdtempSync(join(tmpdir(), 'graft-bench-cache-'));
const out = mkdtempSync(join(tmpdir(), 'graft-bench-model-'));
const coldTrain = cli(['train', dataset, '--val-split', '0.2', '--backbone', modelPath, '--out', join(out, 'a')], trainCache);
const warmTrain = cli(['train', dataset, '--val-split', '0.2', '--backbone', modelPath, '--hidden', '1024', '--out', join(out, 'b')], trainCache);
results.train = {
  cold_extract_s: coldTrain.json.timings.extract_s,
  warm_extract_s: warmTrain.json.timings.extract_s,
  warm_backbone_computed: warmTrain.json.features.computed,
  warm_over_cold: Math.round((warmTrain.json.timings.extract_s / coldTrain.json.timings.extract_s) * 1000) / 1000,
};

results.ratios = {
  graft_embed_over_pytorch_extract: results.pytorch ? round(results.graft_embed.img_per_s / results.pytorch.extract_img_s) : null,
  graft_embed_over_raw_ort: Math.round((results.graft_embed.img_per_s / results.raw_ort_forward_img_s) * 100) / 100,
  graft_embed_over_ceiling: Math.round((results.graft_embed.img_per_s / results.ceiling_img_s) * 100) / 100,
};
console.log(JSON.stringify(results, null, 2));
