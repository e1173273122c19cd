// What `--crops auto` costs: the head phase (selection and final fit, features cached) of train() with crop rows off
// (the default) and auto, alternating in one process, seed 1, for every dataset and both reference backbones; and the
// backbone passes the corner crops add to a first run (from the feature cache's counts, not timed here: heads.mjs's
// extract_s times a first run). Run heads.mjs --crops auto first, so that every view is cached.
// Usage: npm run build && node bench/crops-cost.mjs [--datasets a,b] [--backbones int8,tm] [--runs 3]
import { appendFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../dist/recipes/train.js';
import { cacheDir, graftBackbones, groupBy, trainBackbone, trainDirOf } from './reference.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
const runs = Number(opt('runs', '3'));
const outFile = opt('out', 'bench/out/crops-cost.jsonl');
mkdirSync('bench/out', { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'graft-crops-cost-'));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

for (const name of opt('datasets', 'hymenoptera,flowers12,dtd10,plantseedlings12,gtsrb43').split(',')) {
  for (const bb of opt('backbones', 'int8,tm').split(',')) {
    const seconds = { off: [], auto: [] };
    let chosen;
    for (let i = 0; i <= runs; i++) {
      for (const crops of ['off', 'auto']) {
        const r = await train({
          train: trainDirOf(name),
          ...trainBackbone(graftBackbones[bb]),
          out: join(work, `${name}-${bb}-${crops}`),
          cacheDir,
          config: { seed: 1, crops, ...(groupBy[name] ? { groupBy: groupBy[name] } : {}) },
        });
        // The first round warms the process (and fills the cache if a view is missing); it is not counted.
        if (i > 0) seconds[crops].push(r.timings.train_s);
        if (crops === 'auto') chosen = r.head.trainViews;
      }
    }
    const row = {
      dataset: name, backbone: bb, runs,
      headSeconds: { off: median(seconds.off), auto: median(seconds.auto) },
      ratio: Number((median(seconds.auto) / median(seconds.off)).toFixed(2)),
      chosen,
    };
    console.log(JSON.stringify(row));
    appendFileSync(outFile, `${JSON.stringify(row)}\n`);
  }
}
