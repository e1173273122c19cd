// The textbook linear probe (../shared/reference: dump_features.mjs + linear_probe.py, sklearn) on every dataset and
// both reference backbones, next to a warm `graft train` on the same images in the same session: accuracy floor and
// wall-time ratio, for the CLI command (a fresh process) and for train() in a process that has trained once.
// Usage: npm run build && node bench/reference-probe.mjs [--datasets a,b] [--backbones int8,tm,v3small]
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheDir, dumpFeatures, graft, groupBy, linearProbe, referenceBackbones, testDirOf, trainDirOf } from './reference.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
const work = mkdtempSync(join(tmpdir(), 'graft-probe-'));
const outFile = opt('out', 'bench/out/reference-probe.jsonl');
mkdirSync('bench/out', { recursive: true });
const backbones = await referenceBackbones(work, opt('backbones', 'int8,tm'));
const groupFlags = (name) => (groupBy[name] ? ['--group-by', groupBy[name]] : []);
const seconds = (since) => Number(((performance.now() - since) / 1000).toFixed(2));

for (const name of opt('datasets', 'hymenoptera,flowers12,dtd10,plantseedlings12,gtsrb43').split(',')) {
  const [train, test] = [trainDirOf(name), testDirOf(name)];
  for (const bb of opt('backbones', 'int8,tm').split(',')) {
    const b = backbones[bb];
    const prefix = join(work, `${name}-${bb}`);
    let t = performance.now();
    dumpFeatures(b, train, `${prefix}-train`);
    dumpFeatures(b, test, `${prefix}-test`);
    const dumpSeconds = seconds(t);
    t = performance.now();
    const probe = linearProbe(`${prefix}-train`, `${prefix}-test`);
    const probeSeconds = seconds(t);
    // Graft: a cold run fills the cache, then the timed warm run is the whole CLI command (start-up, selection, fit, export).
    const trainArgs = ['train', train, '--backbone', b.graft, ...(b.graftFlags ?? []), ...groupFlags(name), '--json'];
    graft([...trainArgs, '--out', join(work, `${name}-${bb}-cold`)]);
    t = performance.now();
    const warm = JSON.parse(graft([...trainArgs, '--out', join(work, `${name}-${bb}-warm`)]));
    const graftSeconds = seconds(t);
    // The same training inside a process that has trained once (the dashboard; a script retraining after a fix).
    const inProcess = JSON.parse(execFileSync(process.execPath, ['bench/warm-train.mjs', train, '--backbone', b.graft, ...(b.graftFlags ?? []), ...groupFlags(name), '--runs', '3'], { env: { ...process.env, GRAFT_CACHE_DIR: cacheDir }, stdio: ['ignore', 'pipe', 'ignore'] }).toString());
    const row = {
      dataset: name, backbone: bb, probe: { test: Number(probe.test_accuracy.toFixed(4)), C: probe.C, cv: Number(probe.cv.toFixed(4)), seconds: probeSeconds, dumpSeconds },
      graftWarm: { seconds: graftSeconds, selectSeconds: warm.selection?.seconds, trainSeconds: warm.timings.train_s, featuresComputed: warm.features.computed },
      ratio: Number((graftSeconds / probeSeconds).toFixed(3)),
      graftInProcess: inProcess,
      ratioInProcess: Number((inProcess.median / probeSeconds).toFixed(3)),
    };
    console.log(JSON.stringify(row));
    appendFileSync(outFile, `${JSON.stringify(row)}\n`);
  }
}

