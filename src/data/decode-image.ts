import { readFile, stat } from 'node:fs/promises';
import type { ResizeOptions, Sharp, SharpOptions } from 'sharp';
import { loadSharp } from './load-sharp.js';
import { bmpSize, isBmp } from './bmp.js';
import { decodeOutsideLibvips, libvipsPipeline, rawInput } from './open-image.js';
import { sniffImageFormat } from './sniff-image-format.js';
import { GraftError } from '../core/errors.js';
import { cropFractionOf, type Preprocessing } from '../core/preprocessing.js';
import { pixelsToTensor } from '../core/pixel-tensor.js';

/** Options for {@link decodeImage}; all optional. */
export interface DecodeOptions {
  /**
   * Largest accepted width x height, checked from the header before decoding so one huge file cannot
   * exhaust memory. Defaults to 100 megapixels (a 12000 x 8000 photo passes).
   */
  readonly limitInputPixels?: number;
  /**
   * How strict the decoder is (sharp's `failOn`). Defaults to 'error': truncated files and decoder errors
   * are reported as unreadable, while libjpeg *warnings* (e.g. "extraneous bytes before marker", common
   * in web-scraped photos that display fine) are accepted. This matches PIL, which torchvision-trained
   * baselines use. 'warning' also rejects those; 'truncated' rejects only truncated files.
   */
  readonly failOn?: 'truncated' | 'error' | 'warning';
}

export const DEFAULT_LIMIT_INPUT_PIXELS = 100_000_000;

/** A file that could not be decoded; `reason` is a plain sentence such as 'zero-byte file'. */
export class UnreadableImageError extends GraftError {
  readonly file: string;
  readonly reason: string;

  constructor(file: string, reason: string, cause?: unknown) {
    super('UNREADABLE_IMAGE', `Cannot read image ${file}: ${reason}`, {
      hint: 'replace or delete the file; `graft inspect <dataset>` lists every unreadable file',
      cause,
    });
    this.file = file;
    this.reason = reason;
  }
}

/**
 * Decodes one image into the tensor layout the model expects, using the model's preprocessing.
 *
 * Returns a Float32Array of 3 x S x S ('nchw') or S x S x 3 ('nhwc') with S = `pre.inputSize`, each value
 * `v * mul[c] + add[c]` from {@link channelAffine}. What it does to the pixels, in order:
 * - orientation from EXIF is applied (phone photos are stored sideways);
 * - only the first frame of an animated GIF/WebP is used;
 * - CMYK, grayscale and 16-bit inputs become 8-bit sRGB;
 * - a BMP (any bit depth, palette or bit-field layout) or a HEIC (an iPhone photo) is decoded first by libnsbmp or
 *   libheif, whose formats the prebuilt libvips cannot decode;
 * - an alpha channel is dropped keeping the stored RGB values, which is what PIL's `convert('RGB')`
 *   does (it neither flattens onto white nor onto black), so models trained in PyTorch see the same pixels;
 * - 'center-crop' scales the short side to S and crops the centre; 'stretch' resizes both sides to S.
 *
 * JPEGs take a single sharp pipeline so libjpeg's shrink-on-load (decoding at 1/2, 1/4, 1/8 scale)
 * applies; that is the main decode speed lever (ARCHITECTURE.md).
 *
 * @param file a path, or the file's bytes (then errors name it '<buffer>'; use {@link decodeImageBytes} to name it).
 * @throws UnreadableImageError when the file is missing, empty, not an image, corrupt or too large.
 * @example
 * const x = await decodeImage('cat.jpg', makePreprocessing({ inputSize: 224, scale: 'imagenet', layout: 'nchw' }));
 * x.length; // 150528
 */
export async function decodeImage(
  file: string | Buffer,
  pre: Preprocessing,
  options: DecodeOptions = {},
): Promise<Float32Array> {
  if (typeof file !== 'string') return decodeImageBytes(file, pre, { ...options, name: '<buffer>' });
  return decodeImageBytes(await readImageFile(file), pre, { ...options, name: file });
}

