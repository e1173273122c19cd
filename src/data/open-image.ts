import type { Sharp, SharpOptions } from 'sharp';
import { decodeBmp } from './bmp.js';
import { decodeHeic } from './heic.js';
import { loadSharp } from './load-sharp.js';
import { sniffImageFormat } from './sniff-image-format.js';

/** sharp's default pixel limit, which `limitInputPixels: true` (or leaving it out) stands for. */
const SHARP_DEFAULT_LIMIT = 0x3fff * 0x3fff;

/** Whether libvips cannot decode these bytes itself (BMP, HEIC), so that {@link openImage} decodes them first. */
export function isDecodedOutsideLibvips(bytes: Uint8Array): boolean {
  const format = sniffImageFormat(bytes);
  return format === 'bmp' || format === 'heic';
}

/**
 * A sharp pipeline over an image file's bytes, for every format Graft reads: libvips's own loaders, and for a BMP
 * or HEIC (whose decoders the prebuilt libvips lacks) its pixels decoded first as RGB (see bmp.ts, heic.ts). EXIF
 * orientation, first frames and the pixel limit in `inputOptions` hold for all of them.
 */
export async function openImage(bytes: Buffer, inputOptions: SharpOptions): Promise<Sharp> {
  const sharp = await loadSharp();
  const format = sniffImageFormat(bytes);
  if (format !== 'bmp' && format !== 'heic') return sharp(bytes, inputOptions);
  const limit = inputOptions.limitInputPixels;
  const pixels = limit === false || limit === 0 ? Infinity : typeof limit === 'number' ? limit : SHARP_DEFAULT_LIMIT;
  const { data, width, height } = format === 'bmp' ? await decodeBmp(bytes, pixels) : await decodeHeic(bytes, await heifSize(bytes), pixels);
  return sharp(data, { raw: { width, height, channels: 3 } });
}

/** The primary image's size from the HEIF container, which libvips reads even where it cannot decode the pixels. */
async function heifSize(bytes: Buffer): Promise<{ width: number; height: number }> {
  const sharp = await loadSharp();
  const { width = 0, height = 0 } = await sharp(bytes, { limitInputPixels: false }).metadata();
  return { width, height };
}
