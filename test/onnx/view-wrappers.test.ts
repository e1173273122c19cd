import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readdirSync } from 'node:fs';
import { decodeImage } from '../../src/data/decode-image.js';
import { mirrorTensor } from '../../src/data/mirror-tensor.js';
import { makePreprocessing } from '../../src/core/preprocessing.js';
import { appendDenseHead } from '../../src/onnx/append-head.js';
import { exposeFeatures } from '../../src/onnx/feature-output.js';
import { wrapMirrorTta, unwrapMirrorTta, hasMirrorTta } from '../../src/onnx/mirror-tta.js';
import { multiScaleInputSize, wrapMultiScale } from '../../src/onnx/multi-scale.js';
import { CORNER_CROPS, cornerCropsModel } from '../../src/onnx/corner-crops.js';
import { decodeOnnxModel, encodeOnnxModel, readOnnxModel } from '../../src/onnx/onnx-model.js';
import { hasShared, hymenoptera, int8Model, skipReason } from '../support.js';

const S = 224;
const pixels = 3 * S * S;

async function run(bytes: Uint8Array, input: Float32Array, dims: number[]): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', input, dims) });
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await session.release();
  }
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function realImages(count: number): string[] {
  const dir = join(hymenoptera, 'val', 'bees');
  return readdirSync(dir).sort().slice(0, count).map((f) => join(dir, f));
}

skipReason('view wrappers');
describe.skipIf(!hasShared)('test-time augmentation and multi-scale graphs on the int8 MobileNetV2', () => {
  it('mirror TTA inside the model equals averaging the model on the images and on their mirrors', async () => {
    const exposed = await exposeFeatures(await readOnnxModel(int8Model));
    const k = 3;
    const head = [{ inputDim: exposed.featureDim, outputDim: k, weight: Float32Array.from({ length: exposed.featureDim * k }, (_, i) => Math.sin(i) * 0.05), bias: new Float32Array(k), activation: 'softmax' as const }];
    const plain = appendDenseHead(exposed.model, exposed.featureOutput, head);
    const names = { input: exposed.inputName, probabilities: 'probabilities', features: exposed.featureOutput };
    const tta = wrapMirrorTta(decodeOnnxModel(plain, 'plain'), { ...names, classes: k, featureDim: exposed.featureDim }, 'nchw');
    const pre = makePreprocessing({ inputSize: S, scale: 'imagenet', layout: 'nchw' });
    const files = realImages(3);
    const batch = new Float32Array(files.length * pixels);
    const mirrored = new Float32Array(files.length * pixels);
    for (const [i, file] of files.entries()) {
      const x = await decodeImage(file, pre);
      batch.set(x, i * pixels);
      mirrored.set(mirrorTensor(x, pre), i * pixels);
    }
    const dims = [files.length, 3, S, S];
    const [a, b, both] = [await run(plain, batch, dims), await run(plain, mirrored, dims), await run(tta, batch, dims)];
    const averaged = a.probabilities!.map((v, i) => (v + b.probabilities![i]!) / 2);
    expect(maxDiff(both.probabilities!, averaged)).toBeLessThan(1e-6);
    // The feature output stays the plain images' features.
    expect(maxDiff(both[exposed.featureOutput]!, a[exposed.featureOutput]!)).toBe(0);
    // And the wrapper comes off again (for converters that cannot express the mirror).
    const unwrapped = unwrapMirrorTta(decodeOnnxModel(tta, 'tta'), names);
    expect(hasMirrorTta(unwrapped)).toBe(false);
    expect(maxDiff((await run(encodeOnnxModel(unwrapped), batch, dims)).probabilities!, a.probabilities!)).toBe(0);
  });

  it('multi-scale features are [centre crop | whole square resized], each what the backbone gives on that view', async () => {
    const exposed = await exposeFeatures(await readOnnxModel(int8Model));
    const outer = multiScaleInputSize(S, 0.875);
    expect(outer).toBe(256);
    const wrapped = wrapMultiScale(exposed.model, {
      input: exposed.inputName,
      features: exposed.featureOutput,
      featureDim: exposed.featureDim,
      inputSize: S,
      cropFraction: 0.875,
      layout: 'nchw',
      output: 'graft_features',
    });
    const big = makePreprocessing({ inputSize: outer, scale: 'imagenet', layout: 'nchw' });
    const cropped = makePreprocessing({ inputSize: S, scale: 'imagenet', layout: 'nchw', cropFraction: 0.875 });
    const files = realImages(2);
    const input = new Float32Array(files.length * 3 * outer * outer);
    const crops = new Float32Array(files.length * pixels);
    for (const [i, file] of files.entries()) {
      input.set(await decodeImage(file, big), i * 3 * outer * outer);
      crops.set(await decodeImage(file, cropped), i * pixels);
    }
    const features = (await run(wrapped, input, [files.length, 3, outer, outer])).graft_features!;
    const d = exposed.featureDim;
    expect(features.length).toBe(files.length * 2 * d);
    // The crop view: exactly the backbone on the 0.875 centre crop that the decoder makes.
    const single = (await run(encodeOnnxModel(exposed.model), crops, [files.length, 3, S, S]))[exposed.featureOutput]!;
    for (let i = 0; i < files.length; i++) {
      expect(maxDiff(features.subarray(i * 2 * d, i * 2 * d + d), single.subarray(i * d, (i + 1) * d))).toBeLessThan(1e-4);
    }
    // The whole view differs from the crop view (it sees the border) but is close to the backbone on a plain resize.
    const whole = makePreprocessing({ inputSize: S, scale: 'imagenet', layout: 'nchw' });
    const plainInput = new Float32Array(files.length * pixels);
    for (const [i, file] of files.entries()) plainInput.set(await decodeImage(file, whole), i * pixels);
    const plainFeatures = (await run(encodeOnnxModel(exposed.model), plainInput, [files.length, 3, S, S]))[exposed.featureOutput]!;
    const cosine = (a: Float32Array, b: Float32Array): number => {
      let ab = 0;
      let aa = 0;
      let bb = 0;
      for (let j = 0; j < a.length; j++) {
        ab += a[j]! * b[j]!;
        aa += a[j]! ** 2;
        bb += b[j]! ** 2;
      }
      return ab / Math.sqrt(aa * bb);
    };
    expect(cosine(features.subarray(d, 2 * d), plainFeatures.subarray(0, d))).toBeGreaterThan(0.95);
    expect(maxDiff(features.subarray(d, 2 * d), features.subarray(0, d))).toBeGreaterThan(0.01);
  });

  it('corner crops are the backbone on each corner of the 256 square, in the order top-left, top-right, bottom-left, bottom-right', async () => {
    const exposed = await exposeFeatures(await readOnnxModel(int8Model));
    const outer = multiScaleInputSize(S, 0.875);
    const corners = encodeOnnxModel(
      cornerCropsModel(exposed.model, { input: exposed.inputName, features: exposed.featureOutput, featureDim: exposed.featureDim, inputSize: S, outerSize: outer, layout: 'nchw', output: 'corners' }),
    );
    const big = makePreprocessing({ inputSize: outer, scale: 'imagenet', layout: 'nchw' });
    const files = realImages(2);
    const input = new Float32Array(files.length * 3 * outer * outer);
    for (const [i, file] of files.entries()) input.set(await decodeImage(file, big), i * 3 * outer * outer);
    const features = (await run(corners, input, [files.length, 3, outer, outer])).corners!;
    const d = exposed.featureDim;
    expect(features.length).toBe(files.length * CORNER_CROPS * d);
    // Each corner cut out here and run through the backbone alone.
    const shift = outer - S;
    const offsets = [[0, 0], [0, shift], [shift, 0], [shift, shift]] as const;
    const cut = new Float32Array(files.length * CORNER_CROPS * pixels);
    for (let i = 0; i < files.length; i++) {
      offsets.forEach(([top, left], j) => {
        for (let c = 0; c < 3; c++) {
          for (let y = 0; y < S; y++) {
            const from = ((i * 3 + c) * outer + top + y) * outer + left;
            cut.set(input.subarray(from, from + S), ((i * CORNER_CROPS + j) * 3 + c) * pixels / 3 + y * S);
          }
        }
      });
    }
    const single = (await run(encodeOnnxModel(exposed.model), cut, [files.length * CORNER_CROPS, 3, S, S]))[exposed.featureOutput]!;
    expect(maxDiff(features, single)).toBeLessThan(1e-4);
    // The four corners see different pixels.
    expect(maxDiff(features.subarray(0, d), features.subarray(3 * d, 4 * d))).toBeGreaterThan(0.01);
  });
});

