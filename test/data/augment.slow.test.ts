import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  augmentHash,
  checkAugmentConfig,
  decodeView,
  decodeViews,
  DEFAULT_AUGMENT,
  IDENTITY_VIEW,
  planCrop,
  viewParams,
  type AugmentConfig,
  type ViewParams,
} from '../../src/data/augment.js';
import { decodeImageBytes, UnreadableImageError } from '../../src/data/decode-image.js';
import { channelAffine, makePreprocessing, type Preprocessing } from '../../src/core/preprocessing.js';
import { GraftError } from '../../src/core/errors.js';
import { hymenoptera } from '../support.js';

const hasImages = existsSync(join(hymenoptera, 'train/ants'));
if (!hasImages) console.warn(`skipping real-image augmentation tests: ${hymenoptera} not found (set GRAFT_SHARED_DIR)`);

const pre = makePreprocessing({ inputSize: 224, scale: 'imagenet', layout: 'nchw' });
const preNhwc = makePreprocessing({ inputSize: 96, scale: '-1..1', layout: 'nhwc' });
const SHA = 'c'.repeat(64);

/** Back to bytes (0..255) in nhwc order, so views can be compared as images. */
function toBytes(data: Float32Array, p: Preprocessing): Uint8Array {
  const { mul, add } = channelAffine(p);
  const pixels = p.inputSize * p.inputSize;
  const out = new Uint8Array(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    for (let c = 0; c < 3; c++) {
      const v = p.layout === 'nchw' ? data[c * pixels + i]! : data[i * 3 + c]!;
      out[i * 3 + c] = Math.round((v - add[c]!) / mul[c]!);
    }
  }
  return out;
}

function mirror(rgb: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(rgb.length);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      for (let c = 0; c < 3; c++) out[(y * size + x) * 3 + c] = rgb[(y * size + (size - 1 - x)) * 3 + c]!;
    }
  }
  return out;
}

