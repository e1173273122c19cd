// Can Graft find wrong labels? Flip 5% of a dataset's training labels on purpose (seeded: each chosen image is moved
// to another, random class folder), train with the defaults, and score the `labelIssues` list against the flips.
// Usage: npm run build && node bench/label-issues.mjs [--dataset flowers12] [--backbone <path>] [--scale imagenet]
//          [--seeds 1,2,3] [--rate 0.05]
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { train } from '../dist/recipes/train.js';
import { mulberry32, shuffleInPlace } from '../dist/core/random.js';

const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
const shared = resolve(process.env.GRAFT_SHARED_DIR ?? '../shared');
const dataset = opt('dataset', 'flowers12');
const backbone = opt('backbone', join(shared, 'models/mobilenetv2-int8-onnx/mobilenetv2-12-int8.onnx'));
const rate = Number(opt('rate', '0.05'));
// A backbone the catalogue does not know needs its pixel scaling (as `graft train --scale`).
const scale = opt('scale');
const backboneName = relative(join(shared, 'models'), backbone);
const cacheDir = process.env.GRAFT_CACHE_DIR ?? join(tmpdir(), 'graft-bench-cache');
mkdirSync('bench/out', { recursive: true });
const source = join(shared, 'datasets', dataset, 'train');
const classes = readdirSync(source).sort();
const rows = [];
for (const seed of opt('seeds', '1,2,3').split(',').map(Number)) {
  const root = mkdtempSync(join(tmpdir(), 'graft-flip-'));
  const files = classes.flatMap((c) => readdirSync(join(source, c)).sort().map((f) => ({ c, f })));
  const random = mulberry32(seed);
  const flipped = new Map(shuffleInPlace([...files], random).slice(0, Math.round(files.length * rate)).map(({ c, f }) => {
    const others = classes.filter((o) => o !== c);
    return [`${c}/${f}`, others[Math.floor(random() * others.length)]];
  }));
  for (const c of classes) mkdirSync(join(root, c), { recursive: true });
  for (const { c, f } of files) cpSync(join(source, c, f), join(root, flipped.get(`${c}/${f}`) ?? c, f));
  const r = await train({ train: root, backbone, ...(scale ? { overrides: { scale } } : {}), out: join(root, '..', `${basename(root)}-model`), cacheDir, config: { seed } });
  const listed = r.labelIssues.map((i) => basename(i.file));
  const flippedNames = new Set([...flipped.keys()].map((k) => k.split('/')[1]));
  const found = listed.filter((f) => flippedNames.has(f)).length;
  // The list is sorted most suspicious first: how many of its first `flipped` entries are flips (precision at that depth).
  const foundInTop = listed.slice(0, flipped.size).filter((f) => flippedNames.has(f)).length;
  const row = { dataset, backbone: backboneName, seed, flipped: flipped.size, listed: listed.length, found, recall: flipped.size ? Number((found / flipped.size).toFixed(3)) : null, precision: Number((listed.length ? found / listed.length : 1).toFixed(3)), precisionAtFlipped: flipped.size ? Number((foundInTop / Math.min(flipped.size, listed.length || 1)).toFixed(3)) : null, cv: r.selection?.chosen.accuracy };
  rows.push(row);
  console.log(JSON.stringify(row));
  appendFileSync('bench/out/label-issues.jsonl', `${JSON.stringify(row)}\n`);
}
const mean = (k) => {
  const values = rows.map((r) => r[k]).filter((v) => v !== null);
  return values.length ? Number((values.reduce((a, v) => a + v, 0) / values.length).toFixed(3)) : null;
};
const summary = { dataset, backbone: backboneName, rate, meanListed: mean('listed'), meanRecall: mean('recall'), meanPrecision: mean('precision'), meanPrecisionAtFlipped: mean('precisionAtFlipped') };
console.log(JSON.stringify(summary));
appendFileSync('bench/out/label-issues.jsonl', `${JSON.stringify(summary)}\n`);
