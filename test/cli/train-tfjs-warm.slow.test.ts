import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { copySubset, hasShared, hymenoptera, parseJsonOutput, repoRoot, runCli, sharedDir, skipReason, tempDir, type CliRun } from '../support.js';

// One backbone of each format that tfjs reads: a TF.js layers folder, a TF.js graph folder, a Keras .h5; and a trained
// Teachable Machine export, whose features are its base's (two scales of 1 280), not its class probabilities.
const backbones = [
  { format: 'TF.js layers (Teachable Machine base)', args: ['--backbone', join(sharedDir, 'models/tm-mobilenetv2-035/base/model.json')], featureDim: 2560 },
  { format: 'TF.js graph (MobileNetV1 0.25)', args: ['--backbone', join(sharedDir, 'models/mobilenet-v1-025-tfjs/graph/model.json'), '--scale', '-1..1'], featureDim: 512 },
  { format: 'Keras .h5 (a Teachable Machine export)', args: ['--backbone', join(sharedDir, 'models/tm-keras-h5/renoirtan-bbc2021/keras_model.h5'), '--scale', '-1..1'], featureDim: 2560 },
  { format: 'TF.js layers (a trained Teachable Machine export)', args: ['--backbone', join(sharedDir, 'models/tm-mobilenetv2-035/original/model.json'), '--scale', '-1..1'], featureDim: 2560 },
];
const preload = pathToFileURL(join(repoRoot, 'test/fixtures/report-loaded-modules.mjs')).href;

/** `graft train` with the preload that lists, at exit, the CommonJS modules the process loaded. */
function trainListingModules(args: string[], env: Record<string, string>, listing: string): Promise<CliRun> {
  return runCli(['train', ...args], { ...env, GRAFT_TEST_MODULES_OUT: listing }, ['--import', preload]);
}

/** tfjs's code among the listed modules (its package.json files, read for version records, are not code). */
async function tfjsCodeIn(listing: string): Promise<string[]> {
  return (await readFile(listing, 'utf8')).split('\n').filter((p) => p.includes('@tensorflow') && !p.endsWith('package.json'));
}

skipReason('warm training on backbones that tfjs reads');
describe.skipIf(!hasShared)('graft train on a backbone that tfjs reads, features and export cached', () => {
  let root: string;
  let data: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    root = await tempDir();
    data = await copySubset(join(hymenoptera, 'train'), join(root, 'data'), 8);
    env = { GRAFT_CACHE_DIR: join(root, 'cache') };
  });

  // tfjs takes ~0.4 s to import and set up: a run with its features and ONNX export cached has no use for it.
  it.each(backbones.map((b, i) => ({ ...b, i })))('$format: tfjs loads to build and export the model once; a rerun with everything cached never loads it', async ({ args, featureDim, i }) => {
    interface TrainJson { features: { computed: number; cached: number }; model: string; backbone: { featureDim: number } }
    const run = (name: string): Promise<CliRun> => trainListingModules([data, ...args, '--out', join(root, `${name}-${i}`), '--json'], env, join(root, `${name}-${i}.txt`));
    const first = await run('first');
    expect(first.code, first.stderr).toBe(0);
    expect(parseJsonOutput<TrainJson>(first).features.computed).toBeGreaterThan(0);
    expect(parseJsonOutput<TrainJson>(first).backbone.featureDim).toBe(featureDim);
    expect(await tfjsCodeIn(join(root, `first-${i}.txt`))).not.toEqual([]);

    const second = await run('second');
    expect(second.code, second.stderr).toBe(0);
    const r = parseJsonOutput<TrainJson>(second);
    expect(r.features.computed).toBe(0);
    expect(await tfjsCodeIn(join(root, `second-${i}.txt`))).toEqual([]);
    // The model it wrote is whole: the same ONNX bytes as the first run's (the same backbone export and head).
    expect(await readFile(join(r.model, 'model.onnx'))).toEqual(await readFile(join(root, `first-${i}`, 'model.onnx')));
  });
});
