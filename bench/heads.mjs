// Heads on data Graft was never tuned on: `graft train <train> --out m` then `graft eval m <test>` with the defaults,
// for every dataset in ../shared/datasets, both reference backbones and seeds 1-3. The reference linear probe
// (../shared/reference: dump_features.mjs + linear_probe.py) on the same images is bench/reference-probe.mjs.
// Usage: npm run build && node bench/heads.mjs [--datasets a,b] [--backbones int8,tm,v3small] [--seeds 1,2,3] [--fine-tune] [--crops auto|on] [--out file.jsonl]
import { appendFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../dist/recipes/train.js';
import { GraftModel } from '../dist/model/graft-model.js';
import { evaluateModel } from '../dist/model/evaluate-model.js';
import { cacheDir, graftBackbones, groupBy, testDirOf, trainBackbone, trainDirOf } from './reference.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
const datasets = opt('datasets', 'hymenoptera,flowers12,dtd10,plantseedlings12,gtsrb43').split(',');
const chosenBackbones = opt('backbones', 'int8,tm').split(',');
const seeds = opt('seeds', '1,2,3').split(',').map(Number);
const fineTune = args.includes('--fine-tune');
// --crops auto|on: the training images' corner crops as cross-validated (or fixed) extra rows (default: off).
const crops = opt('crops', undefined);
const outFile = opt('out', join('bench/out', fineTune ? 'heads-fine-tune.jsonl' : 'heads.jsonl'));
mkdirSync('bench/out', { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'graft-heads-'));

for (const name of datasets) {
  for (const bb of chosenBackbones) {
    const [trainDir, test] = [trainDirOf(name), testDirOf(name)];
    const accs = [];
    for (const seed of seeds) {
      const out = join(work, `${name}-${bb}-${seed}`);
      const started = performance.now();
      // No --val: the test folder is never seen by training. train/ is passed alone.
      const r = await train({
        train: trainDir,
        ...trainBackbone(graftBackbones[bb]),
        out,
        cacheDir,
        config: { seed, ...(groupBy[name] ? { groupBy: groupBy[name] } : {}), ...(crops ? { crops } : {}) },
        ...(fineTune ? { fineTune: {} } : {}),
      });
      const trainSeconds = (performance.now() - started) / 1000;
      const model = await GraftModel.load(r.model);
      const evalStarted = performance.now();
      const report = await evaluateModel(model, test);
      const evalSeconds = (performance.now() - evalStarted) / 1000;
      await model.dispose();
      accs.push(report.accuracy);
      const row = {
        dataset: name, backbone: bb, seed, test: Number(report.accuracy.toFixed(4)), testImages: report.total ?? undefined,
        // How far the test set's probabilities can be taken at their word.
        logLoss: report.logLoss === undefined ? null : Number(report.logLoss.toFixed(4)),
        ece: report.calibration ? Number(report.calibration.ece.toFixed(4)) : null,
        eceByChance: report.calibration ? Number(report.calibration.eceByChance.toFixed(4)) : null,
        confidence: report.calibration ? Number(report.calibration.confidence.toFixed(4)) : null,
        cv: r.selection ? Number(r.selection.chosen.accuracy.toFixed(4)) : null, head: r.head, scales: r.backbone.scales ?? null,
        fineTune: r.fineTune ? { kept: r.fineTune.kept, bestEpoch: r.fineTune.bestEpoch, holdout: r.fineTune.holdout } : undefined,
        labelIssues: r.labelIssues.length, trainSeconds: Number(trainSeconds.toFixed(1)), timings: r.timings, features: r.features, evalSeconds: Number(evalSeconds.toFixed(1)),
      };
      console.log(JSON.stringify(row));
      appendFileSync(outFile, `${JSON.stringify(row)}\n`);
    }
    const mean = accs.reduce((a, b) => a + b, 0) / accs.length;
    const summary = { dataset: name, backbone: bb, mean: Number(mean.toFixed(4)), seeds: accs.map((a) => Number(a.toFixed(4))) };
    console.log(JSON.stringify(summary));
    appendFileSync(outFile, `${JSON.stringify(summary)}\n`);
  }
}
