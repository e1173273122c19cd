/** Whether a file's first 12 bytes are a WebP file's ('RIFF', a size, 'WEBP'). */
export function isWebp(head: Uint8Array): boolean {
  return head.length >= 12 && String.fromCharCode(...head.subarray(0, 4)) === 'RIFF' && String.fromCharCode(...head.subarray(8, 12)) === 'WEBP';
}

/**
 * The EXIF orientation (2-8) of a WebP file, or undefined for another format, no EXIF chunk, no tag, or orientation 1.
 * WebP is RIFF: 'RIFF' size 'WEBP', then chunks (four-letter id, 32-bit little-endian size, data padded to even);
 * the 'EXIF' chunk holds a TIFF header (some writers put "Exif\0\0" before it), whose first IFD may hold tag 0x0112.
 */
export function webpOrientation(bytes: Uint8Array): number | undefined {
  const text = (at: number, length: number): string => String.fromCharCode(...bytes.subarray(at, at + length));
  if (bytes.length < 20 || !isWebp(bytes)) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 12; at + 8 <= bytes.length; ) {
    const size = view.getUint32(at + 4, true);
    if (text(at, 4) === 'EXIF') return tiffOrientation(view, at + 8, Math.min(size, bytes.length - at - 8));
    at += 8 + size + (size & 1);
  }
  return undefined;
}

function tiffOrientation(view: DataView, start: number, length: number): number | undefined {
  let tiff = start;
  if (length >= 6 && view.getUint32(tiff) === 0x45786966 && view.getUint16(tiff + 4) === 0) tiff += 6; // "Exif\0\0"
  const end = start + length;
  if (tiff + 8 > end) return undefined;
  const order = view.getUint16(tiff);
  if (order !== 0x4949 && order !== 0x4d4d) return undefined;
  const little = order === 0x4949;
  if (view.getUint16(tiff + 2, little) !== 42) return undefined;
  const ifd = tiff + view.getUint32(tiff + 4, little);
  if (ifd + 2 > end) return undefined;
  const count = view.getUint16(ifd, little);
  for (let i = 0; i < count && ifd + 2 + (i + 1) * 12 <= end; i++) {
    const entry = ifd + 2 + i * 12;
    if (view.getUint16(entry, little) !== 0x0112) continue;
    const value = view.getUint16(entry + 8, little); // SHORT, count 1: in the first two bytes of the value field
    return value >= 2 && value <= 8 ? value : undefined;
  }
  return undefined;
}
