import type { Sharp, SharpOptions } from 'sharp';
import { decodeBmp, isBmp } from './bmp.js';
import { loadSharp } from './load-sharp.js';

/** sharp's default pixel limit, which `limitInputPixels: true` (or leaving it out) stands for. */
const SHARP_DEFAULT_LIMIT = 0x3fff * 0x3fff;

/**
 * A sharp pipeline over an image file's bytes, for every format Graft reads: libvips's own loaders, and for a BMP
 * (which libvips lacks) its pixels decoded first as RGB (see bmp.ts). EXIF orientation, first frames and the pixel
 * limit in `inputOptions` hold for both.
 */
export async function openImage(bytes: Buffer, inputOptions: SharpOptions): Promise<Sharp> {
  const sharp = await loadSharp();
  if (!isBmp(bytes)) return sharp(bytes, inputOptions);
  const limit = inputOptions.limitInputPixels;
  const { data, width, height } = await decodeBmp(bytes, limit === false || limit === 0 ? Infinity : typeof limit === 'number' ? limit : SHARP_DEFAULT_LIMIT);
  return sharp(data, { raw: { width, height, channels: 3 } });
}
