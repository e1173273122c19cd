// Tried, not kept (RESULTS "What the recipe is", item 11): should cross-validation choose between the default features
// (two scales: the 0.875 crop and the whole image, concatenated) and the whole image alone (the probe's view)? For
// each dataset, backbone and seed, `train()` runs once per variant (`both`, `whole`; also `crop`) and the test folder
// is scored; each row records the variant's chosen CV log-loss, so a rule "the lower CV log-loss wins" can be
// simulated on the paired rows afterwards.
// Usage: npm run build && node bench/scale-choice.mjs [--datasets a,b|/dir-with-train-and-test] [--backbones int8,tm,v3small]
//          [--seeds 1,2,3] [--variants both,whole] [--shots n] [--out bench/out/scale-choice.jsonl]
// --shots n trains on n images per class drawn as few-shot.mjs draws them (the seed draws the subset).
import { appendFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../dist/recipes/train.js';
import { cacheDir, evaluateOn, graftBackbones, groupBy, testDirOf, trainDirOf } from './reference.mjs';
import { linkSubset } from './subsets.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
const variants = {
  both: { config: {}, overrides: {} },
  whole: { config: { multiScale: false }, overrides: { cropFraction: 1 } },
  crop: { config: { multiScale: false }, overrides: { cropFraction: 0.875 } },
};
const shots = opt('shots') === undefined ? undefined : Number(opt('shots'));
const outFile = opt('out', 'bench/out/scale-choice.jsonl');
mkdirSync('bench/out', { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'graft-scale-choice-'));
const onePerTrack = (_, tracks, next) => tracks.slice(0, shots).map((track) => track[Math.floor(next() * track.length)]);

for (const name of opt('datasets', 'hymenoptera,flowers12,dtd10,plantseedlings12,gtsrb43').split(',')) {
  const [trainDir, testDir] = name.includes('/') ? [join(name, 'train'), join(name, 'test')] : [trainDirOf(name), testDirOf(name)];
  for (const seed of opt('seeds', '1,2,3').split(',').map(Number)) {
    const dir = shots === undefined ? trainDir : linkSubset(name, trainDir, join(work, `${name.replaceAll('/', '_')}-${shots}-${seed}`), seed, shots, onePerTrack);
    for (const bb of opt('backbones', 'int8,tm,v3small').split(',')) {
      for (const v of opt('variants', 'both,whole').split(',')) {
        const r = await train({
          train: dir,
          backbone: graftBackbones[bb].graft,
          out: join(work, `m-${bb}-${v}`),
          cacheDir,
          overrides: { ...(graftBackbones[bb].overrides ?? {}), ...variants[v].overrides },
          config: { seed, ...variants[v].config, ...(groupBy[name] ? { groupBy: groupBy[name] } : {}) },
        });
        const report = await evaluateOn(r.model, testDir);
        const { c, trainViews, tta, logLoss, accuracy } = r.selection.chosen;
        const row = { dataset: name, shots, backbone: bb, seed, variant: v, c, trainViews, tta, logLoss, cvAccuracy: accuracy, test: report.accuracy };
        console.log(JSON.stringify(row));
        appendFileSync(outFile, `${JSON.stringify(row)}\n`);
      }
    }
  }
}
