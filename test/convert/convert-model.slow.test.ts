import { existsSync, readdirSync } from 'node:fs';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureTfjsBackend } from '../../src/runtime/tfjs-backend.js';
import { GraftError } from '../../src/core/errors.js';
import { convertModel } from '../../src/convert/convert-model.js';
import { detectFormat } from '../../src/formats/detect-format.js';
import { backboneFromOptions } from '../../src/engine/open-backbone.js';
import { saveLayersModelToDir } from '../../src/readers/save-layers-model.js';
import { loadLayersModelFromDir } from '../../src/readers/tfjs-layers.js';
import { exportLayersModelToOnnx } from '../../src/tfjs-to-onnx/layers-model-to-onnx.js';
import { cutAtFeatures } from '../../src/readers/feature-cut.js';
import { hasShared, int8Model, loadImageBatch, parseJsonOutput, runCli, sharedDir, skipReason, tempDir } from '../support.js';

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

  it('never replaces its source, a folder of other files, or a file with a folder', async () => {
    const refused = async (to: 'onnx' | 'tfjs', out: string, pattern: RegExp): Promise<void> => {
      const error = (await convertModel(small, { to, out }).catch((e: unknown) => e)) as GraftError;
      expect(error).toBeInstanceOf(GraftError);
      expect(error.code).toBe('INVALID_CONFIG');
      expect(error.message).toMatch(pattern);
    };
    const project = join(root, 'project');
    await mkdir(join(project, 'src'), { recursive: true });
    await writeFile(join(project, 'notes.txt'), 'keep');
    await refused('tfjs', project, /not empty and is not a TF\.js model folder/);
    await refused('onnx', project, /is a folder; an ONNX model is one file/);
    await refused('tfjs', join(project, 'notes.txt'), /is a file/);
    await refused('tfjs', small, /holds .*small-tfjs.*, which this run reads/);
    // An ONNX output replaces an earlier .onnx output only: not the source's weight shard, not the user's notes.
    const weights = await readFile(join(small, 'weights.bin'));
    await refused('onnx', join(small, 'weights.bin'), /is a file that is not an ONNX model \(weights\.bin\)/);
    await refused('onnx', join(project, 'notes.txt'), /is a file that is not an ONNX model/);
    expect(await readFile(join(small, 'weights.bin'))).toEqual(weights);
    expect(await readFile(join(project, 'notes.txt'), 'utf8')).toBe('keep');
    expect(readdirSync(project).sort()).toEqual(['notes.txt', 'src']);
    expect(readdirSync(small).sort()).toEqual(['model.json', 'weights.bin']);
    // A rerun replaces its own earlier output, and a new folder is made for it.
    const nested = join(root, 'new', 'folder', 'small.onnx');
    await convertModel(small, { to: 'onnx', out: nested });
    expect((await convertModel(small, { to: 'onnx', out: nested })).wrote.path).toBe(nested);
    // A model given as a file (Keras .h5) and converted onto itself.
    const h5 = join(root, 'copy.h5');
    await writeFile(h5, await readFile(join(sharedDir, 'models/keras-h5-sequential-cnn/mnist_cnn_keras3.9.0.h5')).catch(() => Buffer.from('')));
    if ((await readFile(h5)).length > 0) {
      const error = (await convertModel(h5, { to: 'onnx', out: h5 }).catch((e: unknown) => e)) as GraftError;
      expect(error.message).toMatch(/is the model being converted/);
    }
    // Nor a Graft model directory's own model.onnx: that model would then answer with another model's outputs.
    const modelDir = join(root, 'graft-model');
    await mkdir(modelDir, { recursive: true });
    await writeFile(join(modelDir, 'graft.json'), '{}');
    await writeFile(join(modelDir, 'model.onnx'), 'the model graft train wrote');
    const intoModel = (await convertModel(small, { to: 'onnx', out: join(modelDir, 'model.onnx') }).catch((e: unknown) => e)) as GraftError;
    expect(intoModel).toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining('is a file of the Graft model directory') });
    expect(await readFile(join(modelDir, 'model.onnx'), 'utf8')).toBe('the model graft train wrote');
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
  it.skipIf(!hasShared)('the Teachable Machine base converts to ONNX within 1e-4; ONNX to ONNX is refused and writes nothing', async () => {
    const report = await convertModel(join(sharedDir, 'models/tm-mobilenetv2-035/base'), { to: 'onnx', out: join(root, 'tm.onnx') });
    expect(report.check.maxAbsDiff).toBeLessThanOrEqual(1e-4);
    const error = (await convertModel(int8Model, { to: 'onnx', out: join(root, 'x.onnx') }).catch((e: unknown) => e)) as GraftError;
    expect(error.code).toBe('UNSUPPORTED_MODEL');
    expect(error.hint).toMatch(/--to tfjs/);
    expect(existsSync(join(root, 'x.onnx'))).toBe(false);
  });

  it.skipIf(!hasShared)('float ONNX -> TF.js layers: the TF.js -> ONNX -> TF.js round trip matches the original within 1e-4 on real images', async () => {
    const original = await loadLayersModelFromDir(join(sharedDir, 'models/tm-mobilenetv2-035/base'));
    const onnxPath = join(root, 'tm-export.onnx');
    await writeFile(onnxPath, exportLayersModelToOnnx(original));
    try {
      const report = await convertModel(onnxPath, { to: 'tfjs', out: join(root, 'tm-roundtrip-tfjs') });
      expect(report.read).toMatchObject({ format: 'onnx', inputShape: [224, 224, 3], outputShape: [1280] });
      expect(report.wrote).toMatchObject({ format: 'tfjs', inputShape: [224, 224, 3], outputShape: [1280] });
      expect(report.check.maxAbsDiff).toBeLessThanOrEqual(1e-4);
      expect(report.check.reference).toBeUndefined();
      expect(readdirSync(report.wrote.path).sort()).toEqual(['model.json', 'weights.bin']);
      const written = await loadLayersModelFromDir(report.wrote.path);
      const x = tf.tensor4d(await loadImageBatch('-1..1', { count: 4 }), [4, 224, 224, 3]);
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(written.predict(x) as tf.Tensor, original.predict(x) as tf.Tensor))).dataSync()[0]!);
      console.log(`TF.js -> ONNX -> TF.js (graft convert, ${report.seconds.toFixed(2)} s): max abs diff vs the original on 4 images ${diff.toExponential(2)}; check ${report.check.maxAbsDiff.toExponential(2)}`);
      expect(diff).toBeLessThanOrEqual(1e-4);
      x.dispose();
      written.dispose();
    } finally {
      original.dispose();
    }
  }, 120_000);

  it.skipIf(!hasShared)('a TF.js graph model -> ONNX -> TF.js keeps its NHWC input, though the graph scales it before transposing', async () => {
    const onnx = await convertModel(join(sharedDir, 'models/mobilenet-v1-025-tfjs/graph'), { to: 'onnx', out: join(root, 'mnv1-graph.onnx') });
    expect(onnx.wrote).toMatchObject({ format: 'onnx' });
    const back = await convertModel(onnx.wrote.path, { to: 'tfjs', out: join(root, 'mnv1-graph-tfjs') });
    // Before: taken for NCHW (its first reader is a Mul, not a Transpose) and given a [224, 3, 224] input.
    expect(back.read.inputShape).toEqual([224, 224, 3]);
    expect(back.wrote.inputShape).toEqual([224, 224, 3]);
    expect(back.notes ?? []).not.toContainEqual(expect.stringMatching(/ONNX was NCHW/));
  }, 120_000);

  it.skipIf(!hasShared)('int8 ONNX -> TF.js layers: NHWC input, float layers; top-1 on real images matches onnxruntime', async () => {
    const out = join(root, 'mobilenetv2-tfjs');
    const report = await convertModel(int8Model, { to: 'tfjs', out });
    expect(report.read).toMatchObject({ format: 'onnx', inputShape: [3, 224, 224], outputShape: [1000] });
    expect(report.wrote.inputShape).toEqual([224, 224, 3]);
    expect(report.notes).toContain('input is NHWC [1,224,224,3]; ONNX was NCHW [1,3,224,224]');
    expect(report.check.reference).toMatch(/importOnnxToTfjs/);
    expect(report.check.maxAbsDiff).toBeLessThanOrEqual(1e-4);
    expect(report.check.onnxruntime?.maxAbsDiff).toBeGreaterThan(0);
    expect(readdirSync(out).sort()).toEqual(['model.json', 'weights.bin']);
    expect(readdirSync(root).filter((f) => f.includes('.converting-') || f.includes('.staging-'))).toEqual([]);

    const count = 8;
    const nhwc = await loadImageBatch('imagenet', { count });
    const nchw = tf.tidy(() => tf.transpose(tf.tensor4d(nhwc, [count, 224, 224, 3]), [0, 3, 1, 2]).dataSync() as Float32Array);
    const written = await loadLayersModelFromDir(out);
    const logits = tf.tidy(() => (written.predict(tf.tensor4d(nhwc, [count, 224, 224, 3])) as tf.Tensor).dataSync());
    // As a backbone it gives the 1 280 pooled features, as the ONNX file does, not its 1 000 clamped logits.
    expect(cutAtFeatures(written, out, 'whole').outputs[0]!.shape).toEqual([null, 1280]);
    written.dispose();
    const session = await InferenceSession.create(int8Model);
    const reference = (await session.run({ input: new Tensor('float32', nchw, [count, 3, 224, 224]) }))['output']!.data as Float32Array;
    await session.release();
    const top1 = (data: ArrayLike<number>) => Array.from({ length: count }, (_r, row) => tf.tidy(() => tf.tensor1d(Array.from(data).slice(row * 1000, row * 1000 + 1000)).argMax().dataSync()[0]));
    const [mine, theirs] = [top1(logits), top1(reference)];
    const agreement = mine.filter((c, i) => c === theirs[i]).length / count;
    const diff = Array.from(logits).reduce((m, v, i) => Math.max(m, Math.abs(v - reference[i]!)), 0);
    // Where the top-1 differs, how far apart onnxruntime itself puts the two classes (a near tie flips under any rounding).
    const gaps = mine.flatMap((c, i) => (c === theirs[i] ? [] : [(reference[i * 1000 + theirs[i]!]! - reference[i * 1000 + c!]!).toFixed(3)]));
    console.log(
      `int8 MobileNetV2 -> TF.js (graft convert, ${report.seconds.toFixed(2)} s, ${(report.wrote.bytes / 1e6).toFixed(1)} MB): on ${count} real images top-1 agreement with onnxruntime ${agreement} (onnxruntime logit gaps where they differ: ${gaps.join(', ') || 'none'}), ` +
        `logits max abs diff ${diff.toFixed(3)}; check on random inputs: vs float import ${report.check.maxAbsDiff.toExponential(2)}, vs onnxruntime ${report.check.onnxruntime?.maxAbsDiff.toFixed(3)}`,
    );
    expect(agreement).toBeGreaterThanOrEqual(0.875);
  }, 180_000);

  it('a truncated .onnx fails clearly and writes nothing', async () => {
    const dir = join(root, 'truncated');
    await mkdir(dir);
    const bytes = hasShared ? await readFile(int8Model) : new Uint8Array(exportLayersModelToOnnx(await loadLayersModelFromDir(small)));
    await writeFile(join(dir, 'cut.onnx'), bytes.subarray(0, Math.floor(bytes.length / 3)));
    const error = (await convertModel(join(dir, 'cut.onnx'), { to: 'tfjs', out: join(dir, 'cut-tfjs') }).catch((e: unknown) => e)) as GraftError;
    expect(error).toBeInstanceOf(GraftError);
    expect(error.message).toMatch(/cut\.onnx" is not a (readable|usable) ONNX model/);
    expect(readdirSync(dir)).toEqual(['cut.onnx']);
  });

  it.skipIf(!hasShared)('the CLI converts ONNX to TF.js and says the input became NHWC; --architecture is passed through', async () => {
    const run = await runCli(['convert', int8Model, '--to', 'tfjs', '--out', join(root, 'cli-tfjs')]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('note   input is NHWC [1,224,224,3]; ONNX was NCHW [1,3,224,224]');
    expect(run.stdout).toMatch(/vs onnxruntime \(integer kernels, not gated\): max abs diff/);
    const mnist = join(sharedDir, 'models/keras-h5-sequential-cnn/mnist_cnn_keras2.2.4-tf.h5');
    const weights = await runCli(['convert', mnist, '--architecture', mnist, '--to', 'onnx', '--out', join(root, 'mnist.onnx'), '--json']);
    expect(weights.code, weights.stderr).toBe(0);
    expect(parseJsonOutput<{ notes: string[] }>(weights).notes.join('\n')).toMatch(/8 tensors in 4 layers, matched by name/);
    // A grayscale network as a backbone, as .h5 and as ONNX: refused when opened, naming its input, exit 3 (a model
    // problem), and no model written; not an onnxruntime error at the first batch.
    const data = join(sharedDir, 'datasets/hymenoptera/val');
    for (const backbone of [mnist, join(root, 'mnist.onnx')]) {
      const out = join(root, `gray-${backbone.endsWith('.onnx') ? 'onnx' : 'h5'}`);
      const run = await runCli(['train', data, '--backbone', backbone, '--scale', '0..1', '--out', out, '--json'], { GRAFT_CACHE_DIR: join(root, 'gray-cache') });
      expect(run.code, run.stderr).toBe(3);
      const { error } = parseJsonOutput<{ error: { code: string; message: string } }>(run);
      expect(error.code).toBe('UNSUPPORTED_MODEL');
      expect(error.message).toContain('1 channel (input [N, 28, 28, 1])');
      expect(existsSync(out)).toBe(false);
    }
  }, 180_000);

  it.skipIf(!hasShared)('Keras .h5 (Teachable Machine export) -> ONNX and TF.js, and as a backbone whose features are its 1280-d base', async () => {
    const h5 = join(sharedDir, 'models/tm-keras-h5/renoirtan-bbc2021/keras_model.h5');
    const onnx = await convertModel(h5, { to: 'onnx', out: join(root, 'tm-h5.onnx') });
    expect(onnx.read).toMatchObject({ format: 'keras-h5', outputShape: [2] });
    expect(onnx.check.maxAbsDiff).toBeLessThanOrEqual(1e-4);
    const tfjs = await convertModel(h5, { to: 'tfjs', out: join(root, 'tm-h5-tfjs') });
    expect(tfjs.check.maxAbsDiff).toBe(0);
    // Each form, as a backbone, gives the base's 1280 pooled features, not the 100 of the TM head's hidden Dense
    // (which the ONNX file's last MatMul reads).
    for (const backbone of [h5, onnx.wrote.path, tfjs.wrote.path]) {
      const handle = await backboneFromOptions({ backbone, cacheDir: join(root, 'tm-forms-cache'), overrides: { scale: '-1..1' } });
      expect(handle.info.featureDim, backbone).toBe(1280);
    }
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

  it.skipIf(!hasShared)("Keras's MobileNet V1 as a TF.js layers folder -> ONNX: both find its 256 pooled features, not its 1 000 probabilities", async () => {
    const layers = join(sharedDir, 'models/mobilenet-v1-025-tfjs/layers/model.json');
    const out = join(root, 'v1-layers.onnx');
    const report = await convertModel(layers, { to: 'onnx', out });
    expect(report.read.outputShape).toEqual([1000]);
    const cacheDir = join(root, 'v1-layers-cache');
    // The ONNX file reaches its 1x1-conv classifier through the Transpose the converter put back to NCHW.
    for (const backbone of [layers, out]) {
      const handle = await backboneFromOptions({ backbone, cacheDir, overrides: { scale: '-1..1' } });
      expect(handle.info.featureDim).toBe(256);
    }
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

    // The converted file as an ONNX backbone: its classifier is a 1x1 Conv on the pooled map, so the features are the
    // 256 pooled values, not the 1 001 logits (its only output, which `graft convert` names graft_features).
    const onnxEnv = { GRAFT_CACHE_DIR: join(root, 'v1-onnx-cache') };
    const onnxFlags = ['--backbone', join(root, 'v1.onnx'), '--scale', '0..1', '--no-multi-scale', '--json'];
    const auto = await backboneFromOptions({ backbone: join(root, 'v1.onnx'), cacheDir: onnxEnv.GRAFT_CACHE_DIR, overrides: { scale: '0..1' } });
    expect(auto.info.featureDim).toBe(256);
    const logits = 'module_apply_default/MobilenetV1/Logits/SpatialSqueeze';
    const named = await backboneFromOptions({ backbone: join(root, 'v1.onnx'), cacheDir: onnxEnv.GRAFT_CACHE_DIR, overrides: { scale: '0..1' }, featureOutput: logits });
    expect(named.info.featureDim).toBe(1001);
    // Features of another tensor are other features: never served from the automatic choice's cache entries.
    for (const [flags, computed] of [[[], 2], [['--feature-output', logits], 2], [[], 0], [['--feature-output', logits], 0]] as const) {
      const run = await runCli(['embed', data, ...onnxFlags, ...flags], onnxEnv);
      expect(run.code, run.stderr).toBe(0);
      expect(parseJsonOutput<{ computed: number }>(run).computed).toBe(computed);
    }
  });
});
