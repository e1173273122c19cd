import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { webpOrientation } from '../../src/web/browser/webp-exif.js';

const pixels = { raw: { width: 3, height: 2, channels: 3 as const } };
const image = (): ReturnType<typeof sharp> => sharp(Buffer.alloc(18, 128), pixels);

describe('webpOrientation (the page reads what Chromium ignores)', () => {
  it('reads every EXIF orientation of a WebP file, and nothing from other files or untagged ones', async () => {
    for (let orientation = 1; orientation <= 8; orientation++) {
      const webp = await image().webp({ lossless: true }).withMetadata({ orientation }).toBuffer();
      expect(webpOrientation(new Uint8Array(webp)), `orientation ${orientation}`).toBe(orientation === 1 ? undefined : orientation);
    }
    expect(webpOrientation(new Uint8Array(await image().webp().toBuffer()))).toBeUndefined();
    expect(webpOrientation(new Uint8Array(await image().jpeg().withMetadata({ orientation: 6 }).toBuffer()))).toBeUndefined();
    expect(webpOrientation(new Uint8Array(0))).toBeUndefined();
  });

  it('reads big-endian TIFF and an EXIF chunk without the "Exif" prefix, and stops at a truncated chunk', () => {
    const tiff = [0x4d, 0x4d, 0x00, 0x2a, 0, 0, 0, 8, 0x00, 0x01, 0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1, 0x00, 0x08, 0, 0, 0, 0, 0, 0];
    const chunk = (id: string, data: number[]): number[] => [...Buffer.from(id), ...new Uint8Array(new Uint32Array([data.length]).buffer), ...data];
    const body = [...Buffer.from('WEBP'), ...chunk('VP8L', [0x2f, 0, 0, 0, 0]), 0, ...chunk('EXIF', tiff)];
    const file = new Uint8Array([...Buffer.from('RIFF'), ...new Uint8Array(new Uint32Array([body.length]).buffer), ...body]);
    expect(webpOrientation(file)).toBe(8);
    expect(webpOrientation(file.subarray(0, file.length - 10))).toBeUndefined();
  });
});
