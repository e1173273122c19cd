import { crc32, deflateSync } from 'node:zlib';
import type { RgbPixels } from './bmp.js';
import { loadSharp } from './load-sharp.js';

/**
 * Pixels decoded outside libvips (a HEIC) turned to sRGB through the colour profile their file carries, as libvips
 * does for the formats it decodes: an iPhone saves in Display P3, and left as they are its photos' colours would
 * differ from the same picture as a JPEG by 10-20 levels. sharp takes a profile only from an image file, so the
 * pixels go through an uncompressed PNG that carries it (an iCCP chunk).
 */
export async function pixelsToSrgb(pixels: RgbPixels, icc: Buffer): Promise<RgbPixels> {
  const sharp = await loadSharp();
  const raw = { width: pixels.width, height: pixels.height, channels: 3 } as const;
  const png = await sharp(pixels.data, { raw, limitInputPixels: false }).png({ compressionLevel: 0 }).toBuffer();
  const { data, info } = await sharp(withIccp(png, icc), { limitInputPixels: false })
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data };
}

/** A PNG with an iCCP chunk (name, compression method 0, the deflated profile) right after its IHDR. */
function withIccp(png: Buffer, icc: Buffer): Buffer {
  const afterIhdr = 8 + 12 + png.readUInt32BE(8);
  const body = Buffer.concat([Buffer.from('icc\0\0', 'latin1'), deflateSync(icc)]);
  const chunk = Buffer.alloc(12 + body.length);
  chunk.writeUInt32BE(body.length, 0);
  chunk.write('iCCP', 4, 'latin1');
  body.copy(chunk, 8);
  chunk.writeUInt32BE(crc32(chunk.subarray(4, 8 + body.length)), 8 + body.length);
  return Buffer.concat([png.subarray(0, afterIhdr), chunk, png.subarray(afterIhdr)]);
}
