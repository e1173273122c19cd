import type { Preprocessing } from './preprocessing-spec.js';

/*
 * The preprocessing arithmetic that Node and the browser share: the Node decoder (src/data/decode-image.ts,
 * after sharp's resize) and a web export's classify.js (src/web/browser, after a canvas's resize) both turn
 * bytes into the model's input with these functions. Nothing here may use a Node or DOM API: Vite bundles this
 * very file into classify.js (scripts/bundle-web-classify.mjs), so the page cannot drift from the server.
 */

/**
 * Per-channel affine map from a byte value v (0..255) to the model's input: v * mul[c] + add[c].
 * Folding scale, mean and std into one multiply-add keeps the decode loop to one pass.
 * @throws RangeError for a scale that is not one of SCALES (a model.json read in the browser is not validated).
 */
export function channelAffine(pre: Pick<Preprocessing, 'scale' | 'mean' | 'std'>): { mul: [number, number, number]; add: [number, number, number] } {
  switch (pre.scale) {
    case 'imagenet':
      return {
        mul: [0, 1, 2].map((c) => 1 / (255 * pre.std[c]!)) as [number, number, number],
        add: [0, 1, 2].map((c) => -pre.mean[c]! / pre.std[c]!) as [number, number, number],
      };
    case '-1..1':
      return { mul: [1 / 127.5, 1 / 127.5, 1 / 127.5], add: [-1, -1, -1] };
    case '0..1':
      return { mul: [1 / 255, 1 / 255, 1 / 255], add: [0, 0, 0] };
    default:
      throw new RangeError(`Unknown preprocessing scale. Received: ${JSON.stringify(pre.scale)}; expected imagenet, -1..1 or 0..1`);
  }
}

/** The crop fraction in effect (1 when the manifest predates it or the resize is a stretch). */
export function cropFractionOf(pre: Pick<Preprocessing, 'resize' | 'cropFraction'>): number {
  return pre.resize === 'center-crop' ? (pre.cropFraction ?? 1) : 1;
}

/**
 * Interleaved 8-bit pixels of the S x S image the model sees (RGB from sharp, 3 bytes per pixel; RGBA from a
 * canvas, 4, alpha ignored) to the model's input in one pass: layout (NCHW or NHWC) and per-channel scaling as
 * the preprocessing says ({@link channelAffine}).
 * @param out optional destination (e.g. a slice of a batch tensor) of length 3 x S x S.
 * @throws RangeError when `pixels` does not hold S x S pixels, or the layout is unknown.
 */
export function pixelsToTensor(
  pixels: Uint8Array | Uint8ClampedArray,
  bytesPerPixel: 3 | 4,
  pre: Pick<Preprocessing, 'inputSize' | 'layout' | 'scale' | 'mean' | 'std'>,
  out?: Float32Array,
): Float32Array {
  const count = pre.inputSize * pre.inputSize;
  if (pixels.length !== count * bytesPerPixel) {
    throw new RangeError(`The image must hold ${count * bytesPerPixel} bytes (${pre.inputSize} x ${pre.inputSize} x ${bytesPerPixel}). Received: ${pixels.length}`);
  }
  if (pre.layout !== 'nchw' && pre.layout !== 'nhwc') {
    throw new RangeError(`Unknown layout. Received: ${JSON.stringify(pre.layout)}; expected nchw or nhwc`);
  }
  const result = out ?? new Float32Array(count * 3);
  const { mul, add } = channelAffine(pre);
  const [m0, m1, m2] = mul;
  const [a0, a1, a2] = add;
  if (pre.layout === 'nchw') {
    for (let p = 0, i = 0; p < count; p++, i += bytesPerPixel) {
      result[p] = pixels[i]! * m0 + a0;
      result[count + p] = pixels[i + 1]! * m1 + a1;
      result[2 * count + p] = pixels[i + 2]! * m2 + a2;
    }
  } else {
    for (let o = 0, i = 0; o < count * 3; o += 3, i += bytesPerPixel) {
      result[o] = pixels[i]! * m0 + a0;
      result[o + 1] = pixels[i + 1]! * m1 + a1;
      result[o + 2] = pixels[i + 2]! * m2 + a2;
    }
  }
  return result;
}
