import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { GraftModel, learn, recipes, type model } from '../../src/index.js';
import { buildReport } from '../../src/report/build-report.js';
import { copySubset, hasShared, hymenoptera, int8Model, parseJsonOutput, runCli, skipReason, tempDir } from '../support.js';

type DenseLayerWeights = learn.DenseLayerWeights;

/** Every image of a class-folder dataset, in sorted order, with its class index. */
async function listImages(dir: string): Promise<{ files: string[]; labels: Int32Array; classNames: string[] }> {
  const classNames = (await readdir(dir)).sort();
  const files: string[] = [];
  const labels: number[] = [];
  for (const [k, name] of classNames.entries()) {
    for (const f of (await readdir(join(dir, name))).sort()) {
      files.push(join(dir, name, f));
      labels.push(k);
    }
  }
  return { files, labels: Int32Array.from(labels), classNames };
}

/** The vectors as one [count, dim] matrix (every file must have been read). */
function matrixOf(vectors: readonly (Float32Array | undefined)[], dim: number): learn.FeatureMatrix {
  const data = new Float32Array(vectors.length * dim);
  vectors.forEach((v, i) => data.set(v!, i * dim));
  return { data, count: vectors.length, dim };
}

/**
 * A deliberately non-Graft head: nearest class mean (score_k = x.m_k - |m_k|^2 / 2, as logits) behind a hidden relu
 * layer that passes the (non-negative) features through, so the saved model runs a hidden layer and linear logits.
 */
function nearestMeanHead(features: learn.FeatureMatrix, labels: Int32Array, classes: number): DenseLayerWeights[] {
  const { dim } = features;
  const identity = new Float32Array(dim * dim);
  for (let i = 0; i < dim; i++) identity[i * dim + i] = 1;
  const weight = new Float32Array(dim * classes);
  const bias = new Float32Array(classes);
  for (let k = 0; k < classes; k++) {
    const rows = [...labels.keys()].filter((r) => labels[r] === k);
    for (let d = 0; d < dim; d++) {
      const mean = rows.reduce((s, r) => s + features.data[r * dim + d]!, 0) / rows.length;
      weight[d * classes + k] = mean;
      bias[k] = bias[k]! - (mean * mean) / 2;
    }
  }
  // Scaled so that the logits of the training images spread over about one unit: probabilities away from 0 and 1,
  // where averaging an image's with its mirror image's shows (saturated ones average to the same 0 or 1).
  const logits = [...labels.keys()].map((r) => learn.denseForward([{ inputDim: dim, outputDim: classes, weight, bias, activation: 'linear' }], features.data.subarray(r * dim, (r + 1) * dim)));
  const spread = Math.max(...logits.map((l) => Math.max(...l) - Math.min(...l)));
  const scale = (v: number): number => v / spread;
  return [
    { inputDim: dim, outputDim: dim, weight: identity, bias: null, activation: 'relu' },
    { inputDim: dim, outputDim: classes, weight: weight.map(scale), bias: bias.map(scale), activation: 'linear' },
  ];
}

function softmax(logits: Float32Array): Float32Array {
  const out = Float32Array.from(logits);
  learn.softmaxInPlace(out);
  return out;
}

