import { readFile } from 'node:fs/promises';
import { openImage } from '../data/open-image.js';
import { READABLE_FORMATS, sniffImageFormat } from '../data/sniff-image-format.js';

/**
 * A small square JPEG of an image, oriented by EXIF and centre-cropped. It decodes the file's bytes, as training
 * does, and only raster formats: an SVG (even one named .png) is refused, since rendering it from a path would
 * let it pull in other files of its folder.
 *
 * @throws Error when the bytes are not a raster image or cannot be decoded.
 */
export async function thumbnailJpeg(bytes: Buffer, sizePx: number, quality = 72): Promise<Buffer> {
  const format = sniffImageFormat(bytes);
  if (!format) throw new Error(`not a raster image (${READABLE_FORMATS})`);
  return (await openImage(bytes, { failOn: 'error', limitInputPixels: 100_000_000, autoOrient: true }))
    .resize(sizePx, sizePx, { fit: 'cover', position: 'centre' })
    .flatten({ background: '#ffffff' })
    .jpeg({ quality, mozjpeg: true })
    .toBuffer();
}

/**
 * {@link thumbnailJpeg} of a file as a `data:` URI, for embedding in a self-contained page. Resolves to undefined
 * when the file cannot be read: a report still renders when an image was moved or deleted since evaluation.
 *
 * @param sizePx side of the square thumbnail. Defaults to 128 (about 3-5 kB per image).
 */
export async function thumbnailDataUri(file: string, sizePx = 128): Promise<string | undefined> {
  try {
    const jpeg = await thumbnailJpeg(await readFile(file), sizePx);
    return `data:image/jpeg;base64,${jpeg.toString('base64')}`;
  } catch {
    return undefined;
  }
}
