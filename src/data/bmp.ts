/**
 * BMP, which sharp's libvips cannot read (its prebuilt binaries have no ImageMagick), but which scanners, microscopes
 * and the industrial cameras behind many defect datasets write. The bytes go to NetSurf's libnsbmp, built to
 * WebAssembly (@cwasm/nsbmp): every bit depth (1, 4, 8, 16, 24, 32), palettes, bit-field masks, top-down rows and
 * the OS/2 header, but not run-length compressed ones (RLE8, RLE4), which this build refuses (named as such). Its
 * RGBA pixels are handed on as RGB: like PIL's convert('RGB'), alpha is dropped keeping the stored colour, and a
 * 32-bit BMP's fourth byte is often unused padding anyway.
 */

/** DIB header sizes of the BMP versions: OS/2 1.x (12), Windows 3 (40), the bit-field extensions, OS/2 2.x (64), v4, v5. */
const DIB_HEADER_SIZES = new Set([12, 16, 40, 52, 56, 64, 108, 124]);

/** Whether the bytes start like a BMP: 'BM', then a DIB header of a size some BMP version writes. */
export function isBmp(bytes: Uint8Array): boolean {
  if (bytes.length < 26 || bytes[0] !== 0x42 || bytes[1] !== 0x4d) return false;
  return DIB_HEADER_SIZES.has(readUint32(bytes, 14));
}

/** The run-length compressions of a Windows BMP header's compression field (BI_RLE8, BI_RLE4), rare outside old software. */
const RLE_COMPRESSIONS = new Map([
  [1, 'RLE8'],
  [2, 'RLE4'],
]);

/** Width and height from a BMP's header (the first 26 bytes), before any pixel is decoded; a top-down BMP's height is stored negative. */
export function bmpSize(bytes: Uint8Array): { width: number; height: number } {
  if (readUint32(bytes, 14) === 12) return { width: bytes[18]! | (bytes[19]! << 8), height: bytes[20]! | (bytes[21]! << 8) };
  return { width: Math.abs(readInt32(bytes, 18)), height: Math.abs(readInt32(bytes, 22)) };
}

/** Decoded pixels: width x height x 3 bytes of RGB, row by row from the top. */
export interface RgbPixels {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/**
 * Decodes a BMP to RGB.
 * @param limitInputPixels largest width x height decoded, checked from the header first (as sharp's option is).
 * @throws Error 'exceeds pixel limit' over the limit, or a sentence naming what is wrong with the file.
 */
export async function decodeBmp(bytes: Uint8Array, limitInputPixels: number): Promise<RgbPixels> {
  const { width, height } = bmpSize(bytes);
  if (width === 0 || height === 0) throw new Error('BMP header gives no width or height');
  if (width * height > limitInputPixels) throw new Error('Input image exceeds pixel limit');
  // Loaded on the first BMP: compiling the decoder costs a few milliseconds that other datasets need not pay.
  const { decode } = await import('@cwasm/nsbmp');
  let rgba: { data: Uint8ClampedArray; width: number; height: number };
  try {
    rgba = decode(bytes);
  } catch {
    const compression = readUint32(bytes, 14) >= 40 && bytes.length >= 34 ? RLE_COMPRESSIONS.get(readUint32(bytes, 30)) : undefined;
    throw new Error(compression ? `${compression}-compressed BMP, which libnsbmp as built here does not read: save it uncompressed or as PNG` : 'libnsbmp cannot decode it (truncated, or a compression it does not read)');
  }
  return rgbaToRgb(rgba);
}

/** RGBA pixels (a WebAssembly decoder's ImageData) as RGB: alpha dropped, the stored colour kept. */
function rgbaToRgb(rgba: { data: Uint8ClampedArray; width: number; height: number }): RgbPixels {
  const pixels = rgba.width * rgba.height;
  const data = new Uint8Array(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    data[i * 3] = rgba.data[i * 4]!;
    data[i * 3 + 1] = rgba.data[i * 4 + 1]!;
    data[i * 3 + 2] = rgba.data[i * 4 + 2]!;
  }
  return { data, width: rgba.width, height: rgba.height };
}

function readUint32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

function readInt32(bytes: Uint8Array, at: number): number {
  return bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24);
}
