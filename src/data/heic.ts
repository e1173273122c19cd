import { rgbaToRgb, type RgbPixels } from './bmp.js';

/**
 * HEIC, the format iPhones save photos in. libvips reads the HEIF container but its prebuilt binaries carry no HEVC
 * decoder (a patent matter), so the bytes go to libheif with libde265, built to WebAssembly (heic-decode). It applies
 * the file's rotation and mirroring, so the pixels come out upright, as a phone shows them; alpha is dropped keeping
 * the stored colour (PIL's convert('RGB')).
 *
 * @param size width and height from the container (sharp's metadata reads it), checked against the limit first.
 * @throws Error 'exceeds pixel limit' over the limit, or a sentence naming what is wrong with the file.
 */
export async function decodeHeic(bytes: Uint8Array, size: { width: number; height: number }, limitInputPixels: number): Promise<RgbPixels> {
  if (size.width * size.height > limitInputPixels) throw new Error('Input image exceeds pixel limit');
  // Loaded on the first HEIC: the decoder is ~8 MB of WebAssembly that other datasets need not compile.
  const { default: decode } = await import('heic-decode');
  let rgba: { width: number; height: number; data: Uint8ClampedArray };
  try {
    rgba = await decode({ buffer: bytes });
  } catch (error) {
    throw new Error(`libheif cannot decode it (${error instanceof Error ? error.message : String(error)})`);
  }
  return rgbaToRgb(rgba);
}
