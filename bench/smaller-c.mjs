// One step stronger regularisation than the cross-validation chose (C / sqrt(10)): a proxy for the one-standard-error
// rule, which picks the most regularised C within a standard error of the best CV score. Trains the default, then the
// same with C fixed a half-decade below its chosen C (mirror rows and TTA still chosen by CV), scores both on the
// untouched test folder. Usage: npm run build && node bench/smaller-c.mjs hymenoptera,flowers12,dtd10 [int8,tm]
import { mkdirSync, mkdtempSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const { train } = await import('../dist/recipes/train.js');
const { GraftModel } = await import('../dist/model/graft-model.js');
const { evaluateModel } = await import('../dist/model/evaluate-model.js');
const { cacheDir, graftBackbones, groupBy, testDirOf, trainBackbone, trainDirOf } = await import('./reference.mjs');
const datasets = process.argv[2].split(',');
const bbs = (process.argv[3] ?? 'int8,tm').split(',');
const outFile = 'bench/out/smaller-c-2026-12-06.jsonl';
mkdirSync('bench/out', { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'onese-'));
for (const name of datasets) for (const bb of bbs) for (const seed of [1, 2, 3]) {
  const base = { train: trainDirOf(name), ...trainBackbone(graftBackbones[bb]), cacheDir };
  const cfg = { seed, ...(groupBy[name] ? { groupBy: groupBy[name] } : {}) };
  const score = async (config, tag) => {
    const out = join(work, `${name}-${bb}-${seed}-${tag}`);
    const r = await train({ ...base, out, config });
    const m = await GraftModel.load(r.model); const rep = await evaluateModel(m, testDirOf(name)); await m.dispose();
    return { r, acc: rep.accuracy };
  };
  const d = await score(cfg, 'default');
  const ch = d.r.selection.chosen;
  const row = { dataset: name, backbone: bb, seed, c: ch.c, ll: ch.logLoss, acc: d.acc };
  const table = d.r.selection.table.filter((t) => t.trainViews === ch.trainViews && t.tta === ch.tta).map((t) => [Number(t.c.toPrecision(3)), Number(t.logLoss.toFixed(4)), Number(t.accuracy.toFixed(4))]);
  row.table = table;
  const s = await score({ ...cfg, c: ch.c / Math.sqrt(10) }, 'smaller');
  row.smallerAcc = s.acc; row.smallerLl = s.r.selection.chosen.logLoss; row.smallerViews = s.r.selection.chosen.trainViews + '/' + s.r.selection.chosen.tta;
  console.log(JSON.stringify(row));
  appendFileSync(outFile, JSON.stringify(row) + '\n');
}
