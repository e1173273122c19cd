import sharp from 'sharp';

/**
 * A small square JPEG of an image file as a `data:` URI, for embedding in a self-contained page.
 * Oriented by EXIF, centre-cropped. Resolves to undefined when the file cannot be read: a report
 * still renders when an image was moved or deleted since evaluation.
 *
 * @param sizePx side of the square thumbnail. Defaults to 128 (about 3-5 kB per image).
 */
export async function thumbnailDataUri(file: string, sizePx = 128): Promise<string | undefined> {
  try {
    const jpeg = await sharp(file, { failOn: 'error', limitInputPixels: 100_000_000, autoOrient: true })
      .resize(sizePx, sizePx, { fit: 'cover', position: 'centre' })
      .flatten({ background: '#ffffff' })
      .jpeg({ quality: 72, mozjpeg: true })
      .toBuffer();
    return `data:image/jpeg;base64,${jpeg.toString('base64')}`;
  } catch {
    return undefined;
  }
}
