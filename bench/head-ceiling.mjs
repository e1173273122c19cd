// How far can the default head's family go on a backbone's features at all? Not a recipe: every choice the
// cross-validation makes (C on its grid, mirror rows, mirror TTA) is fixed by hand, and each fixed head is trained on
// train/ and scored by `graft eval` on the test folder. The best of those scores was chosen on the test folder, so it
// is an optimistic ceiling for any selection rule over the same choices, never a result to report as accuracy.
// Usage: npm run build && node bench/head-ceiling.mjs [--datasets a,b] [--backbones int8,tm] [--out file]
//        or, for any folders (e.g. the ones digits.mjs or fashion-mnist.mjs wrote): --train <dir> --test <dir> --name <label>
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../dist/recipes/train.js';
import { DEFAULT_C_GRID } from '../dist/learn/select/cross-validate.js';
import { cacheDir, evaluateOn, graftBackbones, groupBy, testDirOf, trainBackbone, trainDirOf } from './reference.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
const folders = opt('train') ? { [opt('name', 'folders')]: { train: opt('train'), test: opt('test') } } : undefined;
const datasets = folders ? Object.keys(folders) : opt('datasets', 'hymenoptera,flowers12').split(',');
const trainOf = (name) => folders?.[name]?.train ?? trainDirOf(name);
const testOf = (name) => folders?.[name]?.test ?? testDirOf(name);
const chosenBackbones = opt('backbones', 'int8,tm').split(',');
const outFile = opt('out', join('bench/out', 'head-ceiling.jsonl'));
mkdirSync('bench/out', { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'graft-ceiling-'));
const views = [
  { mirror: 'on', tta: 'on' },
  { mirror: 'off', tta: 'off' },
  { mirror: 'on', tta: 'off' },
  { mirror: 'off', tta: 'on' },
];

for (const name of datasets) {
  for (const bb of chosenBackbones) {
    const cells = [];
    for (const view of views) {
      for (const c of DEFAULT_C_GRID) {
        const out = join(work, 'm');
        const r = await train({
          train: trainOf(name),
          ...trainBackbone(graftBackbones[bb]),
          out,
          cacheDir,
          config: { seed: 1, c, ...view, ...(groupBy[name] ? { groupBy: groupBy[name] } : {}) },
        });
        const report = await evaluateOn(r.model, testOf(name));
        rmSync(out, { recursive: true, force: true });
        const cell = { dataset: name, backbone: bb, ...view, c: Number(c.toPrecision(3)), test: Number(report.accuracy.toFixed(4)), cvLogLoss: r.selection ? Number(r.selection.chosen.logLoss.toFixed(4)) : null };
        cells.push(cell);
        console.log(JSON.stringify(cell));
        appendFileSync(outFile, `${JSON.stringify(cell)}\n`);
      }
    }
    const best = cells.reduce((a, b) => (b.test > a.test ? b : a));
    const summary = { dataset: name, backbone: bb, ceiling: best.test, at: { c: best.c, mirror: best.mirror, tta: best.tta }, reachedBy: cells.filter((x) => x.test === best.test).length, of: cells.length };
    console.log(JSON.stringify(summary));
    appendFileSync(outFile, `${JSON.stringify(summary)}\n`);
  }
}
rmSync(work, { recursive: true, force: true });