skipReason('saving a head fitted outside Graft');
describe.skipIf(!hasShared)('recipes.saveHeadModel: a head fitted outside Graft, saved as a model directory', () => {
  let root: string;
  let cacheDir: string;
  let train: Awaited<ReturnType<typeof listImages>>;
  let heldOut: Awaited<ReturnType<typeof listImages>>;
  let heldOutDir: string;
  beforeAll(async () => {
    root = await tempDir('graft-save-head-');
    cacheDir = join(root, 'cache');
    train = await listImages(await copySubset(join(hymenoptera, 'train'), join(root, 'train'), 6));
    heldOutDir = await copySubset(join(hymenoptera, 'val'), join(root, 'val'), 3);
    heldOut = await listImages(heldOutDir);
  }, 120_000);

  it('at two scales: learn.fitLinearHead on extractHeadFeatures, saved, loaded, predicts what the head gives on those features', async () => {
    const backbone = { backbone: int8Model, cacheDir };
    const extracted = await recipes.extractHeadFeatures(train.files, backbone);
    expect(extracted.skipped).toEqual([]);
    expect(extracted.backbone.scales).toHaveLength(2);
    const dim = extracted.backbone.featureDim;
    const fitted = await learn.fitLinearHead(
      { plain: matrixOf(extracted.vectors, dim), labels: train.labels, classNames: train.classNames, files: train.files },
      { c: 1, trainViews: 'plain', tta: false, crossValidate: false, classWeights: 'none', maxFolds: 'auto', seed: 0 },
    );
    const out = join(root, 'linear-model');
    const saved = await recipes.saveHeadModel({ ...backbone, head: fitted.layers, labels: train.classNames, out });
    expect(saved).toMatchObject({ model: out, labels: train.classNames, tta: false });

    const expected = (await recipes.extractHeadFeatures(heldOut.files, backbone)).vectors.map((v) => learn.denseForward(fitted.layers, v!));
    const loaded = await GraftModel.load(out);
    try {
      const { probabilities, skipped } = await loaded.probabilities(heldOut.files);
      expect(skipped).toEqual([]);
      const k = train.classNames.length;
      expected.forEach((p, i) => {
        for (let c = 0; c < k; c++) expect(Math.abs(probabilities[i * k + c]! - p[c]!)).toBeLessThan(1e-4);
      });
      const manifest: model.ModelManifest = loaded.manifest;
      expect(manifest.training).toBeUndefined();
      expect(manifest.head).toMatchObject({ trainedBy: 'external', hidden: [], tta: false, activations: ['softmax'] });
      expect(manifest.metrics).toEqual({ val: null, history: [] });
      expect(manifest.backbone).toMatchObject({ featureDim: dim, scales: extracted.backbone.scales });
      // A JavaScript caller's slips (found by a QA pass): a path for a list, a string for bytes, a misspelt option.
      const refused = async (call: () => Promise<unknown>): Promise<string> => {
        const error = (await call().then(() => undefined, (e: unknown) => e)) as { code?: string; message: string };
        expect(error.code).toBe('INVALID_CONFIG');
        return error.message;
      };
      expect(await refused(() => loaded.predict(heldOut.files[0] as unknown as string[]))).toMatch(/^The files to predict must be an array of paths\. Received: ".*"$/);
      expect(await refused(() => loaded.predict([123] as unknown as string[]))).toBe('The files to predict must be an array of paths. Received: an array holding number');
      expect(await refused(() => loaded.predictBytes('hello' as unknown as Uint8Array))).toMatch(/^predictBytes takes the image's bytes/);
      expect(await refused(() => loaded.predict(heldOut.files, { top_k: 2 } as never))).toMatch(/^Unknown option of predict\(\): top_k\. Known: batchSize, onProgress, signal, topK$/);
      const { evaluateModel } = await import('../../src/model/evaluate-model.js');
      expect(await refused(() => evaluateModel(loaded, heldOut.files[0]!, { perimage: true } as never))).toMatch(/^Unknown option of evaluateModel\(\): perimage\./);
    } finally {
      await loaded.dispose();
    }
    // After dispose: the caller's mistake (INVALID_CONFIG, with what to do), not Graft's (INTERNAL).
    const disposed = (await loaded.predict(heldOut.files).catch((e: unknown) => e)) as { code?: string; hint?: string };
    expect(disposed).toMatchObject({ code: 'INVALID_CONFIG', hint: expect.stringContaining('load it again') });

    // Saved again over it, a model folder the user keeps in git with a model card: both stay, Graft's files are new.
    await mkdir(join(out, '.git'));
    await writeFile(join(out, '.git', 'HEAD'), 'ref: refs/heads/main\n');
    await writeFile(join(out, 'README.md'), '# Ants and bees\n');
    await recipes.saveHeadModel({ ...backbone, head: fitted.layers, labels: train.classNames, out, tta: true });
    expect((await readdir(out)).sort()).toEqual(['.git', 'README.md', 'graft.json', 'head.bin', 'model.onnx']);
    expect(await readFile(join(out, '.git', 'HEAD'), 'utf8')).toBe('ref: refs/heads/main\n');
    expect(JSON.parse(await readFile(join(out, 'graft.json'), 'utf8'))).toMatchObject({ head: { tta: true } });
  }, 300_000);

  it('at one scale with mirror TTA: a hand-made nearest-mean head (hidden relu, linear logits) averages each image and its mirror', async () => {
    const backbone = { backbone: int8Model, cacheDir, multiScale: false };
    const extracted = await recipes.extractHeadFeatures(train.files, backbone);
    expect(extracted.backbone.scales).toBeUndefined();
    const head = nearestMeanHead(matrixOf(extracted.vectors, extracted.backbone.featureDim), train.labels, train.classNames.length);
    const out = join(root, 'mean-model');
    await recipes.saveHeadModel({ ...backbone, head, labels: train.classNames, tta: true, out });

    const views = await recipes.extractHeadFeatures(heldOut.files, { ...backbone, mirror: true });
    const loaded = await GraftModel.load(out);
    try {
      const { probabilities } = await loaded.probabilities(heldOut.files);
      const k = train.classNames.length;
      let correct = 0;
      let mirrorShift = 0;
      heldOut.files.forEach((_, i) => {
        const plain = softmax(learn.denseForward(head, views.vectors[i]!));
        const mirrored = softmax(learn.denseForward(head, views.mirrored[i]!));
        mirrorShift = Math.max(mirrorShift, Math.abs(plain[0]! - mirrored[0]!));
        for (let c = 0; c < k; c++) expect(Math.abs(probabilities[i * k + c]! - (plain[c]! + mirrored[c]!) / 2)).toBeLessThan(1e-4);
        const predicted = probabilities.subarray(i * k, (i + 1) * k).indexOf(Math.max(...probabilities.subarray(i * k, (i + 1) * k)));
        if (predicted === heldOut.labels[i]) correct++;
      });
      // The check tells TTA from none (a mirror image moves a probability well past 1e-4), and the head is a real
      // classifier, not a constant: most held-out ants and bees are told apart.
      expect(mirrorShift).toBeGreaterThan(1e-2);
      expect(correct).toBeGreaterThan(heldOut.files.length / 2);
      expect(loaded.manifest.onnx.tta).toBe('mirror');
      expect(loaded.manifest.head).toMatchObject({ trainedBy: 'external', hidden: [extracted.backbone.featureDim], tta: true, activations: ['relu', 'softmax'] });
    } finally {
      await loaded.dispose();
    }

    // The report reads it: no training run to show, and it says why.
    const report = await buildReport(out, { data: heldOutDir });
    expect(report.html).toContain('trained outside Graft');
  }, 300_000);

  it('the built CLI takes the directory: graft eval and graft export --to web; graft train --config refuses its graft.json', async () => {
    const out = join(root, 'linear-model');
    const env = { GRAFT_CACHE_DIR: cacheDir };
    const evaluated = await runCli(['eval', out, heldOutDir, '--json'], env);
    expect(evaluated.code, evaluated.stderr).toBe(0);
    const report = parseJsonOutput<{ accuracy: number; count: number }>(evaluated);
    expect(report.count).toBe(heldOut.files.length);
    expect(report.accuracy).toBeGreaterThan(0.5);

    const web = join(root, 'web');
    const exported = await runCli(['export', out, '--to', 'web', '--out', web, '--json'], env);
    expect(exported.code, exported.stderr).toBe(0);
    const info = JSON.parse(await readFile(join(web, 'model.json'), 'utf8')) as { labels: string[]; metrics: { val: unknown; cv?: unknown } };
    expect(info.labels).toEqual(train.classNames);
    expect(info.metrics).toEqual({ val: null });

    const replay = await runCli(['train', join(root, 'train'), '--config', join(out, 'graft.json'), '--out', join(root, 'replayed'), '--backbone', int8Model], env);
    expect(replay.code).not.toBe(0);
    expect(replay.stderr).toContain('head was trained outside Graft');
  }, 300_000);
});
