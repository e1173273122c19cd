// What the benchmarks that run the reference linear probe (../shared/reference: dump_features.mjs + linear_probe.py)
// share: where things are, the reference backbones in both forms, the dump itself, and scoring a model on a test folder.
import { execFileSync } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { GraftModel } from '../dist/model/graft-model.js';
import { evaluateModel } from '../dist/model/evaluate-model.js';
import { exposeFeatures, FEATURE_OUTPUT } from '../dist/onnx/feature-output.js';
import { encodeOnnxModel, readOnnxModel } from '../dist/onnx/onnx-model.js';

export const shared = resolve(process.env.GRAFT_SHARED_DIR ?? '../shared');
export const cacheDir = process.env.GRAFT_CACHE_DIR ?? join(tmpdir(), 'graft-bench-cache');
export const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
/** GTSRB's frames come in tracks of one physical sign (`--group-by` pattern; the first group is the track). */
export const groupBy = { gtsrb43: '^(\\d+_\\d+)_' };

/** A dataset's train/ folder, and the folder its accuracy is reported on (test/, or val/ for hymenoptera). */
export const trainDirOf = (name) => join(shared, 'datasets', name, 'train');
export const testDirOf = (name) => {
  const root = join(shared, 'datasets', name);
  return existsSync(join(root, 'test')) ? join(root, 'test') : join(root, 'val');
};

/** `graft <args>` on the bench's cache, its stdout as text. */
export const graft = (cliArgs) =>
  execFileSync(process.execPath, ['bin/graft.js', ...cliArgs], { env: { ...process.env, GRAFT_CACHE_DIR: cacheDir }, maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'ignore'] }).toString();

/**
 * What Graft trains on, per reference backbone: `graft` (a model path), with `graftFlags` on the command line and
 * `overrides` in train() where the catalogue does not know the model's preprocessing.
 */
export const graftBackbones = {
  int8: { graft: join(shared, 'models/mobilenetv2-int8-onnx/mobilenetv2-12-int8.onnx') },
  tm: { graft: join(shared, 'models/tm-mobilenetv2-035/base/model.json') },
  // A third backbone nothing was chosen on (torchvision's MobileNetV3-Small, fp32, no ImageNet top): its pixel scaling
  // is given, as its PROVENANCE.md states.
  v3small: { graft: join(shared, 'models/mobilenetv3-small-onnx/mobilenetv3-small-feat.onnx'), graftFlags: ['--scale', 'imagenet'], overrides: { scale: 'imagenet' } },
  // A fourth: MobileNet V1 0.25 (256-d features), the TF.js graph model ml5's feature extractor is built on; its graph
  // scales [0, 1] pixels itself, as its PROVENANCE.md states.
  v1: { graft: join(shared, 'models/mobilenet-v1-025-tfjs/graph/model.json'), graftFlags: ['--scale', '0..1'], overrides: { scale: '0..1' } },
};

/** V1's pooled-feature tensor: the input of its 1x1-conv classifier. */
const V1_FEATURES = 'module_apply_default/MobilenetV1/Logits/global_pool';

/** train()'s backbone options for one of graftBackbones'. */
export const trainBackbone = (b) => ({ backbone: b.graft, ...(b.overrides ? { overrides: b.overrides } : {}) });

/**
 * The reference backbones: graftBackbones' entries, plus `dump`, the ONNX file whose last output is the feature
 * vector, for the reference dump (with the dump's `flags`). The TM base is converted into `work` (only when asked for).
 */