/** Bit-for-bit equality (vitest's toEqual walks a 600 KB array element by element, for seconds). */
function expectIdentical(actual: Float32Array | Uint8Array, expected: Float32Array | Uint8Array): void {
  const bytes = (a: Float32Array | Uint8Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  expect(actual.length).toBe(expected.length);
  expect(bytes(actual).equals(bytes(expected))).toBe(true);
}

function maxAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

function stats(rgb: Uint8Array): { mean: number; std: number; min: number } {
  let sum = 0;
  let sq = 0;
  let min = 255;
  for (const v of rgb) {
    sum += v;
    sq += v * v;
    min = Math.min(min, v);
  }
  const mean = sum / rgb.length;
  return { mean, std: Math.sqrt(sq / rgb.length - mean * mean), min };
}

describe('viewParams and augmentHash', () => {
  it('view 0 is the plain image; views are deterministic per (image, view, seed) and differ otherwise', () => {
    expect(viewParams(SHA, 0, 1)).toBeUndefined();
    const a = viewParams(SHA, 1, 1)!;
    expect(viewParams(SHA, 1, 1)).toEqual(a);
    expect(viewParams(SHA.toUpperCase(), 1, 1)).toEqual(a);
    const others = [viewParams(SHA, 2, 1), viewParams(SHA, 1, 2), viewParams('d'.repeat(64), 1, 1)];
    for (const other of others) expect(other).not.toEqual(a);
    expect(() => viewParams(SHA, -1, 1)).toThrow(RangeError);
    expect(() => viewParams(SHA, 1.5, 1)).toThrow(RangeError);
  });

  it('samples within the config ranges, with about half the views flipped', () => {
    const all = Array.from({ length: 400 }, (_, v) => viewParams(SHA, v + 1, 7)!);
    for (const p of all) {
      expect(p.cropScale).toBeGreaterThanOrEqual(0.35);
      expect(p.cropScale).toBeLessThanOrEqual(1);
      expect(p.cropRatio).toBeGreaterThanOrEqual(3 / 4 - 1e-12);
      expect(p.cropRatio).toBeLessThanOrEqual(4 / 3 + 1e-12);
      expect(Math.abs(p.rotateDegrees)).toBeLessThanOrEqual(10);
      for (const f of [p.brightness, p.contrast, p.saturation]) expect(Math.abs(f - 1)).toBeLessThanOrEqual(0.2);
    }
    const flipped = all.filter((p) => p.flip).length;
    expect(flipped).toBeGreaterThan(150);
    expect(flipped).toBeLessThan(250);
    const noFlip: AugmentConfig = { ...DEFAULT_AUGMENT, flip: false };
    expect(Array.from({ length: 50 }, (_, v) => viewParams(SHA, v + 1, 7, noFlip)!.flip)).not.toContain(true);
  });

  it('changing one setting changes only that property of each view', () => {
    const still: AugmentConfig = { ...DEFAULT_AUGMENT, brightness: 0, contrast: 0, saturation: 0 };
    for (let v = 1; v <= 20; v++) {
      const p = viewParams(SHA, v, 3)!;
      const q = viewParams(SHA, v, 3, still)!;
      expect(q).toEqual({ ...p, brightness: 1, contrast: 1, saturation: 1 });
    }
  });

  it('augmentHash is a short stable hex digest that changes with the config', () => {
    const h = augmentHash(DEFAULT_AUGMENT);
    expect(h).toMatch(/^[0-9a-f]{12}$/);
    expect(augmentHash({ ...DEFAULT_AUGMENT })).toBe(h);
    expect(augmentHash(JSON.parse(JSON.stringify(DEFAULT_AUGMENT)) as AugmentConfig)).toBe(h);
    expect(augmentHash({ ...DEFAULT_AUGMENT, rotateDegrees: 5 })).not.toBe(h);
    expect(augmentHash({ ...DEFAULT_AUGMENT, cropScale: [0.08, 1] })).not.toBe(h);
  });

  it('rejects unknown keys and bad ranges with INVALID_CONFIG echoing the value', () => {
    const bad = (config: unknown): GraftError => {
      try {
        checkAugmentConfig(config as AugmentConfig);
      } catch (error) {
        return error as GraftError;
      }
      throw new Error('accepted a bad config');
    };
    expect(bad({ ...DEFAULT_AUGMENT, rotate: 5 }).message).toMatch(/unknown key\(s\) rotate\. Known keys: cropScale/);
    expect(bad({ ...DEFAULT_AUGMENT, cropScale: [0.5, 0.2] }).message).toContain('Received: [0.5,0.2]');
    expect(bad({ ...DEFAULT_AUGMENT, cropScale: [0, 1] }).code).toBe('INVALID_CONFIG');
    expect(bad({ ...DEFAULT_AUGMENT, brightness: 1 }).message).toContain('brightness');
    expect(bad({ ...DEFAULT_AUGMENT, rotateDegrees: 90 }).message).toContain('Received: 90');
    expect(bad({ ...DEFAULT_AUGMENT, flip: 'yes' }).message).toContain('flip');
  });

  it('plans crops inside the image, and inside the rotated image when rotating', () => {
    for (let v = 1; v <= 300; v++) {
      const p = viewParams(SHA, v, 11, { ...DEFAULT_AUGMENT, rotateDegrees: 30 })!;
      for (const [w, h] of [
        [500, 375],
        [375, 500],
        [4000, 3000],
        [224, 224],
        [1000, 120],
      ] as const) {
        const plan = planCrop(w, h, 224, p);
        const rad = (p.rotateDegrees * Math.PI) / 180;
        const rw = plan.width * Math.abs(Math.cos(rad)) + plan.height * Math.abs(Math.sin(rad));
        const rh = plan.width * Math.abs(Math.sin(rad)) + plan.height * Math.abs(Math.cos(rad));
        expect(plan.left).toBeGreaterThanOrEqual(0);
        expect(plan.top).toBeGreaterThanOrEqual(0);
        expect(plan.left + 224).toBeLessThanOrEqual(Math.floor(rw));
        expect(plan.top + 224).toBeLessThanOrEqual(Math.floor(rh));
        // every corner of the crop, rotated back, lies inside the resized image
        const cx = rw / 2;
        const cy = rh / 2;
        for (const [x, y] of [
          [plan.left, plan.top],
          [plan.left + 224, plan.top],
          [plan.left, plan.top + 224],
          [plan.left + 224, plan.top + 224],
        ] as const) {
          const ux = Math.cos(rad) * (x - cx) + Math.sin(rad) * (y - cy) + plan.width / 2;
          const uy = -Math.sin(rad) * (x - cx) + Math.cos(rad) * (y - cy) + plan.height / 2;
          expect(ux).toBeGreaterThanOrEqual(0.5);
          expect(uy).toBeGreaterThanOrEqual(0.5);
          expect(ux).toBeLessThanOrEqual(plan.width - 0.5);
          expect(uy).toBeLessThanOrEqual(plan.height - 0.5);
        }
      }
    }
  });
});

describe('decodeView on synthetic images', () => {
  let white: Buffer;
  let whiteTall: Buffer;
  let transparent: Buffer;

  beforeAll(async () => {
    white = await sharp({ create: { width: 300, height: 200, channels: 3, background: { r: 255, g: 255, b: 255 } } }).png().toBuffer();
    whiteTall = await sharp({ create: { width: 150, height: 420, channels: 3, background: { r: 255, g: 255, b: 255 } } }).png().toBuffer();
    transparent = await sharp({ create: { width: 120, height: 90, channels: 4, background: { r: 200, g: 100, b: 50, alpha: 0 } } }).png().toBuffer();
  });

  it('never lets the rotation fill colour into a view, even at the extreme crops', async () => {
    for (const image of [white, whiteTall]) {
      for (const rotateDegrees of [-45, -10, 3, 10, 45]) {
        for (const [cropX, cropY] of [
          [0, 0],
          [1, 1],
          [0, 1],
          [1, 0],
          [0.5, 0.5],
        ] as const) {
          for (const [cropScale, cropRatio] of [
            [1, 3 / 4],
            [1, 4 / 3],
            [0.35, 1],
          ] as const) {
            const params: ViewParams = { ...IDENTITY_VIEW, rotateDegrees, cropX, cropY, cropScale, cropRatio };
            const rgb = toBytes(await decodeView(image, preNhwc, params), preNhwc);
            expect(stats(rgb).min, JSON.stringify(params)).toBeGreaterThanOrEqual(254);
          }
        }
      }
    }
  });

  it('drops alpha keeping the stored colour, like the plain decoder', async () => {
    const params: ViewParams = { ...IDENTITY_VIEW, cropScale: 0.5, rotateDegrees: 7, flip: true };
    const rgb = toBytes(await decodeView(transparent, preNhwc, params), preNhwc);
    const plain = toBytes(await decodeImageBytes(transparent, preNhwc), preNhwc);
    expect(plain.slice(0, 3)).toEqual(new Uint8Array([200, 100, 50]));
    expect(maxAbsDiff(rgb, plain)).toBeLessThanOrEqual(1);
  });

  it('clips contrast and brightness to the byte range instead of wrapping', async () => {
    const rgb = toBytes(await decodeView(white, preNhwc, { ...IDENTITY_VIEW, contrast: 1.5, brightness: 1.3 }), preNhwc);
    expect(stats(rgb).min).toBeGreaterThanOrEqual(254);
  });

  it('rejects unreadable bytes with UnreadableImageError and bad params with RangeError', async () => {
    const params = viewParams(SHA, 1, 1)!;
    const jpeg = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 1, g: 2, b: 3 } } }).jpeg().toBuffer();
    for (const bytes of [Buffer.alloc(0), Buffer.from('hello, not an image\n'), jpeg.subarray(0, jpeg.length / 2)]) {
      const error = await decodeView(bytes, preNhwc, params, { name: 'bad.jpg' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnreadableImageError);
      expect((error as UnreadableImageError).file).toBe('bad.jpg');
    }
    await expect(decodeView(white, preNhwc, { ...params, cropScale: 0 })).rejects.toThrow(RangeError);
    await expect(decodeView(white, preNhwc, { ...params, rotateDegrees: 60 })).rejects.toThrow(/rotateDegrees/);
  });
});

