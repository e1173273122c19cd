import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, deflateSync } from 'node:zlib';
import sharp, { type Sharp } from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { channelAffine, makePreprocessing, type Preprocessing } from '../../src/core/preprocessing.js';
import { decodeImage, decodeImageBytes, UnreadableImageError } from '../../src/data/decode-image.js';
import { decodeViews, IDENTITY_VIEW } from '../../src/data/augment.js';
import { decodeAll, readAndDecode, type SkipEvent } from '../../src/data/decode-stream.js';
import { sha256File } from '../../src/core/sha256-file.js';
import { inspectDataset } from '../../src/data/inspect.js';
import { scanImageFolder } from '../../src/data/scan-folder.js';
import { writeSyntheticDataset } from '../../src/data/synthetic.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const sharedDir = process.env.GRAFT_SHARED_DIR ?? resolve(repoRoot, '../shared');
const hymenoptera = join(sharedDir, 'datasets/hymenoptera');
const hasHymenoptera = existsSync(join(hymenoptera, 'train/ants'));
if (!hasHymenoptera) console.warn(`skipping real-data decode tests: ${hymenoptera} not found (set GRAFT_SHARED_DIR)`);

const pre = makePreprocessing({ inputSize: 32, scale: 'imagenet', layout: 'nchw' });
const preNhwc = makePreprocessing({ inputSize: 32, scale: '-1..1', layout: 'nhwc' });
const COLOUR = [200, 100, 50] as const;

