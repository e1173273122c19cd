import type { default as SharpModule, Metadata, Sharp, SharpOptions } from 'sharp';
import { pixelsToSrgb } from './apply-profile.js';
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
  if (pixels) return sharp(pixels.data, rawInput(pixels));
  return libvipsPipeline(sharp, bytes, inputOptions, await sharp(bytes, inputOptions).metadata());
}

/**
 * sharp over bytes libvips decodes itself, given their metadata. An image of more than 8 bits a channel is turned to
 * 8-bit sRGB as it loads: left to the output, libvips applied a 16-bit image's embedded colour profile wrongly (up to
 * 70 levels from its 8-bit twin, enough to change a prediction) and rounded a 16-bit image without one by up to 2.
 * An 8-bit image keeps libvips's usual path, so features cached from it stay valid.
 */
export function libvipsPipeline(sharp: typeof SharpModule, bytes: Buffer, inputOptions: SharpOptions, meta: Metadata): Sharp {
  const pipeline = sharp(bytes, inputOptions);
  return meta.depth === undefined || meta.depth === 'uchar' || meta.depth === 'char' ? pipeline : pipeline.pipelineColourspace('srgb');
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
  if (format === 'bmp') return decodeBmp(bytes, pixels);
  const container = await heifContainer(bytes);
  const decoded = await decodeHeic(bytes, container, pixels);
  return container.icc ? pixelsToSrgb(decoded, container.icc) : decoded;
}

/** The primary image's size and colour profile from the HEIF container, which libvips reads even where it cannot decode the pixels. */
async function heifContainer(bytes: Buffer): Promise<{ width: number; height: number; icc?: Buffer }> {
  const sharp = await loadSharp();
  const { width = 0, height = 0, icc } = await sharp(bytes, { limitInputPixels: false }).metadata();
  return icc ? { width, height, icc } : { width, height };
}
