import { existsSync, readdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureTfjsBackend } from '../../src/runtime/tfjs-backend.js';
import { GraftError } from '../../src/core/errors.js';
import { convertModel } from '../../src/convert/convert-model.js';
import { loadArchitecture } from '../../src/convert/load-architecture.js';
import { isKerasWeightsOnly, keras3LayerKeys, loadKerasH5, loadKerasWeightsOnly } from '../../src/readers/keras-h5/index.js';
import { loadLayersModelFromDir, loadNsfwjsMobileNetV2 } from '../../src/readers/tfjs-layers.js';
import { loadImageBatch, sharedDir, tempDir } from '../support.js';

const tmBase = join(sharedDir, 'models/tm-mobilenetv2-035/base');
const mnist2 = join(sharedDir, 'models/keras-h5-sequential-cnn/mnist_cnn_keras2.2.4-tf.h5');
const hasTm = existsSync(join(tmBase, 'model.json'));
const hasMnist = existsSync(mnist2);
if (!hasTm || !hasMnist) console.warn(`skipping weights-only .h5 tests on real models: ${sharedDir} lacks tm-mobilenetv2-035 or keras-h5-sequential-cnn (set GRAFT_SHARED_DIR)`);

beforeAll(async () => {
  await ensureTfjsBackend();
});

type H5Group = import('h5wasm').Group;

async function h5(): Promise<typeof import('h5wasm/node')> {
  const module = await import('h5wasm/node');
  await module.ready;
  return module;
}

/** Fixed-length byte strings, as h5py writes numpy `|S` arrays (Keras 2's layer_names / weight_names). */
function fixedStrings(group: H5Group, name: string, values: readonly string[]): void {
  if (values.length === 0) {
    // Keras writes an empty list as a zero-length float64 array.
    group.create_attribute(name, new Float64Array(0), [0], '<d');
    return;
  }
  group.create_attribute(name, [...values], [values.length], `S${Math.max(...values.map((v) => Buffer.byteLength(v)))}`);
}

function dataset(parent: H5Group, path: string, variable: tf.LayerVariable): void {
  const parts = path.split('/');
  let group = parent;
  for (const part of parts.slice(0, -1)) group = (group.get(part) as H5Group | null) ?? group.create_group(part);
  group.create_dataset({ name: parts[parts.length - 1]!, data: variable.read().dataSync() as Float32Array, shape: [...variable.shape] as number[], dtype: '<f' });
}

/**
 * What Keras 2's `model.save_weights('w.h5')` writes: root attributes layer_names, backend, keras_version; one
 * group per layer with a weight_names attribute; each weight at `<layer>/<weight name>` (names like
 * `conv2d/kernel:0`, so the dataset sits in a sub-group; a nested model's inner names have no model prefix).
 */
async function writeKeras2Weights(path: string, model: tf.LayersModel): Promise<void> {
  const { File } = await h5();
  const file = new File(path, 'w');
  try {
    fixedStrings(file, 'layer_names', model.layers.map((l) => l.name));
    file.create_attribute('backend', 'tensorflow');
    file.create_attribute('keras_version', '2.4.0');
    for (const layer of model.layers) {
      const group = file.create_group(layer.name);
      const names = layer.weights.map((v) => `${v.originalName}:0`);
      fixedStrings(group, 'weight_names', names);
      layer.weights.forEach((v, i) => dataset(group, names[i]!, v));
    }
  } finally {
    file.close();
  }
}

/**
 * What Keras 3's `model.save_weights('w.weights.h5')` writes (keras/src/saving/saving_lib.py): the model's own
 * `vars`, then each entry of `model.layers` at `layers/<snake_case class>[_n]` (counted per class; Keras 3 does not
 * use layer names there) with its variables at `vars/0..`, a nested model at `layers/functional/layers/...`.
 */