/** Reads an image file's bytes; a missing or unreadable file is an {@link UnreadableImageError}, not a crash. */
export async function readImageFile(file: string): Promise<Buffer> {
  try {
    // Opening a named pipe waits for a writer, for ever and past any cancel: only files are read (as training lists).
    if (!(await stat(file)).isFile()) throw new UnreadableImageError(file, 'not a regular file (a named pipe, socket or device)');
    return await readFile(file);
  } catch (error) {
    if (error instanceof UnreadableImageError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    // A name with U+FFFD came from bytes that are not UTF-8 (a shell passing a Latin-1 name): say so, not "not found".
    const missing = file.includes('\uFFFD') ? 'file not found: its name is not valid UTF-8 (written in another code page?); rename it' : 'file not found';
    throw new UnreadableImageError(file, code === 'ENOENT' ? missing : `cannot read file (${code ?? String(error)})`, error);
  }
}

/**
 * {@link decodeImage} for bytes already in memory: the streaming reader reads each file once, hashes it
 * for the feature-cache key, and decodes the same buffer.
 * @param options.name what errors call the image (its path). Defaults to '<buffer>'.
 */
export async function decodeImageBytes(
  bytes: Buffer,
  pre: Preprocessing,
  options: DecodeOptions & { name?: string } = {},
): Promise<Float32Array> {
  const rgb = await decodeToRgb(bytes, pre.inputSize, pre.resize, { ...options, interpolation: pre.interpolation, cropFraction: cropFractionOf(pre) });
  return rgbToTensor(rgb, pre);
}

/**
 * Decodes and resizes to S x S x 3 bytes of sRGB (interleaved), before scaling. Exported for callers
 * that augment pixels before {@link rgbToTensor}.
 */
export async function decodeToRgb(
  bytes: Buffer,
  size: number,
  resize: Preprocessing['resize'],
  options: DecodeOptions & { name?: string; interpolation?: Preprocessing['interpolation']; cropFraction?: number } = {},
): Promise<Uint8Array> {
  const name = options.name ?? '<buffer>';
  if (bytes.length === 0) throw new UnreadableImageError(name, 'zero-byte file');
  const sharp = await loadSharp();
  const inputOptions: SharpOptions = {
    failOn: options.failOn ?? 'error',
    limitInputPixels: options.limitInputPixels ?? DEFAULT_LIMIT_INPUT_PIXELS,
    // The constructor option orients by EXIF without an angle, so it keeps shrink-on-load (an explicit
    // rotation or an extract before resize would force a full-size decode).
    autoOrient: true,
  };
  const kernel = options.interpolation === 'lanczos3' ? 'lanczos3' : 'linear';
  const resizeOptions: ResizeOptions =
    resize === 'stretch' ? { fit: 'fill', kernel } : { fit: 'cover', position: 'centre', kernel };
  // Centre crop of a fraction of the short side: scale the short side to size / fraction, then cut the centre.
  const fraction = resize === 'center-crop' ? (options.cropFraction ?? 1) : 1;
  const scaled = fraction === 1 ? size : Math.round(size / fraction);
  const margin = Math.floor((scaled - size) / 2);
  try {
    let source: Sharp;
    // A BMP or HEIC arrives as RGB pixels, alpha already dropped (see open-image.ts). For other formats, an alpha
    // channel must be dropped *before* resizing: sharp resizes
    // premultiplied and removes alpha afterwards, which would blacken transparent pixels instead of keeping their
    // RGB values (PIL's convert('RGB')).
    const pixels = await decodeOutsideLibvips(bytes, inputOptions);
    const meta = pixels ? undefined : await sharp(bytes, inputOptions).metadata();
    // libvips turns an EXIF-oriented image after resizing it: shrinking, that is within half a level of turning it
    // first, but enlarging (an image smaller than the input) it shifts the result by a pixel, so the same picture
    // stored upright scores differently. An image that is both turned and enlarged is turned first.
    const orientFirst = meta !== undefined && (meta.orientation ?? 1) > 1 && Math.min(meta.width, meta.height) < scaled;
    if (pixels) {
      source = sharp(pixels.data, rawInput(pixels));
    } else if (meta!.hasAlpha || orientFirst) {
      const flat = await libvipsPipeline(sharp, bytes, inputOptions, meta!)
        .removeAlpha()
        .toColourspace('srgb')
        .raw({ depth: 'uchar' })
        .toBuffer({ resolveWithObject: true });
      source = sharp(flat.data, { raw: { width: flat.info.width, height: flat.info.height, channels: flat.info.channels } });
    } else {
      source = libvipsPipeline(sharp, bytes, inputOptions, meta!);
    }
    const resized = source.resize(scaled, scaled, resizeOptions);
    const { data, info } = await (scaled === size ? resized : resized.extract({ left: margin, top: margin, width: size, height: size }))
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || info.width !== size || info.height !== size) {
      throw new GraftError('INTERNAL', `Decoder returned ${info.width}x${info.height}x${info.channels}, expected ${size}x${size}x3 for ${name}`);
    }
    return data;
  } catch (error) {
    if (error instanceof GraftError) throw error;
    throw new UnreadableImageError(name, await describeFailure(bytes, error, inputOptions), error);
  }
}

