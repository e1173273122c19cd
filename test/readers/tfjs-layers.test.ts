import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTfjsBackend, ensureTfjsBackendChoice } from '../../src/runtime/tfjs-backend.js';
import { GraftError } from '../../src/core/errors.js';
import { saveLayersModelToDir } from '../../src/readers/save-layers-model.js';
import { Subtract } from '../../src/readers/subtract-layer.js';
import { layersModelDirSha256, loadLayersModelFromDir, loadNsfwjsMobileNetV2, truncateAt } from '../../src/readers/tfjs-layers.js';
import { tfjsModelDirSha256 } from '../../src/readers/tfjs-model-dir.js';
import { CATALOGUE } from '../../src/hub/catalogue.js';
import { hasShared, sharedDir } from '../support.js';

let work: string;
let model: tf.LayersModel;

/** Writes `model` as model.json + one shard (optionally split in two) into a new folder. */
async function writeModelDir(name: string, edit: (json: { weightsManifest: { paths: string[] }[] }) => void = () => {}, split = false): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = new Uint8Array(artifacts.weightData as ArrayBuffer);
      const half = Math.floor(weights.length / 2);
      const paths = split ? ['group1-shard1of2.bin', 'group1-shard2of2.bin'] : ['weights.bin'];
      const json = { modelTopology: artifacts.modelTopology, weightsManifest: [{ paths, weights: artifacts.weightSpecs }], format: 'layers-model' };
      edit(json);
      await writeFile(join(dir, 'model.json'), JSON.stringify(json));
      if (split) {
        await writeFile(join(dir, paths[0]!), weights.subarray(0, half));
        await writeFile(join(dir, paths[1]!), weights.subarray(half));
      } else {
        await writeFile(join(dir, 'weights.bin'), weights);
      }
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return dir;
}

async function snapshot(dir: string): Promise<string[]> {
  const names = (await readdir(dir)).sort();
  return Promise.all(names.map(async (n) => `${n}:${(await stat(join(dir, n))).size}:${(await stat(join(dir, n))).mtimeMs}`));
}

async function expectGraftError(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GraftError);
  expect((error as GraftError).code).toBe(code);
  expect((error as GraftError).message).toMatch(pattern);
  expect((error as GraftError).hint).toBeTruthy();
}

beforeAll(async () => {
  await ensureTfjsBackend();
  work = await mkdtemp(join(tmpdir(), 'graft-tfjs-layers-'));
  model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, name: 'conv' }),
      tf.layers.globalAveragePooling2d({ name: 'gap' }),
      tf.layers.dense({ units: 2, name: 'head' }),
    ],
  });
});

afterAll(async () => {
  model.dispose();
  await rm(work, { recursive: true, force: true });
});

describe('ensureTfjsBackend', () => {
  it('selects wasm in Node', async () => {
    expect(await ensureTfjsBackend()).toBe('wasm');
    expect((await ensureTfjsBackendChoice()).fallbackReason).toBeUndefined();
    expect(tf.getBackend()).toBe('wasm');
  });
});

describe('loadLayersModelFromDir', () => {
  it('loads model.json and shards (split in two) with the same outputs', async () => {
    const dir = await writeModelDir('ok', undefined, true);
    const loaded = await loadLayersModelFromDir(dir);
    const x = tf.randomUniform([2, 8, 8, 3]);
    const a = (model.predict(x) as tf.Tensor).dataSync();
    const b = (loaded.predict(x) as tf.Tensor).dataSync();
    expect(Array.from(b)).toEqual(Array.from(a));
    x.dispose();
    loaded.dispose();
  });

  it('hashes model.json and shards: stable, and changed by one weight byte', async () => {
    const dir = await writeModelDir('hash');
    const first = await layersModelDirSha256(dir);
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(await layersModelDirSha256(dir)).toBe(first);
    // The hub's streamed id of any TF.js folder (no topology parsed) is the same id, and so is the catalogue's.
    expect(await tfjsModelDirSha256(dir)).toBe(first);
    const split = await writeModelDir('hash-split', undefined, true);
    expect(await tfjsModelDirSha256(split)).toBe(await layersModelDirSha256(split));
    if (hasShared) {
      const tm = join(sharedDir, 'models/tm-mobilenetv2-035/base');
      expect(await tfjsModelDirSha256(tm)).toBe(await layersModelDirSha256(tm));
      expect(CATALOGUE.mobilenet_v2_035.sha256).toContain(await tfjsModelDirSha256(tm));
    }
    const weights = await readFile(join(dir, 'weights.bin'));
    weights[0] = weights[0]! ^ 1;
    await writeFile(join(dir, 'weights.bin'), weights);
    expect(await layersModelDirSha256(dir)).not.toBe(first);
  });

  it('names a missing shard', async () => {
    const dir = await writeModelDir('missing', undefined, true);
    await rm(join(dir, 'group1-shard2of2.bin'));
    const before = await snapshot(dir);
    await expectGraftError(loadLayersModelFromDir(dir), 'MODEL_NOT_FOUND', /group1-shard2of2\.bin/);
    expect(await snapshot(dir)).toEqual(before);
  });

  it('names a short shard and the expected size', async () => {
    const dir = await writeModelDir('short');
    const weights = await readFile(join(dir, 'weights.bin'));
    await writeFile(join(dir, 'weights.bin'), weights.subarray(0, weights.length - 4));
    const before = await snapshot(dir);
    await expectGraftError(loadLayersModelFromDir(dir), 'INVALID_MODEL_DIR', new RegExp(`hold ${weights.length - 4} bytes but the manifest describes ${weights.length}\\..*weights\\.bin \\(${weights.length - 4} bytes\\)`));
    expect(await snapshot(dir)).toEqual(before);
  });

  it('refuses a shard path that leaves the folder, without reading or writing', async () => {
    const dir = await writeModelDir('escape', (json) => (json.weightsManifest[0]!.paths = ['../ok/weights.bin']));
    await writeModelDir('ok');
    const before = await snapshot(dir);
    await expectGraftError(loadLayersModelFromDir(dir), 'INVALID_MODEL_DIR', /"\.\.\/ok\/weights\.bin".*outside the model folder/);
    expect(await snapshot(dir)).toEqual(before);
  });

  it('refuses a symlinked shard that points outside the folder', async () => {
    const dir = await writeModelDir('link');
    await rm(join(dir, 'weights.bin'));
    await symlink(join(work, 'ok', 'weights.bin'), join(dir, 'weights.bin'));
    await expectGraftError(loadLayersModelFromDir(dir), 'INVALID_MODEL_DIR', /is a link to .*outside the model folder/);
  });

  it('reports a missing model.json and a graph model', async () => {
    await expectGraftError(loadLayersModelFromDir(join(work, 'nowhere')), 'MODEL_NOT_FOUND', /model\.json/);
    const dir = join(work, 'graph');
    await mkdir(dir);
    await writeFile(join(dir, 'model.json'), JSON.stringify({ format: 'graph-model', modelTopology: { node: [] } }));
    await expectGraftError(loadLayersModelFromDir(dir), 'INVALID_MODEL_DIR', /weightsManifest/);
  });
});

