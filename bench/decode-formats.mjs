// Decoding one photo stored in each format Graft reads, to the model's 224 x 224 input (decodeImageBytes: decode,
// resize, scale): what a BMP costs next to the formats libvips reads itself. BMP goes through libnsbmp
// (WebAssembly) and is handed to sharp as raw pixels; sharp cannot write BMP, so this file writes the 24-bit one.
// sharp cannot write HEIC (HEVC) either: pass one (an iPhone photo, or `convert photo.jpg x.heic`) with --heic.
// Usage: npm run build && node bench/decode-formats.mjs [image] [--runs 20] [--heic photo.heic]
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { decodeImageBytes } from '../dist/data/decode-image.js';
import { makePreprocessing } from '../dist/core/preprocessing.js';
import { shared } from './reference.mjs';

const args = process.argv.slice(2);
const runs = Number(args.includes('--runs') ? args[args.indexOf('--runs') + 1] : 20);
const flowers = join(shared, 'datasets/flowers12/train');
const source = args[0] && !args[0].startsWith('--') ? args[0] : join(flowers, readdirSync(flowers)[0], readdirSync(join(flowers, readdirSync(flowers)[0]))[0]);
const { data, info } = await sharp(readFileSync(source)).resize(1024, 768, { fit: 'fill' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });

/** A bottom-up 24-bit BMP (BITMAPINFOHEADER, BI_RGB) of interleaved RGB pixels. */
function bmp24(rgb, width, height) {
  const stride = Math.ceil((width * 3) / 4) * 4;
  const out = Buffer.alloc(54 + stride * height);
  out.write('BM', 0, 'latin1');
  out.writeUInt32LE(out.length, 2);
  out.writeUInt32LE(54, 10);
  out.writeUInt32LE(40, 14);
  out.writeInt32LE(width, 18);
  out.writeInt32LE(height, 22);
  out.writeUInt16LE(1, 26);
  out.writeUInt16LE(24, 28);
  out.writeUInt32LE(stride * height, 34);
  for (let y = 0; y < height; y++) {
    const row = 54 + (height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const from = (y * width + x) * 3;
      out[row + x * 3] = rgb[from + 2];
      out[row + x * 3 + 1] = rgb[from + 1];
      out[row + x * 3 + 2] = rgb[from];
    }
  }
  return out;
}

const raw = { raw: { width: info.width, height: info.height, channels: 3 } };
const files = {
  'JPEG (q 90)': await sharp(data, raw).jpeg({ quality: 90 }).toBuffer(),
  PNG: await sharp(data, raw).png().toBuffer(),
  'WebP (lossless)': await sharp(data, raw).webp({ lossless: true }).toBuffer(),
  'BMP (24-bit)': bmp24(data, info.width, info.height),
};
const heic = args.includes('--heic') ? args[args.indexOf('--heic') + 1] : undefined;
const pre = makePreprocessing({ inputSize: 224, scale: 'imagenet', layout: 'nchw' });
const reference = await decodeImageBytes(files.PNG, pre);
for (const [format, bytes] of Object.entries(files)) {
  const first = await decodeImageBytes(bytes, pre);
  const started = performance.now();
  for (let i = 0; i < runs; i++) await decodeImageBytes(bytes, pre);
  const ms = (performance.now() - started) / runs;
  let largest = 0;
  for (let i = 0; i < first.length; i++) largest = Math.max(largest, Math.abs(first[i] - reference[i]));
  console.log(JSON.stringify({ format, kB: Math.round(bytes.length / 1024), msPerImage: Number(ms.toFixed(1)), largestDifferenceFromPng: Number(largest.toFixed(4)) }));
}
if (heic) {
  const bytes = readFileSync(heic);
  let started = performance.now();
  await decodeImageBytes(bytes, pre);
  const firstMs = performance.now() - started;
  // How long the main thread goes without running a timer while images decode (the decoder has a worker thread).
  let longestGap = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    longestGap = Math.max(longestGap, now - last);
    last = now;
  }, 5);
  started = performance.now();
  for (let i = 0; i < 3; i++) await decodeImageBytes(bytes, pre);
  const msPerImage = Math.round((performance.now() - started) / 3);
  clearInterval(timer);
  const { width, height } = await sharp(bytes).metadata();
  console.log(JSON.stringify({ format: 'HEIC', file: heic, width, height, kB: Math.round(bytes.length / 1024), firstMs: Math.round(firstMs), msPerImage, longestMainThreadGapMs: Math.round(longestGap) }));
}
