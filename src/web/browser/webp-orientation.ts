/**
 * EXIF orientation of WebP files in the browser. Chromium (150) applies the orientation tag of JPEG and PNG files in
 * createImageBitmap('from-image') but not of WebP, so a phone's WebP stored sideways was classified sideways in the
 * page while the server (sharp's autoOrient) turned it upright. Here the tag is read from the file's EXIF chunk and
 * applied on a canvas, unless the browser turns WebP files itself (asked once, with a 2 x 1 WebP tagged 6).
 */

/** A 2 x 1 lossless WebP whose EXIF says "turn 90 degrees clockwise" (orientation 6): 1 x 2 where the tag is applied. */
const PROBE =
  'UklGRlIAAABXRUJQVlA4WAoAAAAIAAAAAQAAAAAAVlA4TBEAAAAvAQAAAA8Q87//8x8OMqL/AQBFWElGGgAAAElJKgAIAAAAAQASAQMAAQAAAAYAAAAAAAAA';

let appliesOwnOrientation: Promise<boolean> | undefined;

/** Whether this browser applies a WebP file's EXIF orientation itself (asked once per page). */
function browserTurnsWebp(): Promise<boolean> {
  appliesOwnOrientation ??= (async () => {
    const bytes = Uint8Array.from(atob(PROBE), (c) => c.charCodeAt(0));
    const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/webp' }), { imageOrientation: 'from-image' });
    const turned = bitmap.width === 1 && bitmap.height === 2;
    bitmap.close();
    return turned;
  })().catch(() => true); // cannot tell: leave the image as the browser decodes it
  return appliesOwnOrientation;
}

/**
 * `bitmap` (decoded from a WebP file with EXIF `orientation`) turned upright, as sharp's autoOrient turns it; the
 * bitmap itself when the browser already did. The caller closes both.
 */
export async function orientWebp(bitmap: ImageBitmap, orientation: number): Promise<ImageBitmap> {
  if (await browserTurnsWebp()) return bitmap;
  const { width: w, height: h } = bitmap;
  const swaps = orientation >= 5;
  const canvas = new OffscreenCanvas(swaps ? h : w, swaps ? w : h);
  const ctx = canvas.getContext('2d');
  if (ctx === null) throw new Error('This browser gives no 2D canvas context');
  ctx.imageSmoothingEnabled = false; // whole-pixel turns and flips: every pixel is copied, none is blended
  // The EXIF transforms (TIFF 6.0, tag 274) as canvas matrices on the turned canvas.
  const matrices: Record<number, [number, number, number, number, number, number]> = {
    2: [-1, 0, 0, 1, w, 0],
    3: [-1, 0, 0, -1, w, h],
    4: [1, 0, 0, -1, 0, h],
    5: [0, 1, 1, 0, 0, 0],
    6: [0, 1, -1, 0, h, 0],
    7: [0, -1, -1, 0, h, w],
    8: [0, -1, 1, 0, 0, w],
  };
  ctx.setTransform(...matrices[orientation]!);
  ctx.drawImage(bitmap, 0, 0);
  return createImageBitmap(canvas, { premultiplyAlpha: 'none' });
}
