import { cp, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertModel } from '../../src/convert/convert-model.js';
import { exportTeachableMachine, TEACHABLE_MACHINE_METADATA_FILE, type TeachableMachineExport } from '../../src/model/export-teachable-machine.js';
import { exportTfjs } from '../../src/model/export-tfjs.js';
import { GraftModel } from '../../src/model/graft-model.js';
import { readModelDir } from '../../src/model/manifest.js';
import { unwrapMirrorTta } from '../../src/onnx/mirror-tta.js';
import { decodeOnnxModel, encodeOnnxModel, makeNode } from '../../src/onnx/onnx-model.js';
import { train } from '../../src/recipes/train.js';
import { disposeLayersModel } from '../../src/readers/dispose-layers-model.js';
import { loadLayersModelFromDir } from '../../src/readers/tfjs-layers.js';
import { ensureTfjsBackend } from '../../src/runtime/tfjs-backend.js';
import { GraftError } from '../../src/core/errors.js';
import { copySubset, hasShared, hymenoptera, int8Model, repoRoot, skipReason, tempDir } from '../support.js';
import { chromiumSkipReason, hasChromium, launchChromium, removeTinyModel, serveStatic, trainTinyModel } from './web-support.js';

// The int8 MobileNetV2 with Graft's defaults is the path with every adapter layer: its model takes 256 x 256 squares
// (two scales inside), scaled with ImageNet's statistics, and mirror test-time augmentation is forced on.
describe.skipIf(!hasShared)('graft export --to teachable-machine', () => {
  let root: string;
  let modelDir: string;
  let exported: TeachableMachineExport;
  /** 224 x 224 PNGs of real photos: what Teachable Machine's library draws them to, pixel for pixel. */
  let squares: string[];

  beforeAll(async () => {
    root = await tempDir('graft-tm-');
    const data = await copySubset(join(hymenoptera, 'train'), join(root, 'train'), 4);
    modelDir = join(root, 'model');
    await train({ train: data, backbone: int8Model, out: modelDir, cacheDir: join(root, 'cache'), offline: true, config: { tta: 'on' } });
    exported = await exportTeachableMachine(modelDir);
    squares = [];
    await mkdir(join(root, 'squares'));
    for (const label of ['ants', 'bees']) {
      const dir = join(hymenoptera, 'val', label);
      for (const file of (await readdir(dir)).sort().slice(0, 3)) {
        const out = join(root, 'squares', `${label}-${basename(file, '.jpg')}.png`);
        await sharp(join(dir, file)).resize(224, 224, { fit: 'cover' }).removeAlpha().png().toFile(out);
        squares.push(out);
      }
    }
  }, 300_000);
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("writes Teachable Machine's three files, the labels in metadata.json and no path of this machine", async () => {
    expect(exported.out).toBe(`${modelDir}-tm`);
    expect((await readdir(exported.out)).sort()).toEqual(['metadata.json', 'model.json', 'weights.bin']);
    const text = await readFile(join(exported.out, TEACHABLE_MACHINE_METADATA_FILE), 'utf8');
    const metadata = JSON.parse(text) as Record<string, unknown>;
    const { manifest } = await readModelDir(modelDir);
    expect(metadata).toMatchObject({ labels: manifest.labels, packageName: '@teachablemachine/image', imageSize: 224, modelName: 'model' });
    expect(text).not.toContain(root);
    expect(exported.testTimeAugmentation).toBe(true);
    expect(exported.check.maxAbsDiff).toBeLessThanOrEqual(exported.check.tolerance);
    // The features of both views are checked too (the image's and its mirror image's 2 x 1280, two scales).
    expect(exported.check.features!.maxAbsDiff).toBeLessThanOrEqual(exported.check.features!.tolerance);
  });

  it("gives Graft's own answers on real photos fed as those libraries feed them (224 squares, v / 127 - 1)", async () => {
    await ensureTfjsBackend();
    const tm = await loadLayersModelFromDir(exported.out);
    const graft = await GraftModel.load(modelDir);
    try {
      expect(tm.inputs[0]!.shape).toEqual([null, 224, 224, 3]);
      const ours = (await graft.probabilities(squares)).probabilities;
      const theirs = await predictSquares(tm, squares);
      // The export runs int8 MobileNetV2 in float (onnxruntime runs integer kernels) and upsamples each square to 256
      // with its own bilinear layers (Graft with sharp): near, not equal, most on near ties. A wrong scale, crop or
      // mirror moves answers by tenths and flips confident ones.
      const labels = graft.labels.length;
      for (let i = 0; i < squares.length; i++) {
        const row = (p: Float32Array) => Array.from(p.subarray(i * labels, (i + 1) * labels));
        if (Math.max(...row(ours)) > 0.75) expect(argmax(row(theirs))).toBe(argmax(row(ours)));
        for (let c = 0; c < labels; c++) expect(Math.abs(row(theirs)[c]! - row(ours)[c]!)).toBeLessThan(0.1);
      }
    } finally {
      disposeLayersModel(tm);
      await graft.dispose();
    }
  });

  it('the Teachable Machine and TF.js exports read back: graft convert --to onnx checks them, and they train as backbones', async () => {
    const started = performance.now();
    const tfjs = await exportTfjs(modelDir, { out: join(root, 'model-tfjs') });
    // Converted whole: the Teachable Machine model's mirror views and the TF.js model's two outputs.
    const tmOnnx = await convertModel(join(exported.out, 'model.json'), { to: 'onnx', out: join(root, 'tm.onnx') });
    const tfjsOnnx = await convertModel(join(tfjs.out, 'model.json'), { to: 'onnx', out: join(root, 'tfjs.onnx') });
    for (const report of [tmOnnx, tfjsOnnx]) expect(report.check.maxAbsDiff).toBeLessThanOrEqual(report.check.tolerance);
    expect(tfjsOnnx.notes).toContainEqual(expect.stringMatching(/^2 outputs, each flattened: \S+ \[2\], graft_scale_pairs \[2560\]$/));
    // Each of the classifier's layers is called on 2 scales x 2 views, its weights stored once (10.3 MB of weights.bin).
    expect(tmOnnx.wrote.bytes).toBeLessThan(1.2 * (await stat(join(exported.out, 'weights.bin'))).size);
    // As backbones, no flag needed: the features the classifier reads (the two scales' 2 x 1280), not its probabilities,
    // with the scale each folder declares (metadata.json's Teachable Machine input; graft-model.json's preprocessing).
    const data = join(root, 'train');
    for (const [name, backbone, scale] of [
      ['from-tm', join(exported.out, 'model.json'), '-1..1'],
      ['from-tfjs', join(tfjs.out, 'model.json'), 'imagenet'],
    ] as const) {
      const result = await train({ train: data, backbone, out: join(root, name), cacheDir: join(root, 'cache'), offline: true, config: { multiScale: false, mirror: 'off', tta: 'off' } });
      expect({ name, dim: result.backbone.featureDim, scale: result.backbone.preprocessing.scale }).toEqual({ name, dim: 2560, scale });
      expect(result.images.train).toBe(8);
    }
    console.log(`exports as backbones: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  });

  it("a float model gives Graft's own answers to 1e-4: the scale and the mirror image are exact", async () => {
    // The bundled nsfwjs backbone: float, 224 x 224 stretched, scaled v / 255, so no resize stands between the two.
    const tiny = await trainTinyModel(8, { tta: 'on' });
    try {
      const result = await exportTeachableMachine(tiny.dir);
      expect(result.testTimeAugmentation).toBe(true);
      expect(result.notes).toEqual([expect.stringContaining('stretch')]);
      // On the check's random inputs a float model's probabilities saturate, so that a wrong scale or a missing mirror
      // can move them by less than their tolerance; its features, checked too, cannot hide it.
      expect(result.check.features!.maxAbsDiff).toBeGreaterThan(0);
      expect(result.check.features!.maxAbsDiff).toBeLessThanOrEqual(result.check.features!.tolerance);
      const files: string[] = [];
      for (const file of tiny.data.files.slice(0, 4)) {
        const out = join(tiny.root, `${files.length}.png`);
        await sharp(file).resize(224, 224, { fit: 'fill' }).removeAlpha().png().toFile(out);
        files.push(out);
      }
      await ensureTfjsBackend();
      const tm = await loadLayersModelFromDir(result.out);
      const graft = await GraftModel.load(tiny.dir);
      try {
        const ours = (await graft.probabilities(files)).probabilities;
        const theirs = await predictSquares(tm, files);
        expect(theirs.length).toBe(ours.length);
        for (let i = 0; i < ours.length; i++) expect(Math.abs(theirs[i]! - ours[i]!)).toBeLessThan(1e-4);
      } finally {
        disposeLayersModel(tm);
        await graft.dispose();
      }
    } finally {
      await removeTinyModel(tiny);
    }
  });

  it('refuses a model directory edited out of step with its model.onnx, naming its files, and writes nothing', async () => {
    // Each a copy of the trained directory with one edit a user might make (or a copy cut short); all but the last are
    // found before the conversion, so they cost a read of model.onnx.
    const edited = join(root, 'edited');
    /** graft.json as a user edits it. */
    type Manifest = { labels: string[]; onnx: { input: string; probabilities: string; features: string; tta?: 'mirror' }; preprocessing: { layout: string }; files: { onnxSha256?: string } };
    const copy = async (name: string, edit: (dir: string, manifest: Manifest) => Promise<void> | void): Promise<string> => {
      const dir = join(edited, name);
      await cp(modelDir, dir, { recursive: true });
      const manifest = JSON.parse(await readFile(join(dir, 'graft.json'), 'utf8')) as Manifest;
      // Without model.onnx's hash (an earlier Graft's directory), so each edit meets the check behind it.
      delete manifest.files.onnxSha256;
      await edit(dir, manifest);
      await writeFile(join(dir, 'graft.json'), JSON.stringify(manifest));
      return dir;
    };
    const cases: { dir: string; says: RegExp; code?: string }[] = [
      // A model without the mirror, cut short: its first conversion step read a working copy and named that.
      {
        dir: await copy('truncated', async (dir, manifest) => {
          const plain = encodeOnnxModel(unwrapMirrorTta(decodeOnnxModel(await readFile(join(dir, 'model.onnx')), 'model.onnx'), manifest.onnx));
          await writeFile(join(dir, 'model.onnx'), plain.subarray(0, plain.length >> 1));
          delete manifest.onnx.tta;
        }),
        says: /model\.onnx" is not a readable ONNX model/,
      },
      // A label added: the export wrote metadata.json with three labels for two probabilities.
      { dir: await copy('label-added', (_, manifest) => void manifest.labels.push('wasps')), says: /outputs 2 probabilities but graft\.json lists 3 labels/ },
      // The mirror left out of graft.json: the conversion failed on the mirror's Slice, naming the working copy.
      { dir: await copy('tta-removed', (_, manifest) => void delete manifest.onnx.tta), says: /averages each image with its mirror image, which graft\.json does not record/ },
      // The layout changed: onnxruntime's own "invalid dimensions", an internal error.
      { dir: await copy('layout', (_, manifest) => void (manifest.preprocessing.layout = 'nhwc')), says: /input is \[\?, 3, 256, 256\], which is not NHWC RGB/ },
      // The output renamed: onnxruntime's "invalid output name", an internal error, after the whole conversion.
      { dir: await copy('output-renamed', (_, manifest) => void (manifest.onnx.probabilities = 'probs')), says: /graft\.json names the output "probs"/ },
    ];
    const unmirrored = await copy('tta-added', async (dir, manifest) => {
      const plain = encodeOnnxModel(unwrapMirrorTta(decodeOnnxModel(await readFile(join(dir, 'model.onnx')), 'model.onnx'), manifest.onnx));
      await writeFile(join(dir, 'model.onnx'), plain);
    });
    // model.onnx without its mirror, graft.json still saying mirror: the export added a mirror Graft's model does not run.
    cases.push({ dir: unmirrored, says: /graft\.json records a mirror test-time augmentation \(onnx\.tta\) that model\.onnx does not have/ });
    // An operator the layers converter lacks (after the probabilities): a conversion error, naming model.onnx, not the working copy.
    const unsupported = await copy('unsupported-op', async (dir, manifest) => {
      const model = unwrapMirrorTta(decodeOnnxModel(await readFile(join(dir, 'model.onnx')), 'model.onnx'), manifest.onnx);
      const nodes = model.graph!.node!;
      nodes.find((n) => n.output?.includes(manifest.onnx.probabilities))!.output = ['before_sin'];
      nodes.push(makeNode('Sin', ['before_sin'], [manifest.onnx.probabilities], { name: 'a_sin' }));
      await writeFile(join(dir, 'model.onnx'), encodeOnnxModel(model));
      delete manifest.onnx.tta;
    });
    cases.push({ dir: unsupported, code: 'UNSUPPORTED_MODEL', says: /Cannot convert Sin node "a_sin" of "[^"]*unsupported-op\/model\.onnx"/ });
    for (const { dir, says, code = 'INVALID_MODEL_DIR' } of cases) {
      // Soft: each edit's own answer is reported, not only the first one that differs.
      const error = (await exportTeachableMachine(dir).catch((e: unknown) => e)) as Partial<GraftError>;
      expect.soft(error, basename(dir)).toBeInstanceOf(GraftError);
      expect.soft({ code: error.code, message: error.message }, basename(dir)).toMatchObject({ code, message: expect.stringMatching(says) });
      expect.soft(error.message, basename(dir)).toContain(join(dir, 'model.onnx'));
      expect.soft(error.hint, basename(dir)).toBeTruthy();
    }
    // Nothing written, no working folder left beside the copies.
    expect((await readdir(edited)).sort()).toEqual(cases.map((c) => basename(c.dir)).sort());
  });

  it.skipIf(!hasChromium)("loads in Chromium with Teachable Machine's own library (tmImage.load, predict), on TensorFlow.js 4 and on the 1.3.1 its snippet pins, and answers as in Node", async () => {
    // The page of Teachable Machine's export snippet: TensorFlow.js, then its library, as script tags. Today's tfjs runs
    // its wasm backend (headless Chromium's WebGL is a software renderer, ~30 s for these photos); 1.3.1, which has no
    // Rescaling layer (the reason the export has none), its cpu backend, on one photo.
    const pages = await tempDir('graft-tm-page-');
    const tag = (src: string): string => `<script src="${src}"></script>`;
    await writeFile(join(pages, 'index.html'), `<!doctype html>${['/tfjs/tf.min.js', '/wasm/tf-backend-wasm.min.js', '/tm/teachablemachine-image.min.js'].map(tag).join('')}`);
    await writeFile(join(pages, 'legacy.html'), `<!doctype html>${['/tfjs1/tf.min.js', '/tm/teachablemachine-image.min.js'].map(tag).join('')}`);
    const server = await serveStatic({
      '/model/': exported.out,
      '/images/': join(root, 'squares'),
      '/tfjs/': join(repoRoot, 'node_modules/@tensorflow/tfjs/dist'),
      '/tfjs1/': join(repoRoot, 'node_modules/tfjs-1.3.1/dist'),
      '/tm/': join(repoRoot, 'node_modules/@teachablemachine/image/dist'),
      '/wasm/': join(repoRoot, 'node_modules/@tensorflow/tfjs-backend-wasm/dist'),
      '/': pages,
    });
    const chromium = await launchChromium();
    try {
      const { manifest } = await readModelDir(modelDir);
      await ensureTfjsBackend();
      const tm = await loadLayersModelFromDir(exported.out);
      let node: Float32Array;
      try {
        node = await predictSquares(tm, squares);
      } finally {
        disposeLayersModel(tm);
      }
      for (const { page: path, backend, photos, version } of [
        { page: '/', backend: 'wasm', photos: squares.length, version: /^4\./ },
        { page: '/legacy.html', backend: 'cpu', photos: 1, version: /^1\.3\.1$/ },
      ]) {
        const page = await chromium.browser.newPage();
        const errors: string[] = [];
        page.on('pageerror', (error) => errors.push(error.message));
        await page.goto(`${server.url}${path}`);
        const names = squares.slice(0, photos).map((file) => basename(file));
        // As Teachable Machine's export snippet does: load by URL, predict on an image element.
        const answers = (await page.evaluate(`(async () => {
          if (${JSON.stringify(backend)} === 'wasm') tf.wasm.setWasmPaths('/wasm/');
          await tf.setBackend(${JSON.stringify(backend)});
          const model = await tmImage.load('/model/model.json', '/model/metadata.json');
          const out = [];
          for (const name of ${JSON.stringify(names)}) {
            const img = new Image();
            img.src = '/images/' + name;
            await img.decode();
            out.push(await model.predict(img));
          }
          return { version: tf.version.tfjs, classes: model.getTotalClasses(), labels: model.getClassLabels(), out };
        })()`)) as { version: string; classes: number; labels: string[]; out: { className: string; probability: number }[][] };
        await page.close();
        expect(errors, path).toEqual([]);
        expect(answers.version).toMatch(version);
        expect(answers.labels).toEqual(manifest.labels);
        expect(answers.classes).toBe(manifest.labels.length);
        expect(answers.out.length).toBe(photos);
        answers.out.forEach((classes, i) => {
          expect(classes.map((c) => c.className)).toEqual(manifest.labels);
          classes.forEach((c, k) => expect(Math.abs(c.probability - node[i * manifest.labels.length + k]!), `${path} photo ${i}`).toBeLessThan(1e-3));
        });
      }
    } finally {
      await chromium.close();
      await server.close();
      await rm(pages, { recursive: true, force: true });
    }
  });
});
if (!hasChromium) chromiumSkipReason('the Teachable Machine library test');
skipReason('graft export --to teachable-machine');

/** The model's probabilities on 224 x 224 PNGs, each byte v as v / 127 - 1: Teachable Machine's `capture`. */
async function predictSquares(model: tf.LayersModel, files: readonly string[]): Promise<Float32Array> {
  const pixels: number[] = [];
  for (const file of files) {
    const { data } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    for (const v of data) pixels.push(v / 127 - 1);
  }
  return tf.tidy(() => (model.predict(tf.tensor4d(pixels, [files.length, 224, 224, 3])) as tf.Tensor).dataSync().slice() as Float32Array);
}

function argmax(values: readonly number[]): number {
  return values.indexOf(Math.max(...values));
}