let dir: string;
let photo: Buffer; // a real-ish JPEG with texture, so corruption matters

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'graft-decode-'));
  const noise = Buffer.alloc(320 * 240 * 3);
  for (let i = 0; i < noise.length; i++) noise[i] = (i * 2654435761) >>> 24;
  photo = await sharp(noise, { raw: { width: 320, height: 240, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
});

function solid(width: number, height: number, channels: 3 | 4 = 3, alpha = 1): Sharp {
  return sharp({ create: { width, height, channels, background: { r: COLOUR[0], g: COLOUR[1], b: COLOUR[2], alpha } } });
}

/** Channel means of a decoded nchw tensor, mapped back to byte values. */
function channelBytes(data: Float32Array, p: Preprocessing): number[] {
  const { mul, add } = channelAffine(p);
  const plane = p.inputSize * p.inputSize;
  return [0, 1, 2].map((c) => {
    let sum = 0;
    for (let i = 0; i < plane; i++) sum += p.layout === 'nchw' ? data[c * plane + i]! : data[i * 3 + c]!;
    return (sum / plane - add[c]!) / mul[c]!;
  });
}

function expectExactColour(data: Float32Array, p: Preprocessing, rgb: readonly number[]): void {
  const { mul, add } = channelAffine(p);
  const plane = p.inputSize * p.inputSize;
  expect(data.length).toBe(3 * plane);
  for (let c = 0; c < 3; c++) {
    const expected = Math.fround(rgb[c]! * mul[c]! + add[c]!);
    for (let i = 0; i < plane; i++) {
      const v = p.layout === 'nchw' ? data[c * plane + i]! : data[i * 3 + c]!;
      if (v !== expected) throw new Error(`channel ${c} pixel ${i}: ${v} != ${expected}`);
    }
  }
}

async function unreadableReason(input: string | Buffer, options = {}): Promise<string> {
  const error = await decodeImage(input, pre, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UnreadableImageError);
  expect((error as UnreadableImageError).code).toBe('UNREADABLE_IMAGE');
  return (error as UnreadableImageError).reason;
}

/** A real 16-bit RGB PNG, written by hand: sharp 0.35 reads raw `depth: 'ushort'` input as bytes, so it cannot make one. */
function png16(width: number, height: number, rgb16: readonly number[], iccp?: Buffer): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([16, 2, 0, 0, 0], 8); // 16-bit, truecolour
  const row = 1 + width * 6;
  const raw = Buffer.alloc(row * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) raw.writeUInt16BE(rgb16[c]!, y * row + 1 + x * 6 + c * 2);
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const profile = iccp ? [chunk('iCCP', iccp)] : [];
  return Buffer.concat([signature, chunk('IHDR', ihdr), ...profile, chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

/** The data of the iCCP chunk (name, method, compressed profile) of a PNG that sharp writes with its sRGB profile. */
async function srgbIccpChunk(): Promise<Buffer> {
  const png = await solid(4, 4).withIccProfile('srgb').png().toBuffer();
  for (let at = 8; at < png.length; ) {
    const length = png.readUInt32BE(at);
    if (png.toString('latin1', at + 4, at + 8) === 'iCCP') return png.subarray(at + 8, at + 8 + length);
    at += 12 + length;
  }
  throw new Error('sharp wrote no iCCP chunk');
}

describe('decodeImage: pixels', () => {
  it('decodes a solid colour to exactly the affine of that colour, in both layouts and resize modes', async () => {
    const png = await solid(300, 200).png().toBuffer();
    expectExactColour(await decodeImage(png, pre), pre, COLOUR);
    expectExactColour(await decodeImage(png, preNhwc), preNhwc, COLOUR);
    const stretch = makePreprocessing({ inputSize: 48, scale: '0..1', layout: 'nchw', resize: 'stretch' });
    expectExactColour(await decodeImage(png, stretch), stretch, COLOUR);
  });

  it('lays out nchw and nhwc as transposes of each other', async () => {
    const nchw = makePreprocessing({ inputSize: 32, scale: '0..1', layout: 'nchw' });
    const nhwc = makePreprocessing({ inputSize: 32, scale: '0..1', layout: 'nhwc' });
    const a = await decodeImage(photo, nchw);
    const b = await decodeImage(photo, nhwc);
    for (const [y, x, c] of [[0, 0, 0], [5, 17, 1], [31, 31, 2]] as const) expect(a[c * 1024 + y * 32 + x]).toBe(b[(y * 32 + x) * 3 + c]);
  });

  it('center-crop keeps the middle and stretch keeps everything', async () => {
    // 300x100: left third red, middle green, right third blue.
    const stripes = Buffer.alloc(300 * 100 * 3);
    for (let y = 0; y < 100; y++) for (let x = 0; x < 300; x++) stripes[(y * 300 + x) * 3 + Math.floor(x / 100)] = 255;
    const png = await sharp(stripes, { raw: { width: 300, height: 100, channels: 3 } }).png().toBuffer();
    const p = makePreprocessing({ inputSize: 30, scale: '0..1', layout: 'nchw' });
    const crop = channelBytes(await decodeImage(png, p), p);
    expect(crop[1]).toBeGreaterThan(240);
    expect(crop[0]! + crop[2]!).toBeLessThan(15);
    const s = makePreprocessing({ inputSize: 30, scale: '0..1', layout: 'nchw', resize: 'stretch' });
    const stretched = channelBytes(await decodeImage(png, s), s);
    for (const v of stretched) expect(v).toBeGreaterThan(75);
  });

  it("drops alpha keeping the stored RGB values, as PIL's convert('RGB') does", async () => {
    expectExactColour(await decodeImage(await solid(64, 40, 4, 0).png().toBuffer(), pre), pre, COLOUR);
    expectExactColour(await decodeImage(await solid(64, 40, 4, 0.5).png().toBuffer(), pre), pre, COLOUR);
  });

  it('turns grayscale into three equal channels', async () => {
    const gray = await sharp({ create: { width: 50, height: 50, channels: 3, background: { r: 77, g: 77, b: 77 } } })
      .toColourspace('b-w')
      .png()
      .toBuffer();
    expect((await sharp(gray).metadata()).channels).toBe(1);
    expectExactColour(await decodeImage(gray, pre), pre, [77, 77, 77]);
  });

  it('converts CMYK JPEG to sRGB', async () => {
    const cmyk = await solid(50, 50).toColourspace('cmyk').jpeg().toBuffer();
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');
    const bytes = channelBytes(await decodeImage(cmyk, pre), pre);
    // A CMYK round trip through the ICC profiles is not exact; the colour must still be the same orange.
    bytes.forEach((v, c) => expect(Math.abs(v - COLOUR[c]!)).toBeLessThan(40));
  });

  it('reduces a 16-bit PNG to 8 bits', async () => {
    const png = png16(40, 30, [0xc812, 0x6434, 0x3256]);
    expect((await sharp(png).metadata()).depth).toBe('ushort');
    const bytes = channelBytes(await decodeImage(png, pre), pre);
    bytes.forEach((v, c) => expect(Math.abs(v - COLOUR[c]!)).toBeLessThanOrEqual(1));
  });

  it('reduces a 16-bit PNG with an embedded sRGB profile to the same 8-bit colour as one without', async () => {
    // libvips applied a 16-bit image's profile wrongly when left to the output (tens of levels off).
    const png = png16(40, 30, [0xc812, 0x6434, 0x3256], await srgbIccpChunk());
    const meta = await sharp(png).metadata();
    expect([meta.depth, meta.hasProfile]).toEqual(['ushort', true]);
    for (const p of [pre, preNhwc]) {
      const bytes = channelBytes(await decodeImage(png, p), p);
      bytes.forEach((v, c) => expect(Math.abs(v - COLOUR[c]!)).toBeLessThanOrEqual(1));
    }
    const [view] = await decodeViews(png, pre, [IDENTITY_VIEW]);
    channelBytes(view!, pre).forEach((v, c) => expect(Math.abs(v - COLOUR[c]!)).toBeLessThanOrEqual(1));
  });

  it('decodes lossless WebP exactly', async () => {
    const webp = await solid(70, 50).webp({ lossless: true }).toBuffer();
    expectExactColour(await decodeImage(webp, pre), pre, COLOUR);
  });

  it('decodes the first frame of a GIF', async () => {
    const shared = join(hymenoptera, 'train/ants/imageNotFound.gif');
    const gif = existsSync(shared) ? await readFile(shared) : await solid(40, 40).gif().toBuffer();
    const data = await decodeImage(gif, pre);
    expect(data.length).toBe(3 * 32 * 32);
    expect(data.every(Number.isFinite)).toBe(true);
  });

  it('applies EXIF orientation', async () => {
    // Upright: 64 wide x 32 high, top half red, bottom half blue.
    const upright = Buffer.alloc(64 * 32 * 3);
    for (let y = 0; y < 32; y++) for (let x = 0; x < 64; x++) upright[(y * 64 + x) * 3 + (y < 16 ? 0 : 2)] = 255;
    const uprightJpeg = await sharp(upright, { raw: { width: 64, height: 32, channels: 3 } }).jpeg().toBuffer();
    // Orientation 6 means "rotate 90 degrees clockwise to display", so store the pixels rotated the other way.
    const storedRaw = await sharp(upright, { raw: { width: 64, height: 32, channels: 3 } }).rotate(270).raw().toBuffer();
    const stored = sharp(storedRaw, { raw: { width: 32, height: 64, channels: 3 } });
    const withExif = await stored.clone().jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const withoutExif = await stored.clone().jpeg().toBuffer();
    expect((await sharp(withExif).metadata()).orientation).toBe(6);
    const p = makePreprocessing({ inputSize: 16, scale: '0..1', layout: 'nchw', resize: 'stretch' });
    const reference = await decodeImage(uprightJpeg, p);
    const meanDiff = (a: Float32Array): number => a.reduce((s, v, i) => s + Math.abs(v - reference[i]!), 0) / a.length;
    expect(meanDiff(await decodeImage(withExif, p))).toBeLessThan(0.03);
    expect(meanDiff(await decodeImage(withoutExif, p))).toBeGreaterThan(0.2);
  });

  it('an EXIF-turned image smaller than the input gives the tensor of the same pixels stored upright', async () => {
    // A 60 x 40 gradient with detail in both directions, stored losslessly: upright, and turned with orientation 6
    // (and 8), so both decode to the same pixels. Enlarged to 96 (libvips resizes before it turns) they differed.
    const [w, h] = [60, 40];
    const upright = Buffer.alloc(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) upright.set([(x * 37 + y * 11) % 256, (x * x + 3 * y) % 256, (y * 29) % 256], (y * w + x) * 3);
    const raw = { raw: { width: w, height: h, channels: 3 as const } };
    const uprightPng = await sharp(upright, raw).png().toBuffer();
    const p = makePreprocessing({ inputSize: 96, scale: '0..1', layout: 'nchw', resize: 'center-crop' });
    const reference = await decodeImage(uprightPng, p);
    for (const [orientation, angle] of [[6, 270], [8, 90]] as const) {
      const stored = await sharp(upright, raw).rotate(angle).raw().toBuffer();
      const turned = await sharp(stored, { raw: { width: h, height: w, channels: 3 } }).webp({ lossless: true }).withMetadata({ orientation }).toBuffer();
      expect((await sharp(turned).metadata()).orientation).toBe(orientation);
      const decoded = await decodeImage(turned, p);
      expect(decoded.every((v, i) => v === reference[i]), `orientation ${orientation}`).toBe(true);
    }
  });
});

describe('decodeImage: unreadable files', () => {
  it('reports a zero-byte file, a text file named .jpg, and a missing file, naming the file', async () => {
    const empty = join(dir, 'empty.jpg');
    await writeFile(empty, '');
    expect(await unreadableReason(empty)).toBe('zero-byte file');
    const text = join(dir, 'text.jpg');
    await writeFile(text, 'this is not a picture\nreally\n');
    expect(await unreadableReason(text)).toBe('not an image (content is text)');
    const error = (await decodeImage(text, pre).catch((e: unknown) => e)) as UnreadableImageError;
    expect(error.message).toContain(text);
    expect(error.hint).toMatch(/graft inspect/);
    expect(await unreadableReason(join(dir, 'missing.jpg'))).toBe('file not found');
  });

  it('refuses what libvips would render but is no photo: an SVG named .png, a PDF', async () => {
    const svg = join(dir, 'vector.png');
    await writeFile(svg, '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="300"><rect width="300" height="300" fill="red"/></svg>');
    expect(await unreadableReason(svg)).toBe('not an image (content is text)');
    const pdf = join(dir, 'scan.jpg');
    await writeFile(pdf, Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(64, 0)]));
    expect(await unreadableReason(pdf)).toBe('not an image (unrecognised format)');
    // A TIFF header without its strips is a damaged TIFF, not "not an image"; libvips's empty reason leaves no ": ".
    const tiff = join(dir, 'header-only.tif');
    await writeFile(tiff, Buffer.from([0x49, 0x49, 0x2a, 0, 8, 0, 0, 0, 0, 0]));
    expect(await unreadableReason(tiff)).toMatch(/^corrupt or truncated TIFF: /);
    const png = join(dir, 'header-only.png');
    const ihdr = Buffer.from('0000000d49484452000000100000001008020000009091683600000000', 'hex');
    await writeFile(png, Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), ihdr.subarray(0, 25), Buffer.from('0000000049454e44ae426082', 'hex')]));
    expect(await unreadableReason(png)).toMatch(/^corrupt or truncated PNG(: .*[^:\s])?$/);
    // The augmented views of fine-tuning read files the same way.
    await expect(decodeViews(await readFile(svg), pre, [IDENTITY_VIEW])).rejects.toThrow(/not an image/);
  });

  it('reports a JPEG truncated at half', async () => {
    expect(await unreadableReason(photo.subarray(0, photo.length >> 1))).toMatch(/^corrupt or truncated JPEG: .*premature end/i);
  });

  it('names the format of a truncated PNG or WebP, decoded one at a time or several at once', async () => {
    const noisy = await sharp(Buffer.from(Array.from({ length: 64 * 64 * 3 }, (_, i) => (i * 7919) % 251)), { raw: { width: 64, height: 64, channels: 3 } });
    const [png, webp] = await Promise.all([noisy.clone().png().toBuffer(), noisy.clone().webp().toBuffer()]);
    const cut = [png.subarray(0, png.length >> 1), webp.subarray(0, webp.length >> 1)];
    const reasons = await Promise.all([...cut, ...cut, ...cut].map((bytes) => unreadableReason(bytes)));
    for (const [i, reason] of reasons.entries()) expect(reason).toMatch(i % 2 === 0 ? /^corrupt or truncated PNG/ : /^corrupt or truncated WEBP/);
  });

  it("accepts libjpeg warnings by default (like PIL) and rejects them with failOn 'warning'", async () => {
    // The middle overwritten with FF D9 (end-of-image markers): libjpeg warns "premature end of data segment",
    // fills the rest with grey and goes on. Garbage without markers is not even a warning for libjpeg.
    const corrupt = Buffer.from(photo);
    for (let i = corrupt.length >> 1; i < (corrupt.length >> 1) + 40; i += 2) corrupt.set([0xff, 0xd9], i);
    expect((await decodeImage(corrupt, pre)).length).toBe(3 * 32 * 32);
    expect(await unreadableReason(corrupt, { failOn: 'warning' })).toMatch(/^corrupt or truncated JPEG: .*Corrupt JPEG data/);
  });

  it('rejects an image over the pixel limit with its size', async () => {
    expect(await unreadableReason(photo, { limitInputPixels: 10_000 })).toBe('image too large: 320 x 240 pixels > limit of 10000 pixels');
  });

  it('names the file given to decodeImageBytes', async () => {
    const error = (await decodeImageBytes(Buffer.alloc(0), pre, { name: '/x/y.jpg' }).catch((e: unknown) => e)) as Error;
    expect(error.message).toBe('Cannot read image /x/y.jpg: zero-byte file');
  });
});

