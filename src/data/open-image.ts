import type { Sharp, SharpOptions } from 'sharp';
import { decodeBmp, type RgbPixels } from './bmp.js';
import { decodeHeic } from './heic.js';
import { loadSharp } from './load-sharp.js';
import { READABLE_FORMATS, sniffImageFormat } from './sniff-image-format.js';

/** sharp's default pixel limit, which `limitInputPixels: true` (or leaving it out) stands for. */
const SHARP_DEFAULT_LIMIT = 0x3fff * 0x3fff;

/**
 * A sharp pipeline over an image file's bytes, for every format Graft reads: libvips's own loaders, and for a BMP
 * or HEIC its pixels decoded first (see {@link decodeOutsideLibvips}). EXIF orientation, first frames and the pixel
 * limit in `inputOptions` hold for all of them.
 */
export async function openImage(bytes: Buffer, inputOptions: SharpOptions): Promise<Sharp> {
  const sharp = await loadSharp();
  const pixels = await decodeOutsideLibvips(bytes, inputOptions);
  return pixels ? sharp(pixels.data, rawInput(pixels)) : sharp(bytes, inputOptions);
}

/** sharp's input options for decoded RGB pixels. */
export function rawInput(pixels: RgbPixels): SharpOptions {
  return { raw: { width: pixels.width, height: pixels.height, channels: 3 } };
}

/**
 * The RGB pixels of a BMP or HEIC, whose decoders the prebuilt libvips lacks (see bmp.ts, heic.ts), within the pixel
 * limit in `inputOptions`; undefined for every format libvips decodes itself.
 * @throws Error "unsupported image format" for bytes of no format Graft reads: libvips would also render an SVG or a
 *   PDF (following its references), and the bytes, not the name, decide (as for uploads).
 */
export async function decodeOutsideLibvips(bytes: Buffer, inputOptions: SharpOptions): Promise<RgbPixels | undefined> {
  const format = sniffImageFormat(bytes);
  if (format === undefined) throw new Error(`unsupported image format: not ${READABLE_FORMATS}`);
  if (format !== 'bmp' && format !== 'heic') return undefined;
  const limit = inputOptions.limitInputPixels;
  const pixels = limit === false || limit === 0 ? Infinity : typeof limit === 'number' ? limit : SHARP_DEFAULT_LIMIT;
  return format === 'bmp' ? decodeBmp(bytes, pixels) : decodeHeic(bytes, await heifSize(bytes), pixels);
}

/** The primary image's size from the HEIF container, which libvips reads even where it cannot decode the pixels. */
async function heifSize(bytes: Buffer): Promise<{ width: number; height: number }> {
  const sharp = await loadSharp();
  const { width = 0, height = 0 } = await sharp(bytes, { limitInputPixels: false }).metadata();
  return { width, height };
}