describe.skipIf(!hasImages)('decodeView on real photos', () => {
  let files: string[];
  let photo: Buffer;
  let photoSha: string;
  let orientedPng: Buffer;

  beforeAll(async () => {
    const dir = join(hymenoptera, 'train/bees');
    files = (await readdir(dir))
      .filter((f) => f.endsWith('.jpg'))
      .sort()
      .slice(0, 24)
      .map((f) => join(dir, f));
    photo = await readFile(files[0]!);
    photoSha = createHash('sha256').update(photo).digest('hex');
    orientedPng = await sharp(photo, { autoOrient: true }).png().toBuffer();
  });

  it('view 0 equals decodeImageBytes exactly', async () => {
    for (const p of [pre, preNhwc]) {
      const plain = await decodeImageBytes(photo, p);
      const view0 = await decodeView(photo, p, viewParams(photoSha, 0, 42));
      expectIdentical(view0, plain);
    }
  });

  it('the same (image, view, seed) gives identical tensors; other views differ', async () => {
    const params = viewParams(photoSha, 1, 42)!;
    const a = await decodeView(photo, pre, params);
    const b = await decodeView(photo, pre, viewParams(photoSha, 1, 42));
    expectIdentical(b, a);
    expect(a.length).toBe(3 * 224 * 224);
    const plain = toBytes(await decodeImageBytes(photo, pre), pre);
    const views = await Promise.all([1, 2, 3].map(async (v) => toBytes(await decodeView(photo, pre, viewParams(photoSha, v, 42)), pre)));
    for (const view of views) expect(meanAbsDiff(view, plain)).toBeGreaterThan(3);
    expect(meanAbsDiff(views[0]!, views[1]!)).toBeGreaterThan(3);
    expect(meanAbsDiff(views[1]!, views[2]!)).toBeGreaterThan(3);
  });

  it('a flipped view is the exact mirror of the unflipped one, and matches the mirrored photo', async () => {
    const params: ViewParams = { ...viewParams(photoSha, 1, 5)!, flip: false };
    const plainView = toBytes(await decodeView(photo, pre, params), pre);
    const flippedView = toBytes(await decodeView(photo, pre, { ...params, flip: true }), pre);
    expectIdentical(flippedView, mirror(plainView, 224));
    // The same crop of a mirrored copy of the photo (no rotation or jitter: nothing else changes).
    const mirroredPng = await sharp(orientedPng).flop().png().toBuffer();
    const simple: ViewParams = { ...IDENTITY_VIEW, cropScale: 0.6, cropRatio: 1.2, cropX: 0.3, cropY: 0.7 };
    const fromMirrored = toBytes(await decodeView(mirroredPng, pre, { ...simple, cropX: 1 - simple.cropX }), pre);
    const mirroredView = toBytes(await decodeView(orientedPng, pre, { ...simple, flip: true }), pre);
    expect(maxAbsDiff(fromMirrored, mirroredView)).toBeLessThanOrEqual(1);
  });

  it('colour jitter of zero is the identity; brightness and contrast move the mean and spread', async () => {
    const geometry: ViewParams = { ...viewParams(photoSha, 2, 5)!, brightness: 1, contrast: 1, saturation: 1 };
    const still = viewParams(photoSha, 2, 5, { ...DEFAULT_AUGMENT, brightness: 0, contrast: 0, saturation: 0 })!;
    const base = toBytes(await decodeView(photo, pre, geometry), pre);
    expectIdentical(toBytes(await decodeView(photo, pre, still), pre), base);
    const brighter = toBytes(await decodeView(photo, pre, { ...geometry, brightness: 1.2 }), pre);
    expect(stats(brighter).mean).toBeGreaterThan(stats(base).mean + 5);
    const contrasty = toBytes(await decodeView(photo, pre, { ...geometry, contrast: 1.2 }), pre);
    expect(stats(contrasty).std).toBeGreaterThan(stats(base).std * 1.05);
    const grey = toBytes(await decodeView(photo, pre, { ...geometry, saturation: 0 }), pre);
    for (let i = 0; i < grey.length; i += 3 * 97) expect(Math.max(grey[i]!, grey[i + 1]!, grey[i + 2]!) - Math.min(grey[i]!, grey[i + 1]!, grey[i + 2]!)).toBeLessThanOrEqual(2);
  });

  it('applies EXIF orientation before augmenting', async () => {
    // Stored sideways with orientation 6 ("rotate 90 clockwise to display"): it must give the upright photo's views.
    const sideways = await sharp(orientedPng).rotate(-90).jpeg({ quality: 98 }).withMetadata({ orientation: 6 }).toBuffer();
    const params = viewParams(photoSha, 3, 9)!;
    const upright = toBytes(await decodeView(orientedPng, pre, params), pre);
    const fromSideways = toBytes(await decodeView(sideways, pre, params), pre);
    expect(meanAbsDiff(upright, fromSideways)).toBeLessThan(3);
  });

  it('decodeViews gives exactly decodeView for each view, for small photos (one decode) and large ones (shrink-on-load)', async () => {
    const large = await sharp(orientedPng).resize(2400, 1800, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer();
    for (const bytes of [photo, large]) {
      const params = [0, 1, 2, 3].map((v) => viewParams(photoSha, v, 42));
      const together = await decodeViews(bytes, pre, params);
      expect(together).toHaveLength(4);
      for (const [v, p] of params.entries()) {
        const alone = await decodeView(bytes, pre, p);
        expectIdentical(together[v]!, alone);
      }
    }
  });
});
