// Is Graft's gain over the textbook linear probe more than the test images' luck? For each dataset and reference
// backbone: the probe (../shared/reference's dump and pipeline, bench/probe-predictions.py printing its class per test
// image) and `graft train --seed s` + `graft eval --csv` on the same test images, then McNemar's exact test on the
// images one gets right and the other wrong (Graft's own `metrics.comparePaired`, the test `graft eval --compare` runs).
// Usage: npm run build && node bench/paired-probe.mjs [--datasets a,b] [--backbones int8,tm] [--seeds 1,2,3] [--out file.jsonl]
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { comparePaired } from '../dist/metrics/paired.js';
import { parseCsv } from '../dist/data/scan-csv.js';
import { dumpFeatures, graft, groupBy, python, referenceBackbones, testDirOf, trainDirOf } from './reference.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
const work = mkdtempSync(join(tmpdir(), 'graft-paired-'));
const outFile = opt('out', 'bench/out/paired-probe.jsonl');
mkdirSync('bench/out', { recursive: true });
const wanted = opt('backbones', 'int8,tm');
const backbones = await referenceBackbones(work, wanted);
const seeds = opt('seeds', '1,2,3').split(',').map(Number);

/** The test images in the dump's order (classes sorted, then files sorted), as dump_features.mjs lists them. */
function dumpOrder(dir) {
  const classes = readdirSync(dir).filter((c) => statSync(join(dir, c)).isDirectory()).sort();
  return classes.flatMap((c) => readdirSync(join(dir, c)).sort().map((f) => join(dir, c, f)));
}

for (const name of opt('datasets', 'hymenoptera,flowers12,dtd10,plantseedlings12,gtsrb43').split(',')) {
  const [train, test] = [trainDirOf(name), testDirOf(name)];
  for (const bb of wanted.split(',')) {
    const b = backbones[bb];
    const prefix = join(work, `${name}-${bb}`);
    dumpFeatures(b, train, `${prefix}-train`);
    dumpFeatures(b, test, `${prefix}-test`);
    const probe = JSON.parse(execFileSync(python, ['bench/probe-predictions.py', `${prefix}-train.json`, `${prefix}-test.json`]).toString());
    const files = dumpOrder(test);
    if (files.length !== probe.labels.length) throw new Error(`${name}: the dump holds ${probe.labels.length} of ${files.length} files (unreadable ones skipped); this bench needs them aligned`);
    const probeRight = probe.labels.map((y, i) => y === probe.predicted[i]);
    for (const seed of seeds) {
      const out = join(work, `${name}-${bb}-${seed}`);
      graft(['train', train, '--backbone', b.graft, ...(b.graftFlags ?? []), ...(groupBy[name] ? ['--group-by', groupBy[name]] : []), '--seed', String(seed), '--out', out, '--json']);
      const rows = parseCsv(graft(['eval', out, test, '--csv'])).map((r) => r.fields);
      const correct = new Map(rows.slice(1).map((r) => [r[0], r[5] === 'true']));
      const graftRight = files.map((f) => {
        if (!correct.has(f)) throw new Error(`${name}: graft eval has no row for ${f}`);
        return correct.get(f);
      });
      const paired = comparePaired(graftRight, probeRight);
      const row = {
        date: new Date().toISOString(), dataset: name, backbone: bb, seed, images: files.length,
        probe: Number(probe.test_accuracy.toFixed(4)), graft: Number((graftRight.filter(Boolean).length / files.length).toFixed(4)),
        onlyGraft: paired.onlyFirst, onlyProbe: paired.onlySecond, pValue: Number(paired.pValue.toPrecision(3)),
      };
      console.log(JSON.stringify(row));
      appendFileSync(outFile, `${JSON.stringify(row)}\n`);
    }
  }
}
