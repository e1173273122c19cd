// The textbook linear probe (../shared/reference: dump_features.mjs + linear_probe.py, sklearn) on every dataset and
// both reference backbones, next to a warm `graft train` on the same images in the same session: accuracy floor and
// wall-time ratio, for the CLI command (a fresh process) and for train() in a process that has trained once.
// Usage: npm run build && node bench/reference-probe.mjs [--datasets a,b] [--backbones int8,tm]
import { execFileSync } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
const shared = resolve(process.env.GRAFT_SHARED_DIR ?? '../shared');
const cacheDir = process.env.GRAFT_CACHE_DIR ?? join(tmpdir(), 'graft-bench-cache');
const work = mkdtempSync(join(tmpdir(), 'graft-probe-'));
const outFile = opt('out', 'bench/out/reference-probe.jsonl');
mkdirSync('bench/out', { recursive: true });
const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const graft = (cliArgs) => execFileSync(process.execPath, ['bin/graft.js', ...cliArgs], { env: { ...process.env, GRAFT_CACHE_DIR: cacheDir }, maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'ignore'] }).toString();

// The reference dumps features with onnxruntime from an ONNX file whose last output is the feature vector.
const tmBase = join(shared, 'models/tm-mobilenetv2-035/base/model.json');
const tmOnnx = join(work, 'tm-base.onnx');
if (opt('backbones', 'int8,tm').includes('tm')) graft(['convert', tmBase, '--to', 'onnx', '--out', tmOnnx, '--json']);
const backbones = {
  int8: { graft: join(shared, 'models/mobilenetv2-int8-onnx/mobilenetv2-12-int8.onnx'), dump: join(shared, 'models/mobilenetv2-int8-onnx/mobilenetv2-12-int8-feat.onnx'), flags: [] },
  tm: { graft: tmBase, dump: tmOnnx, flags: ['--nhwc', '--scale', '-1..1'] },
};
const groupBy = { gtsrb43: ['--group-by', '^(\\d+_\\d+)_'] };
const seconds = (since) => Number(((performance.now() - since) / 1000).toFixed(2));
// The reference imports onnxruntime-node and sharp, which resolve from the script's folder: run a copy from inside
// this package's node_modules (a cache folder), unchanged.
const dumpScript = join('node_modules', '.cache', 'graft-bench', 'dump_features.mjs');
mkdirSync(join('node_modules', '.cache', 'graft-bench'), { recursive: true });
copyFileSync(join(shared, 'reference/dump_features.mjs'), dumpScript);

for (const name of opt('datasets', 'hymenoptera,flowers12,dtd10,plantseedlings12,gtsrb43').split(',')) {
  const root = join(shared, 'datasets', name);
  const test = existsSync(join(root, 'test')) ? join(root, 'test') : join(root, 'val');
  for (const bb of opt('backbones', 'int8,tm').split(',')) {
    const b = backbones[bb];
    const prefix = join(work, `${name}-${bb}`);
    let t = performance.now();
    execFileSync(process.execPath, [dumpScript, b.dump, join(root, 'train'), `${prefix}-train`, ...b.flags], { stdio: 'ignore' });
    execFileSync(process.execPath, [dumpScript, b.dump, test, `${prefix}-test`, ...b.flags], { stdio: 'ignore' });
    const dumpSeconds = seconds(t);
    t = performance.now();
    const probe = JSON.parse(execFileSync(python, [join(shared, 'reference/linear_probe.py'), `${prefix}-train.json`, `${prefix}-test.json`]).toString());
    const probeSeconds = seconds(t);
    // Graft: a cold run fills the cache, then the timed warm run is the whole CLI command (start-up, selection, fit, export).
    const trainArgs = ['train', join(root, 'train'), '--backbone', b.graft, ...(groupBy[name] ?? []), '--json'];
    graft([...trainArgs, '--out', join(work, `${name}-${bb}-cold`)]);
    t = performance.now();
    const warm = JSON.parse(graft([...trainArgs, '--out', join(work, `${name}-${bb}-warm`)]));
    const graftSeconds = seconds(t);
    // The same training inside a process that has trained once (the dashboard; a script retraining after a fix).
    const inProcess = JSON.parse(execFileSync(process.execPath, ['bench/warm-train.mjs', join(root, 'train'), '--backbone', b.graft, ...(groupBy[name] ?? []), '--runs', '3'], { env: { ...process.env, GRAFT_CACHE_DIR: cacheDir }, stdio: ['ignore', 'pipe', 'ignore'] }).toString());
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