/**
 * Interleaved RGB bytes (S x S x 3) to the model's layout and scale in one pass.
 * @param out optional destination (e.g. a slice of a batch tensor) of length 3 x S x S.
 */
export function rgbToTensor(rgb: Uint8Array, pre: Preprocessing, out?: Float32Array): Float32Array {
  // The browser's classify.js runs the same function on a canvas's RGBA bytes.
  return pixelsToTensor(rgb, 3, pre, out);
}

function isJpeg(bytes: Buffer): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

/** Turns sharp's failure into a sentence a user can act on. */
async function describeFailure(bytes: Buffer, error: unknown, inputOptions: SharpOptions): Promise<string> {
  // libvips sometimes ends with an empty reason ("Input buffer has corrupt header: "): the colon goes with it.
  const message = (error instanceof Error ? error.message : String(error)).split('\n')[0]!.trim().replace(/\s*:\s*$/, '');
  if (/exceeds pixel limit/i.test(message)) {
    try {
      const sharp = await loadSharp();
      const { width, height } = isBmp(bytes) ? bmpSize(bytes) : await sharp(bytes, { ...inputOptions, limitInputPixels: false }).metadata();
      return `image too large: ${width} x ${height} pixels > limit of ${inputOptions.limitInputPixels} pixels`;
    } catch {
      return `image too large: more than ${inputOptions.limitInputPixels} pixels`;
    }
  }
  if (isJpeg(bytes)) return `corrupt or truncated JPEG: ${message}`;
  const format = sniffImageFormat(bytes);
  if (format === 'bmp' || format === 'heic') return `corrupt or unsupported ${format.toUpperCase()}: ${message}`;
  if (looksLikeText(bytes)) return 'not an image (content is text)';
  // A file that starts as a format Graft reads (a TIFF header without its strips) is that format, damaged.
  if (/unsupported image format/i.test(message) && !format) return 'not an image (unrecognised format)';
  // With several decodes at once libvips's own message is sometimes lost ("Unknown error"): the format still says what.
  const detail = /^unknown error$/i.test(message) ? '' : `: ${message}`;
  return format ? `corrupt or truncated ${format.toUpperCase()}${detail}` : `corrupt or unsupported image${detail}`;
}

/** Heuristic on the first 512 bytes: no NUL and almost all printable ASCII, whitespace or UTF-8. */
function looksLikeText(bytes: Buffer): boolean {
  const head = bytes.subarray(0, 512);
  let printable = 0;
  for (const b of head) {
    if (b === 0) return false;
    if (b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127) || b >= 128) printable++;
  }
  return printable / head.length > 0.95;
}