async function writeKeras3Weights(path: string, model: tf.LayersModel): Promise<void> {
  const { File } = await h5();
  const file = new File(path, 'w');
  const write = (parent: H5Group, layer: tf.layers.Layer, key: string): void => {
    const group = parent.create_group(key);
    const vars = group.create_group('vars');
    if (layer instanceof tf.LayersModel) {
      const inner = group.create_group('layers');
      keras3LayerKeys(layer.layers).forEach((k, i) => write(inner, layer.layers[i]!, k));
      return;
    }
    layer.weights.forEach((v, i) => dataset(vars, String(i), v));
  };
  try {
    file.create_group('vars');
    const layers = file.create_group('layers');
    keras3LayerKeys(model.layers).forEach((k, i) => write(layers, model.layers[i]!, k));
  } finally {
    file.close();
  }
}

/** A deep copy of `model`'s Keras topology JSON. */
function topologyOf(model: tf.LayersModel): unknown {
  return JSON.parse(JSON.stringify(model.toJSON(null, false)));
}

/** A fresh copy of `model`'s architecture (same layer names), with newly initialised weights. */
async function freshArchitecture(model: tf.LayersModel): Promise<tf.LayersModel> {
  return tf.models.modelFromJSON({ modelTopology: topologyOf(model) as tf.io.ModelJSON['modelTopology'] } as tf.io.ModelJSON as {});
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

function predict(model: tf.LayersModel, x: tf.Tensor): Float32Array {
  return tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync().slice() as Float32Array);
}

async function failure(promise: Promise<unknown>): Promise<GraftError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GraftError);
  return error as GraftError;
}

describe('keras3LayerKeys', () => {
  it("addresses layers as Keras 3 does: snake_case class names counted per class, 'functional' for a nested model", () => {
    const input = tf.input({ shape: [8, 8, 3] });
    const inner = tf.model({ inputs: input, outputs: tf.layers.conv2d({ filters: 2, kernelSize: 1 }).apply(input) as tf.SymbolicTensor });
    const layers = [
      tf.layers.conv2d({ filters: 2, kernelSize: 1 }),
      tf.layers.batchNormalization(),
      tf.layers.depthwiseConv2d({ kernelSize: 3 }),
      tf.layers.reLU(),
      tf.layers.conv2d({ filters: 2, kernelSize: 1 }),
      tf.layers.globalAveragePooling2d({}),
      inner,
      tf.layers.dense({ units: 2 }),
      tf.layers.dense({ units: 2 }),
      tf.layers.dense({ units: 2 }),
    ];
    expect(keras3LayerKeys(layers)).toEqual([
      'conv2d',
      'batch_normalization',
      'depthwise_conv2d',
      're_lu',
      'conv2d_1',
      'global_average_pooling2d',
      'functional',
      'dense',
      'dense_1',
      'dense_2',
    ]);
    expect(keras3LayerKeys(inner.layers)).toEqual(['input_layer', 'conv2d']);
    inner.dispose();
  });
});

