// Chooses the head-training defaults by measurement: trains heads with several configs on cached features
// (the first run per dataset fills the cache) and prints val accuracy per config, mean over seeds.
// Usage: node bench/sweep-head.mjs   (GRAFT_SHARED_DIR names the shared folder)
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { train } from '../dist/recipes/train.js';

const shared = resolve(process.env.GRAFT_SHARED_DIR ?? '../shared');
const cacheDir = process.env.GRAFT_CACHE_DIR ?? join(tmpdir(), 'graft-bench-cache');
const backbone = join(shared, 'models/mobilenetv2-int8-onnx/mobilenetv2-12-int8.onnx');
const datasets = {
  hymenoptera: { train: join(shared, 'datasets/hymenoptera/train'), val: join(shared, 'datasets/hymenoptera/val') },
  flowers12: { train: join(shared, 'datasets/flowers12/train'), val: join(shared, 'datasets/flowers12/test') },
};
const grid = [
  { hidden: [], dropout: 0, weightDecay: 1e-4, learningRate: 1e-3 },
  { hidden: [], dropout: 0.2, weightDecay: 1e-4, learningRate: 1e-3 },
  { hidden: [], dropout: 0.5, weightDecay: 1e-4, learningRate: 1e-3 },
  { hidden: [], dropout: 0.2, weightDecay: 1e-3, learningRate: 1e-3 },
  { hidden: [], dropout: 0.2, weightDecay: 1e-2, learningRate: 1e-3 },
  { hidden: [], dropout: 0.2, weightDecay: 1e-4, learningRate: 3e-4 },
  { hidden: [], dropout: 0.2, weightDecay: 1e-4, learningRate: 1e-3, labelSmoothing: 0.1 },
  { hidden: [256], dropout: 0.5, weightDecay: 1e-4, learningRate: 1e-3 },
  { hidden: [1024], dropout: 0.2, weightDecay: 1e-4, learningRate: 1e-3 },
  { hidden: [1024], dropout: 0.5, weightDecay: 1e-4, learningRate: 1e-3 },
  { hidden: [1024], dropout: 0.5, weightDecay: 1e-4, learningRate: 3e-4 },
];
const seeds = [1, 2, 3];
const out = mkdtempSync(join(tmpdir(), 'graft-sweep-'));
const rows = [];
for (const cfg of grid) {
  const row = { config: JSON.stringify(cfg) };
  for (const [name, ds] of Object.entries(datasets)) {
    const accs = [];
    for (const seed of seeds) {
      const { hidden, dropout, ...rest } = cfg;
      const r = await train({ ...ds, backbone, out: join(out, name), cacheDir, config: { ...rest, seed, head: { hidden, dropout } } });
      accs.push(r.val.accuracy);
    }
    row[name] = accs.map((a) => a.toFixed(3)).join('/');
    row[`${name}_mean`] = (accs.reduce((a, b) => a + b, 0) / accs.length).toFixed(4);
  }
  rows.push(row);
  console.log(JSON.stringify(row));
}
