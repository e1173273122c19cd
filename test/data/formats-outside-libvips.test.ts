import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { describe, expect, it } from 'vitest';
import { makePreprocessing } from '../../src/core/preprocessing.js';
import { decodeViews, IDENTITY_VIEW } from '../../src/data/augment.js';
import { isBmp } from '../../src/data/bmp.js';
import { decodeImageBytes, UnreadableImageError } from '../../src/data/decode-image.js';
import { openImage } from '../../src/data/open-image.js';
import { sniffImageFormat } from '../../src/data/sniff-image-format.js';
import { repoRoot } from '../support.js';

const fixtures = join(repoRoot, 'test/fixtures/bmp');
const heicFixtures = join(repoRoot, 'test/fixtures/heic');
const pre = makePreprocessing({ inputSize: 24, scale: 'imagenet', layout: 'nchw' });

async function rgbOf(image: Promise<Sharp> | Sharp): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await (await image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

describe('BMP', async () => {
  const names = (await readdir(fixtures)).filter((f) => f.endsWith('.bmp')).map((f) => f.slice(0, -4));

  it('has the fixtures of every variant', () => {
    expect(names.sort()).toEqual(['argb32', 'gray8', 'mono1', 'os2', 'pal4', 'pal8', 'rgb24', 'rgb565', 'topdown24', 'xrgb32']);
  });

  it.each(names)('decodes %s to the pixels ImageMagick decodes', async (name) => {
    const bytes = await readFile(join(fixtures, `${name}.bmp`));
    expect(sniffImageFormat(bytes)).toBe('bmp');
    const ours = await rgbOf(openImage(bytes, {}));
    const reference = await rgbOf(sharp(join(fixtures, `${name}.png`)));
    expect([ours.width, ours.height]).toEqual([41, 31]);
    let largest = 0;
    for (let i = 0; i < reference.data.length; i++) largest = Math.max(largest, Math.abs(ours.data[i]! - reference.data[i]!));
    // 5- and 6-bit channels widen to 8 bits by bit replication here and by rounding in ImageMagick: at most 7 apart.
    expect(largest).toBeLessThanOrEqual(name === 'rgb565' ? 7 : 0);
  });

  it('gives the model the tensor of the same image as a PNG, plain and augmented', async () => {
    const bmp = await readFile(join(fixtures, 'pal8.bmp'));
    const png = await readFile(join(fixtures, 'pal8.png'));
    expect(await decodeImageBytes(bmp, pre)).toEqual(await decodeImageBytes(png, pre));
    const flipped = { ...IDENTITY_VIEW, flip: true, cropScale: 0.6, cropX: 0.2 };
    expect(await decodeViews(bmp, pre, [flipped])).toEqual(await decodeViews(png, pre, [flipped]));
  });

  it('reports a truncated BMP and an over-large one as unreadable, naming the file', async () => {
    const bytes = await readFile(join(fixtures, 'rgb24.bmp'));
    const truncated = decodeImageBytes(bytes.subarray(0, 1000), pre, { name: 'half.bmp' });
    await expect(truncated).rejects.toThrow(UnreadableImageError);
    await expect(truncated).rejects.toThrow(/half\.bmp: corrupt or unsupported BMP/);
    // A header claiming 30000 x 30000 is refused before anything is allocated for it.
    const huge = Buffer.from(bytes);
    huge.writeInt32LE(30_000, 18);
    huge.writeInt32LE(30_000, 22);
    await expect(decodeImageBytes(huge, pre, { name: 'huge.bmp' })).rejects.toThrow('huge.bmp: image too large: 30000 x 30000 pixels');
  });

  it('names a run-length compressed BMP (RLE8), which this build of libnsbmp does not read, with what to do', async () => {
    // 4 x 2 pixels, two colours, BI_RLE8: a valid file (ImageMagick's identify reads it).
    const rle8 = Buffer.from('Qk1IAAAAAAAAAD4AAAAoAAAABAAAAAIAAAABAAgAAQAAAAoAAAATCwAAEwsAAAIAAAACAAAAAAD/AAD/AAAEAAAABAEAAAAB', 'base64');
    expect(isBmp(rle8)).toBe(true);
    await expect(decodeImageBytes(rle8, pre, { name: 'scan.bmp' })).rejects.toThrow('scan.bmp: corrupt or unsupported BMP: RLE8-compressed BMP, which libnsbmp as built here does not read: save it uncompressed or as PNG');
  });

  it('is told from text that starts with "BM"', () => {
    expect(isBmp(Buffer.from('BMW owners club: meeting notes for the spring'))).toBe(false);
    expect(sniffImageFormat(Buffer.from('BM'))).toBeUndefined();
  });
});

describe('HEIC', () => {
  it('decodes an iPhone-style HEIC (HEVC) to the pixels ImageMagick decodes, within the YUV conversion', async () => {
    const bytes = await readFile(join(heicFixtures, 'plasma.heic'));
    expect(sniffImageFormat(bytes)).toBe('heic');
    const ours = await rgbOf(openImage(bytes, {}));
    const reference = await rgbOf(sharp(join(heicFixtures, 'plasma.png')));
    expect([ours.width, ours.height]).toEqual([64, 48]);
    let total = 0;
    let largest = 0;
    for (let i = 0; i < reference.data.length; i++) {
      const difference = Math.abs(ours.data[i]! - reference.data[i]!);
      total += difference;
      largest = Math.max(largest, difference);
    }
    // Two builds of libheif upsample the chroma a little differently (measured: mean 0.65, largest 10); the same
    // picture mirrored or transposed would be tens of levels apart.
    expect(total / reference.data.length).toBeLessThan(1.5);
    expect(largest).toBeLessThanOrEqual(16);
    expect(await decodeImageBytes(bytes, pre)).toHaveLength(3 * 24 * 24);
  });

  it('turns a HEIC with a wide-gamut profile to sRGB through it, as libvips does a JPEG with one', async () => {
    const bytes = await readFile(join(heicFixtures, 'plasma-romm.heic'));
    expect((await sharp(bytes).metadata()).hasProfile).toBe(true);
    const ours = await rgbOf(openImage(bytes, {}));
    const reference = await rgbOf(sharp(join(heicFixtures, 'plasma.png')));
    let total = 0;
    for (let i = 0; i < reference.data.length; i++) total += Math.abs(ours.data[i]! - reference.data[i]!);
    // Measured: 3.8 through the profile (8-bit ROMM and HEVC's loss), 31 with the profile ignored.
    expect(total / reference.data.length).toBeLessThan(8);
  });

  it('refuses one over the pixel limit from its header, and names a truncated one', async () => {
    const bytes = await readFile(join(heicFixtures, 'plasma.heic'));
    await expect(decodeImageBytes(bytes, pre, { name: 'IMG_0001.HEIC', limitInputPixels: 1000 })).rejects.toThrow('IMG_0001.HEIC: image too large: 64 x 48 pixels > limit of 1000 pixels');
    // Cut inside the HEVC data (which starts after the container's ~500-byte header).
    await expect(decodeImageBytes(bytes.subarray(0, 800), pre, { name: 'IMG_0002.HEIC' })).rejects.toThrow(/IMG_0002\.HEIC: corrupt or unsupported HEIC/);
  });

  it("writes nothing to stdout when it cannot decode a file (the decoder's own logging would break --json)", async () => {
    const bytes = await readFile(join(heicFixtures, 'plasma.heic'));
    const written: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      written.push(String(chunk));
      return write(chunk, ...rest);
    }) as typeof process.stdout.write;
    try {
      await expect(decodeImageBytes(bytes.subarray(0, 2000), pre)).rejects.toThrow(/corrupt or unsupported HEIC/);
      await new Promise((resolve) => setTimeout(resolve, 200)); // the worker's output reaches the parent's stream later
    } finally {
      process.stdout.write = write;
    }
    expect(written.join('')).toBe('');
  });

  it('decodes many at once in its worker, and goes on after a file it cannot decode', async () => {
    const bytes = await readFile(join(heicFixtures, 'plasma.heic'));
    const truncated = bytes.subarray(0, 800);
    const results = await Promise.allSettled([bytes, truncated, bytes, bytes].map((b) => decodeImageBytes(b, pre)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    const [first, , third] = results.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
    expect(third).toEqual(first);
    // The caller's bytes are not handed away (they are hashed, and augmented views decode them again).
    expect(bytes.length).toBe(3575);
    expect(await decodeImageBytes(bytes, pre)).toEqual(first);
  });

  it('tells HEIC from AVIF by the brands of the ftyp box', () => {
    const ftyp = (...brands: string[]): Buffer => {
      const box = Buffer.alloc(8 + 4 * brands.length + 4);
      box.writeUInt32BE(box.length, 0);
      box.write('ftyp', 4, 'latin1');
      box.write(brands[0]!, 8, 'latin1');
      brands.slice(1).forEach((brand, i) => box.write(brand, 16 + 4 * i, 'latin1'));
      return box;
    };
    expect(sniffImageFormat(ftyp('heic', 'mif1', 'heic'))).toBe('heic');
    expect(sniffImageFormat(ftyp('mif1', 'mif1', 'heic'))).toBe('heic');
    expect(sniffImageFormat(ftyp('avif', 'mif1', 'miaf'))).toBe('avif');
    expect(sniffImageFormat(ftyp('mif1', 'mif1', 'avif'))).toBe('avif');
    expect(sniffImageFormat(ftyp('isom', 'mp41'))).toBeUndefined();
  });
});