describe.skipIf(!hasMnist)('loadKerasWeightsOnly: Keras 2 save_weights layout (MNIST CNN)', () => {
  it('loads into a freshly built architecture by name, and into one with other layer names by order, exactly', async () => {
    const dir = await tempDir('graft-h5w-');
    const { model } = await loadKerasH5(mnist2);
    const weights = join(dir, 'mnist.weights-only.h5');
    await writeKeras2Weights(weights, model);
    const x = tf.randomUniform([3, 28, 28, 1], 0, 1, 'float32', 4);
    try {
      expect(await isKerasWeightsOnly(weights)).toBe(true);
      expect(await isKerasWeightsOnly(mnist2)).toBe(false);
      const expected = predict(model, x);
      const fresh = await freshArchitecture(model);
      expect(maxAbsDiff(predict(fresh, x), expected)).toBeGreaterThan(0);
      const result = await loadKerasWeightsOnly(weights, fresh);
      expect(result).toEqual({ layout: 'keras2', kerasVersion: '2.4.0', matchedBy: 'name', layers: 4, tensors: 8 });
      expect(maxAbsDiff(predict(fresh, x), expected)).toBe(0);
      fresh.dispose();

      // Rebuilt in code: tfjs names the layers conv2d_Conv2D1, ...: matched by order, as Keras's load_weights does.
      const rebuilt = tf.sequential({
        layers: [
          tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, activation: 'relu' }),
          tf.layers.maxPooling2d({ poolSize: 2 }),
          tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu' }),
          tf.layers.maxPooling2d({ poolSize: 2 }),
          tf.layers.flatten(),
          tf.layers.dense({ units: 128, activation: 'relu' }),
          tf.layers.dense({ units: 10, activation: 'softmax' }),
        ],
      });
      expect((await loadKerasWeightsOnly(weights, rebuilt)).matchedBy).toBe('order');
      expect(maxAbsDiff(predict(rebuilt, x), expected)).toBe(0);
      rebuilt.dispose();

      // The model_weights group of a full Keras 2 model file is the same layout.
      const again = await freshArchitecture(model);
      expect((await loadKerasWeightsOnly(mnist2, again)).tensors).toBe(8);
      expect(maxAbsDiff(predict(again, x), expected)).toBe(0);
      again.dispose();
    } finally {
      x.dispose();
      model.dispose();
    }
  });

  it('a wrong architecture fails naming the layer and both shapes, or the missing layer; nothing is assigned', async () => {
    const dir = await tempDir('graft-h5w-');
    const { model } = await loadKerasH5(mnist2);
    const weights = join(dir, 'mnist.h5');
    await writeKeras2Weights(weights, model);
    const config = topologyOf(model) as { config: { layers: { class_name: string; config: Record<string, unknown> }[] } };
    model.dispose();
    const wider = config.config.layers.find((l) => l.config['name'] === 'dense')!;
    wider.config['units'] = 64;
    const wrong = await tf.models.modelFromJSON({ modelTopology: config } as unknown as tf.io.ModelJSON as {});
    const before = wrong.weights.map((v) => v.read().dataSync().slice());
    const shapeError = await failure(loadKerasWeightsOnly(weights, wrong));
    expect(shapeError.code).toBe('INVALID_CONFIG');
    expect(shapeError.message).toMatch(/layer "dense" \(Dense\) weight "kernel": the architecture expects shape \[1600, 64\], the file has \[1600, 128\]/);
    wrong.weights.forEach((v, i) => expect(maxAbsDiff(v.read().dataSync(), before[i]!)).toBe(0));
    wrong.dispose();
    if (hasTm) {
      const tm = await loadLayersModelFromDir(tmBase);
      const missing = await failure(loadKerasWeightsOnly(weights, tm));
      expect(missing.message).toMatch(/has no weights for layer "model1" \(Model, 260 weights\)\. Layers in the file: conv2d, conv2d_1, dense, dense_1/);
      expect(missing.hint).toMatch(/--architecture/);
      tm.dispose();
    }
  });

  it('refuses a truncated weights file and a file that is not Keras weights', async () => {
    const dir = await tempDir('graft-h5w-');
    const { model } = await loadKerasH5(mnist2);
    const weights = join(dir, 'w.h5');
    await writeKeras2Weights(weights, model);
    const bytes = await readFile(weights);
    await writeFile(join(dir, 'cut.h5'), bytes.subarray(0, bytes.length >> 1));
    expect((await failure(loadKerasWeightsOnly(join(dir, 'cut.h5'), model))).message).toMatch(/truncated/);
    const { File } = await h5();
    const other = new File(join(dir, 'other.h5'), 'w');
    other.create_attribute('note', 'not keras');
    other.close();
    expect((await failure(loadKerasWeightsOnly(join(dir, 'other.h5'), model))).message).toMatch(/not Keras weights/);
    model.dispose();
  });
});

