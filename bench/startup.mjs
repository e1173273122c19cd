// What a Graft command costs before and around its work, against references in the same run: Node's own start
// (`node -e 0`), and a raw script that does one prediction with onnxruntime and sharp alone (no Graft code: load the
// model directory's model.onnx, resize and normalise one image, run it). Then `graft predict` on the same model and
// image, and a warm `graft train` (features and export cached) on a TF.js backbone and on the ONNX one: the TF.js
// run should cost no more than the ONNX run (tfjs is not loaded when nothing needs building).
// Usage: npm run build && node bench/startup.mjs [--runs 5] [--out file.jsonl]   (default: appends to bench/out/startup.jsonl)
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheDir, shared } from './reference.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
const runs = Number(opt('runs', '5'));
const work = mkdtempSync(join(tmpdir(), 'graft-startup-'));
const env = { ...process.env, GRAFT_CACHE_DIR: cacheDir };
const train = join(shared, 'datasets/hymenoptera/train');
const ants = join(shared, 'datasets/hymenoptera/val/ants');
const image = join(ants, readdirSync(ants).filter((f) => f.endsWith('.jpg')).sort()[0]);
const backbones = {
  onnx: join(shared, 'models/mobilenetv2-int8-onnx/mobilenetv2-12-int8.onnx'),
  tfjs: join(shared, 'models/tm-mobilenetv2-035/base/model.json'),
};

/** Wall seconds of one run of `node argv...`. */
function time(argv) {
  const started = performance.now();
  execFileSync(process.execPath, argv, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  return (performance.now() - started) / 1000;
}

const graft = (...a) => ['bin/graft.js', ...a];
// Features and exports cached, and one model directory per backbone to predict with.
for (const [name, backbone] of Object.entries(backbones)) time(graft('train', train, '--backbone', backbone, '--out', join(work, name), '--json'));

// The reference: one image through model.onnx with onnxruntime and sharp, preprocessing read from graft.json.
const rawScript = join('node_modules', '.cache', 'graft-bench', 'raw-predict.mjs');
mkdirSync(join('node_modules', '.cache', 'graft-bench'), { recursive: true });
writeFileSync(
  rawScript,
  `import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
const [dir, file] = process.argv.slice(2);
const info = JSON.parse(readFileSync(join(dir, 'graft.json'), 'utf8'));
const { inputSize: size, layout, mean, std, scale } = info.preprocessing;
const session = await ort.InferenceSession.create(join(dir, info.files.onnx));
const { data } = await sharp(file).rotate().resize(size, size, { fit: 'cover' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
const x = new Float32Array(size * size * 3);
for (let p = 0; p < size * size; p++) for (let c = 0; c < 3; c++) {
  const v = scale === 'imagenet' ? (data[3 * p + c] / 255 - mean[c]) / std[c] : scale === '-1..1' ? data[3 * p + c] / 127.5 - 1 : data[3 * p + c] / 255;
  x[layout === 'nchw' ? c * size * size + p : 3 * p + c] = v;
}
const shape = layout === 'nchw' ? [1, 3, size, size] : [1, size, size, 3];
const out = await session.run({ [info.onnx.input]: new ort.Tensor('float32', x, shape) }, [info.onnx.probabilities]);
const p = out[info.onnx.probabilities].data;
console.log(info.labels[p.indexOf(Math.max(...p))]);
`,
);

const cases = {
  'node -e 0': ['-e', '0'],
  'raw onnxruntime + sharp predict (onnx model)': [rawScript, join(work, 'onnx'), image],
  'graft predict (onnx model)': graft('predict', join(work, 'onnx'), image, '--json'),
  'graft train, cached (ONNX backbone)': graft('train', train, '--backbone', backbones.onnx, '--out', join(work, 'again-onnx'), '--json'),
  'graft train, cached (TF.js backbone)': graft('train', train, '--backbone', backbones.tfjs, '--out', join(work, 'again-tfjs'), '--json'),
};
// Alternating rounds, so that a slow stretch of a shared machine falls on every case alike.
const seconds = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (let r = 0; r < runs; r++) for (const [name, argv] of Object.entries(cases)) seconds[name].push(time(argv));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const result = Object.fromEntries(Object.entries(seconds).map(([k, v]) => [k, { median: Number(median(v).toFixed(3)), runs: v.map((s) => Number(s.toFixed(3))) }]));
const ratio = (a, b) => Number((result[a].median / result[b].median).toFixed(2));
const line = {
  date: new Date().toISOString().slice(0, 10),
  // Outside a git checkout (a copy of the build) the results still count: the build is then unknown.
  build: (() => {
    try {
      return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    } catch {
      return 'unknown';
    }
  })(),
  seconds: result,
  ratios: {
    'graft predict / raw predict': ratio('graft predict (onnx model)', 'raw onnxruntime + sharp predict (onnx model)'),
    'train TF.js / train ONNX (cached)': ratio('graft train, cached (TF.js backbone)', 'graft train, cached (ONNX backbone)'),
  },
};
console.log(JSON.stringify(line, null, 2));
// RESULTS.md cites bench/out/startup.jsonl: that is where a run goes unless --out says otherwise.
const out = opt('out') ?? new URL('out/startup.jsonl', import.meta.url).pathname;
appendFileSync(out, `${JSON.stringify(line)}\n`);
rmSync(work, { recursive: true, force: true });
