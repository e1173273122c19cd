import { isBmp } from './bmp.js';

/** Raster formats Graft decodes from bytes; SVG and anything else are refused before the decoder sees them. */
export type ImageFormat = 'jpeg' | 'png' | 'gif' | 'webp' | 'tiff' | 'avif' | 'bmp';

/** The formats in words, for messages that refuse other bytes. */
export const READABLE_FORMATS = 'JPEG, PNG, GIF, WebP, TIFF, AVIF or BMP';

/** The file extension Graft stores each format under (all in IMAGE_EXTENSIONS). */
export const EXTENSION_BY_FORMAT: Readonly<Record<ImageFormat, string>> = { jpeg: '.jpg', png: '.png', gif: '.gif', webp: '.webp', tiff: '.tif', avif: '.avif', bmp: '.bmp' };

/**
 * The format from the first bytes, or undefined when they are not one Graft decodes. The bytes decide, never the
 * file name: an SVG (which librsvg would render, following its references) named `.png` is not an image here.
 */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  const ascii = (from: number, to: number): string => String.fromCharCode(...bytes.subarray(from, to));
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes[0] === 0x89 && ascii(1, 4) === 'PNG') return 'png';
  if (ascii(0, 4) === 'GIF8') return 'gif';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  if (ascii(0, 4) === 'II*\0' || ascii(0, 4) === 'MM\0*') return 'tiff';
  if (ascii(4, 8) === 'ftyp' && /^(avif|avis|heic|heix|mif1|msf1)$/.test(ascii(8, 12))) return 'avif';
  if (isBmp(bytes)) return 'bmp';
  return undefined;
}
