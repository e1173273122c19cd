import { cropFractionOf, pixelsToTensor } from '../../core/pixel-tensor.js';
import type { Preprocessing } from '../../core/preprocessing.js';
import { isWebp, webpOrientation } from './webp-exif.js';
import { orientWebp } from './webp-orientation.js';

/**
 * What classify.js accepts as an image: a URL (fetched), a Blob or File, an <img>, or anything
 * createImageBitmap takes (canvas, ImageData, video frame...).
 */
export type ImageInput = string | ImageBitmapSource;

/**
 * An image as the model's input tensor data, in the browser: the same steps as the server's decoder
 * (src/data/decode-image.ts, sharp), and the same final arithmetic ({@link pixelsToTensor}, shared with it).
 * - orientation: createImageBitmap applies EXIF orientation ('from-image'), as sharp's autoOrient does; a WebP file's
 *   is read from its EXIF chunk and applied here where the browser does not (webp-orientation.ts);
 * - resize: 'stretch' draws the whole image into S x S; 'center-crop' is sharp's fit 'cover' (scale the short
 *   side to S / cropFraction in whole pixels, crop the centre at whole pixels, as libvips rounds);
 * - interpolation: the canvas's own smoothing (imageSmoothingQuality 'medium': mipmapped bilinear in Chromium)
 *   instead of sharp's antialiased linear kernel, and no JPEG shrink-on-load. Measured (test/web/export-web.slow.test.ts,
 *   Chromium 'medium'; 'low' and 'high' were further off): downscaling a 640x400 JPEG to 224 differs by a mean
 *   0.5-0.7 levels of 255; upscaling a noisy 160 px image to 224 by 4.8 levels, because sharp's 'linear' upscale
 *   is not textbook bilinear: a plain bilinear reference in JS is as far from it (4.7-4.8 levels, with either
 *   pixel-centre convention). Top-1 agreed on every test image; probabilities moved by up to 0.12 on a tiny,
 *   overconfident test model;
 * - alpha: the canvas composites transparent pixels (premultiplied), the server keeps their stored RGB values
 *   (PIL's convert('RGB')); images with transparency may differ more;
 * - colour: the canvas works in sRGB; images with another embedded ICC profile are converted by the browser
 *   and by sharp, each with its own colour engine;
 * - then scale/mean/std/layout exactly as the manifest says.
 */
export async function preprocessImage(source: ImageInput, pre: Preprocessing): Promise<Float32Array> {
  const bitmap = await toBitmap(source);
  try {
    return pixelsToTensor(resizeToSquare(bitmap, pre), 4, pre);
  } finally {
    bitmap.close();
  }
}

/** Any image input to an ImageBitmap, EXIF orientation applied. */
async function toBitmap(source: ImageInput): Promise<ImageBitmap> {
  let input: ImageBitmapSource;
  if (typeof source === 'string') {
    const response = await fetch(source);
    if (!response.ok) throw new Error(`Cannot fetch ${source}: HTTP ${response.status}`);
    input = await response.blob();
  } else {
    input = source;
  }
  if (input instanceof HTMLImageElement && !input.complete) await input.decode();
  // Chromium does not apply a WebP file's EXIF orientation (it does a JPEG's): read it from the file.
  // Only a WebP file is read whole for its tag: other images are decoded without a second copy of their bytes.
  const orientation =
    input instanceof Blob && isWebp(new Uint8Array(await input.slice(0, 12).arrayBuffer())) ? webpOrientation(new Uint8Array(await input.arrayBuffer())) : undefined;
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(input, { imageOrientation: 'from-image', premultiplyAlpha: 'none' });
  } catch (error) {
    // Node reads TIFF and HEIC; browsers (Chromium) do not, and say only "could not be decoded".
    const format = input instanceof Blob ? browserUnreadableFormat(new Uint8Array(await input.slice(0, 16).arrayBuffer())) : undefined;
    if (format) throw new Error(`This browser cannot decode ${format} images: convert the image to JPEG, PNG or WebP first (the server, graft serve, reads it).`);
    throw error;
  }
  if (orientation === undefined) return bitmap;
  const upright = await orientWebp(bitmap, orientation);
  if (upright !== bitmap) bitmap.close();
  return upright;
}

/** TIFF or HEIC/HEIF by their first bytes: formats Graft reads in Node that browsers do not decode. */
function browserUnreadableFormat(head: Uint8Array): string | undefined {
  const text = String.fromCharCode(...head);
  if (text.startsWith('II*\0') || text.startsWith('MM\0*')) return 'TIFF';
  if (text.slice(4, 8) === 'ftyp' && /^(heic|heix|hevc|heim|heis|mif1|msf1)$/.test(text.slice(8, 12))) return 'HEIC/HEIF';
  return undefined;
}

/** RGBA bytes of the S x S image the model sees (center-crop or stretch, as the manifest says). */
function resizeToSquare(bitmap: ImageBitmap, pre: Preprocessing): Uint8ClampedArray {
  const size = pre.inputSize;
  const ctx = canvas2d(size);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'medium';
  const { width: w, height: h } = bitmap;
  if (pre.resize === 'stretch') {
    ctx.drawImage(bitmap, 0, 0, w, h, 0, 0, size, size);
  } else if (pre.resize === 'center-crop') {
    // As the Node decoder does with sharp: scale the short side to S / cropFraction in whole pixels, crop the centre
    // as libvips does (an odd pixel goes left or up: ceil), then cut the S x S middle (floor). Drawing the centred
    // square of the original at a fractional offset instead shifted every pixel by up to half a source pixel: a
    // mean 5-9 levels of 255 from the server's input on 500 x 375 photos, 1.6-2.8 this way.
    const fraction = cropFractionOf(pre);
    const scaled = fraction === 1 ? size : Math.round(size / fraction);
    const short = Math.min(w, h);
    const [rw, rh] = [Math.round((w * scaled) / short), Math.round((h * scaled) / short)];
    const margin = Math.floor((scaled - size) / 2);
    ctx.drawImage(bitmap, 0, 0, w, h, -(Math.ceil((rw - scaled) / 2) + margin), -(Math.ceil((rh - scaled) / 2) + margin), rw, rh);
  } else {
    throw new Error(`Unknown resize mode "${String(pre.resize)}" in model.json`);
  }
  return ctx.getImageData(0, 0, size, size).data;
}

/** A 2D context on an S x S canvas: offscreen where the browser has OffscreenCanvas. */
function canvas2d(size: number): OffscreenCanvasRenderingContext2D | CanvasRenderingContext2D {
  const canvas = typeof OffscreenCanvas !== 'undefined' ? new OffscreenCanvas(size, size) : Object.assign(document.createElement('canvas'), { width: size, height: size });
  const ctx = canvas.getContext('2d', { willReadFrequently: true }) as OffscreenCanvasRenderingContext2D | CanvasRenderingContext2D | null;
  if (ctx === null) throw new Error('This browser gives no 2D canvas context');
  return ctx;
}