describe('centre crop fraction in the decoder', () => {
  it('0.875 keeps the centre 7/8 of the short side: the same as decoding at S / 0.875 and cutting the centre', async () => {
    const image = await sharp({ create: { width: 300, height: 200, channels: 3, background: { r: 0, g: 0, b: 0 } } })
      .composite([{ input: Buffer.from(`<svg width="300" height="200"><rect x="100" y="50" width="100" height="100" fill="#f00"/><circle cx="40" cy="40" r="30" fill="#0f0"/></svg>`), top: 0, left: 0 }])
      .png()
      .toBuffer();
    const path = join(await (await import('../support.js')).tempDir(), 'shapes.png');
    await sharp(image).toFile(path);
    const size = 64;
    const cropped = await decodeImage(path, makePreprocessing({ inputSize: size, scale: '0..1', layout: 'nhwc', cropFraction: 0.875 }));
    const big = await decodeImage(path, makePreprocessing({ inputSize: Math.round(size / 0.875), scale: '0..1', layout: 'nhwc' }));
    const outer = Math.round(size / 0.875);
    const margin = Math.floor((outer - size) / 2);
    const expected = new Float32Array(size * size * 3);
    for (let y = 0; y < size; y++) expected.set(big.subarray(((y + margin) * outer + margin) * 3, ((y + margin) * outer + margin + size) * 3), y * size * 3);
    expect(maxDiff(cropped, expected)).toBe(0);
    expect(() => makePreprocessing({ inputSize: 224, scale: '0..1', layout: 'nhwc', cropFraction: 1.5 })).toThrow(/overrides.cropFraction \(--crop-fraction\) must be in \(0.25, 1\]. Received: 1.5/);
  });
});