export async function referenceBackbones(work, wanted) {
  const tmOnnx = join(work, 'tm-base.onnx');
  if (wanted.includes('tm')) graft(['convert', graftBackbones.tm.graft, '--to', 'onnx', '--out', tmOnnx, '--json']);
  const v1Onnx = join(work, 'v1-feat.onnx');
  if (wanted.includes('v1')) {
    // Converted whole (its last output is the 1 001 logits), then cut at the pooled features, which become the last output.
    const whole = join(work, 'v1.onnx');
    graft(['convert', graftBackbones.v1.graft, '--to', 'onnx', '--out', whole, '--json']);
    const { model } = await exposeFeatures(await readOnnxModel(whole), { output: V1_FEATURES });
    model.graph.output = model.graph.output.filter((o) => o.name === FEATURE_OUTPUT);
    writeFileSync(v1Onnx, encodeOnnxModel(model));
  }
  return {
    int8: { ...graftBackbones.int8, dump: join(shared, 'models/mobilenetv2-int8-onnx/mobilenetv2-12-int8-feat.onnx'), flags: [] },
    tm: { ...graftBackbones.tm, dump: tmOnnx, flags: ['--nhwc', '--scale', '-1..1'] },
    v3small: { ...graftBackbones.v3small, dump: graftBackbones.v3small.graft, flags: [] },
    v1: { ...graftBackbones.v1, dump: v1Onnx, flags: ['--nhwc', '--scale', '0..1'] },
  };
}

// The reference imports onnxruntime-node and sharp, which resolve from the script's folder: run a copy from inside
// this package's node_modules (a cache folder), unchanged.
const dumpScript = join('node_modules', '.cache', 'graft-bench', 'dump_features.mjs');
mkdirSync(join('node_modules', '.cache', 'graft-bench'), { recursive: true });
copyFileSync(join(shared, 'reference/dump_features.mjs'), dumpScript);

/** The reference dump of `dir`'s images with `backbone` (one of referenceBackbones'), written to `<prefix>.json`. */
export function dumpFeatures(backbone, dir, prefix) {
  execFileSync(process.execPath, [dumpScript, backbone.dump, dir, prefix, ...backbone.flags], { stdio: 'ignore' });
}

/** `linear_probe.py` on two dumps: its JSON line ({test_accuracy, C, cv, train, test}). */
export function linearProbe(trainPrefix, testPrefix) {
  return JSON.parse(execFileSync(python, [join(shared, 'reference/linear_probe.py'), `${trainPrefix}.json`, `${testPrefix}.json`]).toString());
}

/** `graft eval`'s report of the model directory `modelDir` on the folder `testDir` (in this process). */
export async function evaluateOn(modelDir, testDir) {
  const model = await GraftModel.load(modelDir);
  try {
    return await evaluateModel(model, testDir);
  } finally {
    await model.dispose();
  }
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * A dataset nothing was chosen on, as a user meets it: for each backbone, the reference probe on `trainDir` /
 * `testDir`, then `graft train trainDir --seed s` and `graft eval model testDir` for each seed. One JSON line per
 * backbone is appended to `outFile` and summed up on stdout.
 */
export async function probeAndGraft({ dataset, trainDir, testDir, work, backbones: wanted, seeds, outFile, trainFlags = [] }) {
  const backbones = await referenceBackbones(work, wanted);
  for (const bb of wanted) {
    const b = backbones[bb];
    dumpFeatures(b, trainDir, join(work, `${bb}-train`));
    dumpFeatures(b, testDir, join(work, `${bb}-test`));
    const probe = linearProbe(join(work, `${bb}-train`), join(work, `${bb}-test`));
    const runs = [];
    for (const seed of seeds) {
      const out = join(work, `${bb}-${seed}`);
      const trained = JSON.parse(graft(['train', trainDir, '--backbone', b.graft, ...(b.graftFlags ?? []), ...trainFlags, '--seed', String(seed), '--out', out, '--json']));
      const scored = JSON.parse(graft(['eval', out, testDir, '--json']));
      const { c, trainViews, tta } = trained.head;
      runs.push({ seed, test: scored.accuracy, head: { c, trainViews, tta }, ...(scored.calibration ? { logLoss: scored.logLoss, ece: scored.calibration.ece, confidence: scored.calibration.confidence } : {}) });
    }
    const line = { date: new Date().toISOString(), dataset, backbone: bb, ...(trainFlags.length ? { trainFlags } : {}), train: probe.train, test: probe.test, probe: probe.test_accuracy, graft: mean(runs.map((r) => r.test)), runs };
    appendFileSync(outFile, `${JSON.stringify(line)}\n`);
    console.log(`${dataset} ${bb}: probe ${probe.test_accuracy.toFixed(3)}, graft ${line.graft.toFixed(3)} (${runs.map((r) => r.test.toFixed(3)).join(' / ')})`);
  }
}
