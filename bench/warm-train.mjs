// A warm `train()` inside a running process, as the dashboard or a script that retrains after fixing labels runs
// it: one untimed run (loads the modules, compiles the hot loops, opens the caches), then `--runs` timed ones on
// the same images; prints {seconds: [..], median} as JSON. Features must already be cached.
// Usage: npm run build && node bench/warm-train.mjs <train-dir> --backbone <model> [--scale imagenet] [--group-by re] [--runs 3]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../dist/index.js';

const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
const work = mkdtempSync(join(tmpdir(), 'graft-warm-'));
const groupBy = opt('group-by');
const scale = opt('scale');
const options = (i) => ({ train: args[0], backbone: opt('backbone'), out: join(work, `m${i}`), ...(scale ? { overrides: { scale } } : {}), ...(groupBy ? { config: { groupBy } } : {}) });
const warmUp = await train(options(0));
if (warmUp.features.computed > 0) console.error(`warning: ${warmUp.features.computed} features were not cached; the warm-up computed them`);
const seconds = [];
for (let i = 1; i <= Number(opt('runs', 3)); i++) {
  const started = performance.now();
  const result = await train(options(i));
  seconds.push(Number(((performance.now() - started) / 1000).toFixed(3)));
  if (result.features.computed > 0) throw new Error('a timed run computed features');
}
rmSync(work, { recursive: true, force: true });
const sorted = [...seconds].sort((a, b) => a - b);
console.log(JSON.stringify({ seconds, median: sorted[Math.floor(sorted.length / 2)] }));