describe('readAndDecode / decodeAll', () => {
  let files: string[];
  beforeAll(async () => {
    files = [];
    for (let i = 0; i < 12; i++) {
      const file = join(dir, `s${i}.png`);
      await writeFile(file, await sharp({ create: { width: 40 + i, height: 30, channels: 3, background: { r: i * 20, g: 0, b: 0 } } }).png().toBuffer());
      files.push(file);
    }
    await writeFile(join(dir, 'bad.jpg'), 'not an image at all');
    files.splice(3, 0, join(dir, 'bad.jpg'));
    files.splice(7, 0, join(dir, 'gone.jpg'));
  });

  it('yields in input order, reports bad files to onSkip and never throws', async () => {
    const skips: SkipEvent[] = [];
    const seen: number[] = [];
    for await (const item of decodeAll(files, pre, { concurrency: 3, onSkip: (s) => skips.push(s) })) {
      seen.push(item.index);
      expect(item.file).toBe(files[item.index]);
      const red = Math.round(channelBytes(item.data, pre)[0]!) + 0; // + 0: -0 to 0
      expect(red).toBe(Number(/s(\d+)\.png$/.exec(item.file)![1]) * 20);
    }
    expect(seen).toEqual(files.map((_, i) => i).filter((i) => i !== 3 && i !== 7));
    expect(skips).toEqual([
      { index: 3, file: files[3], reason: 'not an image (content is text)' },
      { index: 7, file: files[7], reason: 'file not found' },
    ]);
  });

  it('hashes the bytes it read and decodes only what the predicate asks for', async () => {
    const cached = new Set([await sha256File(files[0]!), await sha256File(files[1]!)]);
    const out = [];
    for await (const item of readAndDecode(files, pre, { decode: (sha) => !cached.has(sha), onSkip: () => {} })) out.push(item);
    expect(out[0]!.sha256).toBe(createHash('sha256').update(await readFile(files[0]!)).digest('hex'));
    expect(out[0]!.bytes.equals(await readFile(files[0]!))).toBe(true);
    expect(out.map((i) => i.data !== undefined)).toEqual(out.map((_, i) => i >= 2));
  });

  it('works no further ahead than 2 x concurrency while the consumer is busy', async () => {
    let started = 0;
    let maxAhead = 0;
    let consumed = 0;
    const concurrency = 2;
    for await (const item of readAndDecode(files, pre, { concurrency, decode: () => (started++, true), onSkip: () => consumed++ })) {
      void item;
      await new Promise((r) => setTimeout(r, 20));
      maxAhead = Math.max(maxAhead, started - consumed);
      consumed++;
    }
    expect(consumed).toBe(files.length);
    // 2 x concurrency waiting in the reorder window, plus the one the consumer holds.
    expect(maxAhead).toBeLessThanOrEqual(2 * concurrency + 1);
    expect(maxAhead).toBeGreaterThan(1);
  });

  it('stops starting work when the consumer breaks early', async () => {
    let started = 0;
    const concurrency = 2;
    for await (const item of readAndDecode(files, pre, { concurrency, decode: () => (started++, true) })) {
      void item;
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
    // What was started before the break: the first item, and the reorder window past it (2 x concurrency). It was
    // <= 4 before, which held only while the second and third files were still being read when the first was yielded
    // (a CI run on a busy machine started 5).
    expect(files.length).toBeGreaterThan(2 * concurrency + 1);
    expect(started).toBeLessThanOrEqual(2 * concurrency + 1);
  });

  it('rejects a bad concurrency', async () => {
    await expect(readAndDecode(files, pre, { concurrency: 0 }).next()).rejects.toThrow(RangeError);
  });
});

describe('writeSyntheticDataset and inspectDataset', () => {
  it('writes a deterministic 3-class train/val dataset that scans and decodes', async () => {
    const a = await writeSyntheticDataset(join(dir, 'synth-a'), { perClass: 10, seed: 7, size: 64 });
    const b = await writeSyntheticDataset(join(dir, 'synth-b'), { perClass: 10, seed: 7, size: 64 });
    expect(a.labels).toEqual(['circles', 'squares', 'triangles']);
    expect([a.trainCount, a.valCount]).toEqual([21, 9]);
    for (let i = 0; i < a.files.length; i++) expect((await readFile(a.files[i]!)).equals(await readFile(b.files[i]!))).toBe(true);
    expect(a.files.some((f) => f.endsWith('.png')) && a.files.some((f) => f.endsWith('.jpg'))).toBe(true);
    const train = await scanImageFolder(a.trainDir);
    expect(train.items).toHaveLength(21);
    const c = await writeSyntheticDataset(join(dir, 'synth-c'), { perClass: 10, seed: 8, size: 64 });
    expect((await readFile(c.files[0]!)).equals(await readFile(a.files[0]!))).toBe(false);

    await writeFile(join(a.trainDir, 'squares', 'broken.jpg'), photo.subarray(0, 500));
    await writeFile(join(a.trainDir, 'squares', 'notes.txt'), 'x');
    const summary = await inspectDataset(a.root);
    expect(summary.layout).toBe('train-val-folders');
    const trainPart = summary.parts.find((p) => p.name === 'train')!;
    expect(trainPart.classes).toEqual([
      { label: 'circles', count: 7, readable: 7 },
      { label: 'squares', count: 8, readable: 7 },
      { label: 'triangles', count: 7, readable: 7 },
    ]);
    expect(trainPart.unreadable).toEqual([{ file: join(a.trainDir, 'squares', 'broken.jpg'), reason: expect.stringMatching(/^corrupt or truncated JPEG/) }]);
    expect(trainPart.skipped).toEqual([{ file: join(a.trainDir, 'squares', 'notes.txt'), reason: 'not an image file extension' }]);
    expect(summary.parts.find((p) => p.name === 'val')!.imageCount).toBe(9);
    expect(summary.warnings).toEqual(expect.arrayContaining([expect.stringMatching(/val: class "circles" has only 3/)]));
  });
});

describe.skipIf(!hasHymenoptera)(`real data (${hymenoptera})`, () => {
  it('inspects hymenoptera: every file decodes, the GIF included', async () => {
    const summary = await inspectDataset(hymenoptera);
    expect(summary.parts.map((p) => [p.name, p.imageCount, p.unreadable.length])).toEqual([
      ['train', 245, 0],
      ['val', 153, 0],
    ]);
    const ants = await readdir(join(hymenoptera, 'train/ants'));
    expect(ants).toContain('imageNotFound.gif');
  });

  it('decodes a real photo to the model size with plausible values', async () => {
    const p = makePreprocessing({ inputSize: 224, scale: 'imagenet', layout: 'nchw' });
    const data = await decodeImage(join(hymenoptera, 'train/ants/0013035.jpg'), p);
    expect(data.length).toBe(3 * 224 * 224);
    const { add, mul } = channelAffine(p);
    for (let c = 0; c < 3; c++) {
      const lo = add[c]!;
      const hi = 255 * mul[c]! + add[c]!;
      for (let i = c * 50176; i < (c + 1) * 50176; i++) if (data[i]! < lo - 1e-6 || data[i]! > hi + 1e-6) throw new Error(`out of range at ${i}`);
    }
  });
});

