import { existsSync, readdirSync } from 'node:fs';
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureTfjsBackend } from '../src/engine/tfjs-backend.js';
import { GraftError } from '../src/errors.js';
import { convertModel } from '../src/formats/convert-model.js';
import { detectFormat } from '../src/formats/detect-format.js';
import { saveLayersModelToDir } from '../src/formats/save-layers-model.js';
import { hasShared, int8Model, parseJsonOutput, runCli, sharedDir, skipReason, tempDir } from './support.js';

/** A small CNN with the layer kinds of a MobileNet block, saved as a TF.js layers folder. */
async function smallModelDir(root: string): Promise<string> {
  await ensureTfjsBackend();
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [32, 32, 3], filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', seed: 1 } as never),
      tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthwiseInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
      tf.layers.batchNormalization(),
      tf.layers.globalAveragePooling2d({}),
      tf.layers.dense({ units: 4, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
    ],
  });
  const dir = join(root, 'small-tfjs');
  await saveLayersModelToDir(model, dir);
  model.dispose();
  return dir;
}

describe('graft convert', () => {
  let root: string;
  let small: string;
  beforeAll(async () => {
    root = await tempDir();
    small = await smallModelDir(root);
  });

  it('detects formats by content', async () => {
    expect((await detectFormat(small)).format).toBe('tfjs-layers');
    const text = join(root, 'notes.h5');
    await writeFile(text, 'not a model');
    await expect(detectFormat(text)).rejects.toThrow(/Tried: keras-h5: no HDF5 signature/);
  });

  it('TF.js layers -> ONNX and -> TF.js, each checked numerically', async () => {
    const onnx = await convertModel(small, { to: 'onnx', out: join(root, 'small.onnx') });
    expect(onnx.read).toMatchObject({ format: 'tfjs-layers', inputShape: [32, 32, 3], outputShape: [4] });
    expect(onnx.check.maxAbsDiff).toBeLessThanOrEqual(1e-5);
    expect(existsSync(onnx.wrote.path)).toBe(true);
    const tfjs = await convertModel(small, { to: 'tfjs', out: join(root, 'copy-tfjs') });
    expect(tfjs.check.maxAbsDiff).toBe(0);
    expect(readdirSync(tfjs.wrote.path).sort()).toEqual(['model.json', 'weights.bin']);
  });

  it('fails clearly and writes nothing on a truncated model.json or a missing shard', async () => {
    const broken = join(root, 'broken');
    await mkdir(broken);
    await writeFile(join(broken, 'model.json'), '{"modelTopology": {"class_name": "Seq');
    const error = (await convertModel(broken, { to: 'onnx', out: join(root, 'broken.onnx') }).catch((e: unknown) => e)) as GraftError;
    expect(error).toBeInstanceOf(GraftError);
    expect(error.message).toContain(join(broken, 'model.json'));
    expect(existsSync(join(root, 'broken.onnx'))).toBe(false);
  });

  it('the CLI prints what it read, wrote and checked, with --json', async () => {
    const run = await runCli(['convert', small, '--to', 'onnx', '--out', join(root, 'cli.onnx'), '--json']);
    expect(run.code, run.stderr).toBe(0);
    const report = parseJsonOutput<{ read: { format: string }; wrote: { path: string }; check: { maxAbsDiff: number } }>(run);
    expect(report.read.format).toBe('tfjs-layers');
    expect(report.check.maxAbsDiff).toBeLessThan(1e-4);
  });

  skipReason('convert tests on shared models');
  it.skipIf(!hasShared)('the Teachable Machine base converts to ONNX within 1e-4; an ONNX input is refused with the readable formats', async () => {
    const report = await convertModel(join(sharedDir, 'models/tm-mobilenetv2-035/base'), { to: 'onnx', out: join(root, 'tm.onnx') });
    expect(report.check.maxAbsDiff).toBeLessThanOrEqual(1e-4);
    const error = (await convertModel(int8Model, { to: 'tfjs', out: join(root, 'x') }).catch((e: unknown) => e)) as GraftError;
    expect(error.code).toBe('UNSUPPORTED_MODEL');
    expect(existsSync(join(root, 'x'))).toBe(false);
  });

  it.skipIf(!hasShared)('Keras .h5 (Teachable Machine export) -> ONNX and TF.js, and as a backbone whose features are its 1280-d base', async () => {
    const h5 = join(sharedDir, 'models/tm-keras-h5/renoirtan-bbc2021/keras_model.h5');
    const onnx = await convertModel(h5, { to: 'onnx', out: join(root, 'tm-h5.onnx') });
    expect(onnx.read).toMatchObject({ format: 'keras-h5', outputShape: [2] });
    expect(onnx.check.maxAbsDiff).toBeLessThanOrEqual(1e-4);
    const tfjs = await convertModel(h5, { to: 'tfjs', out: join(root, 'tm-h5-tfjs') });
    expect(tfjs.check.maxAbsDiff).toBe(0);
    const run = await runCli(['embed', join(sharedDir, 'datasets/hymenoptera/val/bees'), '--backbone', h5, '--scale=-1..1', '--json'], { GRAFT_CACHE_DIR: join(root, 'h5-cache') });
    // A folder of one class is not a dataset for training, but embed only needs images: it says so clearly.
    expect(run.code).toBe(2);
    const classes = join(root, 'h5-data');
    await mkdir(join(classes, 'bees'), { recursive: true });
    await mkdir(join(classes, 'ants'), { recursive: true });
    const { cp } = await import('node:fs/promises');
    for (const [cls, file] of [['bees', '10870992_eebeeb3a12.jpg'], ['ants', '10308379_1b6c72e180.jpg']] as const) {
      await cp(join(sharedDir, 'datasets/hymenoptera/val', cls, file), join(classes, cls, file));
    }
    const ok = await runCli(['embed', classes, '--backbone', h5, '--scale=-1..1', '--json'], { GRAFT_CACHE_DIR: join(root, 'h5-cache') });
    expect(ok.code, ok.stderr).toBe(0);
    expect(parseJsonOutput<{ computed: number }>(ok).computed).toBe(2);
  });

  it.skipIf(!hasShared)('a TF.js graph model (old TF Hub format) -> ONNX, and as a backbone through its cached ONNX export', async () => {
    const graph = join(sharedDir, 'models/mobilenet-v1-025-tfjs/graph');
    const report = await convertModel(graph, { to: 'onnx', out: join(root, 'v1.onnx') });
    expect(report.read).toMatchObject({ format: 'tfjs-graph', inputShape: [224, 224, 3], outputShape: [1001] });
    expect(report.check.maxAbsDiff).toBeLessThanOrEqual(1e-4);
    const data = join(root, 'graph-data');
    const { cp } = await import('node:fs/promises');
    for (const [cls, file] of [['bees', '10870992_eebeeb3a12.jpg'], ['ants', '10308379_1b6c72e180.jpg']] as const) {
      await mkdir(join(data, cls), { recursive: true });
      await cp(join(sharedDir, 'datasets/hymenoptera/val', cls, file), join(data, cls, file));
    }
    const env = { GRAFT_CACHE_DIR: join(root, 'graph-cache') };
    const first = await runCli(['embed', data, '--backbone', graph, '--scale', '0..1', '--json'], env);
    expect(first.code, first.stderr).toBe(0);
    expect(parseJsonOutput<{ computed: number }>(first).computed).toBe(2);
    expect(readdirSync(join(root, 'graph-cache', 'exports')).some((f) => f.endsWith('.onnx'))).toBe(true);
  });
});
