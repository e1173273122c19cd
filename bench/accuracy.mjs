// Acceptance accuracy with the default recipe: graft train on hymenoptera (train/val) and flowers12 (train/test)
// with the int8 MobileNetV2, over several seeds. Usage: npm run build && node bench/accuracy.mjs
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { train } from '../dist/recipes/train.js';

const shared = resolve(process.env.GRAFT_SHARED_DIR ?? '../shared');
const cacheDir = process.env.GRAFT_CACHE_DIR ?? join(tmpdir(), 'graft-bench-cache');
const backbone = join(shared, 'models/mobilenetv2-int8-onnx/mobilenetv2-12-int8.onnx');
const out = mkdtempSync(join(tmpdir(), 'graft-acc-'));
const sets = {
  hymenoptera: { train: join(shared, 'datasets/hymenoptera/train'), val: join(shared, 'datasets/hymenoptera/val') },
  flowers12: { train: join(shared, 'datasets/flowers12/train'), val: join(shared, 'datasets/flowers12/test') },
};
for (const [name, ds] of Object.entries(sets)) {
  const accs = [];
  for (const seed of [42, 1, 2, 3]) {
    const r = await train({ ...ds, backbone, out: join(out, name), cacheDir, config: { seed } });
    accs.push(r.val.accuracy);
    console.log(JSON.stringify({ dataset: name, seed, accuracy: Number(r.val.accuracy.toFixed(4)), top5: r.val.top5, bestEpoch: r.bestEpoch, skipped: r.images.skipped.length, timings: r.timings }));
  }
  const mean = accs.reduce((a, b) => a + b, 0) / accs.length;
  console.log(JSON.stringify({ dataset: name, mean: Number(mean.toFixed(4)), min: Math.min(...accs), max: Math.max(...accs) }));
}
