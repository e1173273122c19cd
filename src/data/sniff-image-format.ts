import { isBmp } from './bmp.js';

/** Raster formats Graft decodes from bytes; SVG and anything else are refused before the decoder sees them. */
export type ImageFormat = 'jpeg' | 'png' | 'gif' | 'webp' | 'tiff' | 'avif' | 'heic' | 'bmp';

/** The formats in words, for messages that refuse other bytes. */
export const READABLE_FORMATS = 'JPEG, PNG, GIF, WebP, TIFF, AVIF, HEIC or BMP';

/** The file extension Graft stores each format under (all in IMAGE_EXTENSIONS). */
export const EXTENSION_BY_FORMAT: Readonly<Record<ImageFormat, string>> = { jpeg: '.jpg', png: '.png', gif: '.gif', webp: '.webp', tiff: '.tif', avif: '.avif', heic: '.heic', bmp: '.bmp' };

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
  if (ascii(4, 8) === 'ftyp') return heifKind(bytes, ascii);
  if (isBmp(bytes)) return 'bmp';
  return undefined;
}

/**
 * An ISO-BMFF image: AVIF (AV1, which libvips reads) or HEIC (HEVC, what iPhones save, which it does not). The
 * major brand says which, or for the generic 'mif1' / 'msf1' the compatible brands that follow it in the ftyp box.
 */
function heifKind(bytes: Uint8Array, ascii: (from: number, to: number) => string): ImageFormat | undefined {
  const kindOf = (brand: string): ImageFormat | undefined => (/^(avif|avis)$/.test(brand) ? 'avif' : /^(heic|heix|hevc|hevx)$/.test(brand) ? 'heic' : undefined);
  const major = ascii(8, 12);
  if (!/^(mif1|msf1)$/.test(major)) return kindOf(major);
  const boxEnd = Math.min(bytes.length, (bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!);
  for (let at = 16; at + 4 <= boxEnd; at += 4) {
    const kind = kindOf(ascii(at, at + 4));
    if (kind) return kind;
  }
  return 'avif';
}