describe('Keras layers TensorFlow.js lacks', () => {
  it("loads a model.json with Keras's Subtract layer (tfjs alone: 'Unknown layer: Subtract')", async () => {
    const a = tf.input({ shape: [3] });
    const b = tf.layers.dense({ units: 3, name: 'b' }).apply(a) as tf.SymbolicTensor;
    const source = tf.model({ inputs: a, outputs: new Subtract({ name: 'diff' }).apply([a, b]) as tf.SymbolicTensor });
    const dir = join(work, 'subtract');
    await saveLayersModelToDir(source, dir);
    const loaded = await loadLayersModelFromDir(dir);
    try {
      expect(loaded.layers.map((layer) => layer.getClassName())).toContain('Subtract');
      const x = tf.tensor2d([[1, -2, 3]]);
      const [expected, actual] = [source, loaded].map((m) => Array.from((m.predict(x) as tf.Tensor).dataSync()));
      expect(actual).toEqual(expected);
      x.dispose();
    } finally {
      loaded.dispose();
      source.dispose();
    }
  });
});

describe('truncateAt', () => {
  it('outputs an inner layer and lists the layer names when the name is wrong', () => {
    const cut = truncateAt(model, 'gap');
    expect(cut.outputs[0]!.shape).toEqual([null, 4]);
    expect(() => truncateAt(model, 'nope')).toThrow(/no layer named "nope". Layers: conv, gap, head/);
  });

  it("cuts a layer called on two views at its first call (Graft's Teachable Machine export with its mirror)", () => {
    const input = tf.input({ shape: [4, 4, 2] });
    const mirrored = tf.layers.permute({ dims: [2, 1, 3] }).apply(input) as tf.SymbolicTensor;
    const shared = tf.layers.conv2d({ filters: 3, kernelSize: 2, name: 'shared_conv' });
    const [plain, other] = [input, mirrored].map((view) => tf.layers.flatten().apply(shared.apply(view)) as tf.SymbolicTensor);
    const both = tf.model({ inputs: input, outputs: tf.layers.average().apply([plain!, other!]) as tf.SymbolicTensor });
    const cut = truncateAt(both, 'shared_conv');
    expect(cut.outputs[0]).toBe(shared.getOutputAt(0));
    expect(cut.outputs[0]!.shape).toEqual([null, 3, 3, 3]);
    both.dispose();
  });
});

describe('loadNsfwjsMobileNetV2', () => {
  it('loads the dequantized MobileNetV2 whose flatten_1 gives 1280 features', async () => {
    const { model: nsfw, modelJson, weightBytes } = await loadNsfwjsMobileNetV2();
    try {
      expect(modelJson).toHaveProperty('modelTopology');
      expect(weightBytes.byteLength).toBeGreaterThan(2_000_000);
      const features = truncateAt(nsfw, 'flatten_1');
      expect(features.outputs[0]!.shape).toEqual([null, 1280]);
      expect(nsfw.outputs[0]!.shape).toEqual([null, 5]);
      const y = tf.tidy(() => (features.predict(tf.fill([1, 224, 224, 3], 0.5)) as tf.Tensor).dataSync());
      expect(y.every(Number.isFinite)).toBe(true);
    } finally {
      nsfw.dispose();
    }
  });
});