describe.skipIf(!hasTm)('weights-only .h5 of the Teachable Machine MobileNetV2 0.35 (a nested model)', () => {
  it('Keras 2 and Keras 3 layouts load into the model.json architecture exactly; graft convert --architecture checks and writes ONNX and TF.js', async () => {
    const dir = await tempDir('graft-h5w-');
    const original = await loadLayersModelFromDir(tmBase);
    const keras2 = join(dir, 'tm-weights.h5');
    const keras3 = join(dir, 'tm.weights.h5');
    await writeKeras2Weights(keras2, original);
    await writeKeras3Weights(keras3, original);
    const x = tf.tensor4d(await loadImageBatch('-1..1', { count: 4 }), [4, 224, 224, 3]);
    try {
      const expected = predict(original, x);
      for (const [file, layout] of [
        [keras2, 'keras2'],
        [keras3, 'keras3'],
      ] as const) {
        const architecture = await loadArchitecture(join(tmBase, 'model.json'));
        try {
          const result = await loadKerasWeightsOnly(file, architecture);
          expect(result.layout).toBe(layout);
          expect(result.matchedBy).toBe(layout === 'keras2' ? 'name' : 'class');
          expect(result.tensors).toBe(original.weights.length);
          const diff = maxAbsDiff(predict(architecture, x), expected);
          console.log(`TM base weights-only (${layout}): ${result.tensors} tensors, predictions vs original max abs diff ${diff}`);
          expect(diff).toBe(0);
        } finally {
          architecture.dispose();
        }
      }

      let started = performance.now();
      const onnx = await convertModel(keras2, { to: 'onnx', out: join(dir, 'tm.onnx'), architecture: join(tmBase, 'model.json') });
      const onnxSeconds = (performance.now() - started) / 1000;
      expect(onnx.read.format).toBe('keras-h5');
      expect(onnx.check.maxAbsDiff).toBeLessThanOrEqual(1e-4);
      expect(onnx.notes?.join('\n')).toMatch(/weights-only \.h5 \(Keras 2 layer_names layout, \d+ tensors/);
      started = performance.now();
      const tfjs = await convertModel(keras3, { to: 'tfjs', out: join(dir, 'tm-tfjs'), architecture: tmBase });
      const tfjsSeconds = (performance.now() - started) / 1000;
      expect(tfjs.check.maxAbsDiff).toBe(0);
      const written = await loadLayersModelFromDir(join(dir, 'tm-tfjs'));
      expect(maxAbsDiff(predict(written, x), expected)).toBe(0);
      written.dispose();
      console.log(`graft convert weights-only .h5 --architecture: -> ONNX ${onnxSeconds.toFixed(2)} s (max abs diff ${onnx.check.maxAbsDiff.toExponential(2)}), -> TF.js ${tfjsSeconds.toFixed(2)} s`);
    } finally {
      x.dispose();
      original.dispose();
    }
  }, 120_000);

  it('without --architecture, a weights-only file is refused with a hint to pass one; nothing is written', async () => {
    const dir = await tempDir('graft-h5w-');
    const original = await loadLayersModelFromDir(tmBase);
    const weights = join(dir, 'w.h5');
    await writeKeras2Weights(weights, original);
    original.dispose();
    const error = await failure(convertModel(weights, { to: 'onnx', out: join(dir, 'w.onnx') }));
    expect(error.message).toMatch(/holds only weights/);
    expect(error.hint).toMatch(/--architecture/);
    const wrongKind = await failure(convertModel(join(tmBase, 'model.json'), { to: 'onnx', out: join(dir, 'x.onnx'), architecture: tmBase }));
    expect(wrongKind.message).toMatch(/--architecture applies to a weights-only Keras \.h5/);
    expect(readdirSync(dir)).toEqual(['w.h5']);
  });
});

describe('weights-only .h5 with a catalogue architecture (nsfwjs_mobilenet_v2, bundled)', () => {
  it('converts to TF.js with --architecture <catalogue name> and reproduces the bundled model exactly', async () => {
    const dir = await tempDir('graft-h5w-');
    const { model } = await loadNsfwjsMobileNetV2();
    const weights = join(dir, 'nsfw.weights.h5');
    await writeKeras2Weights(weights, model);
    const x = tf.randomUniform([2, 224, 224, 3], 0, 1, 'float32', 8);
    try {
      const expected = predict(model, x);
      const report = await convertModel(weights, { to: 'tfjs', out: join(dir, 'nsfw-tfjs'), architecture: 'nsfwjs_mobilenet_v2', offline: true, cacheDir: join(dir, 'cache') });
      expect(report.check.maxAbsDiff).toBe(0);
      const written = await loadLayersModelFromDir(join(dir, 'nsfw-tfjs'));
      expect(maxAbsDiff(predict(written, x), expected)).toBe(0);
      written.dispose();
      const notLayers = await failure(convertModel(weights, { to: 'onnx', out: join(dir, 'n.onnx'), architecture: 'mobilenet_v2' }));
      expect(notLayers.message).toMatch(/mobilenet_v2 is a onnx model, not a TF\.js layers model/);
    } finally {
      x.dispose();
      model.dispose();
    }
  }, 120_000);
});
