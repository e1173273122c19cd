import { createHash } from 'node:crypto';
import { GraftError } from './errors.js';

/**
 * How pixel values are scaled before the model sees them.
 * - `imagenet`: x/255, then per-channel (x - mean) / std with the ImageNet statistics (torchvision models).
 * - `-1..1`: x/127.5 - 1 (Keras MobileNet/EfficientNet-lite, Teachable Machine, TF Hub image models in TF2).
 * - `0..1`: x/255 (TF Hub TF1 modules, nsfwjs).
 */
export type Scale = 'imagenet' | '-1..1' | '0..1';
export const SCALES: readonly Scale[] = ['imagenet', '-1..1', '0..1'];

/** Tensor layout the model's input expects. */
export type Layout = 'nchw' | 'nhwc';
export const LAYOUTS: readonly Layout[] = ['nchw', 'nhwc'];

/**
 * How an image of any shape becomes `size` x `size`.
 * - `center-crop`: scale the short side to `size`, crop the centre (Keras/TM/torchvision eval style).
 * - `stretch`: resize both sides to `size`, ignoring aspect ratio (nsfwjs, tfjs-models).
 */
export type ResizeMode = 'center-crop' | 'stretch';

/**
 * Resampling filter for the resize. `bilinear` (antialiased, as PIL's BILINEAR that torchvision uses, and close
 * to Keras/TF's bilinear) is the default: it is what most backbones were trained with and decodes ~20% faster
 * here than sharp's default lanczos3 (bench/RESULTS.md).
 */
export type Interpolation = 'bilinear' | 'lanczos3';

/** Everything needed to turn an image file into the tensor a model expects. Stored in every manifest. */
export interface Preprocessing {
  /** Square input side in pixels, e.g. 224. */
  readonly inputSize: number;
  readonly resize: ResizeMode;
  readonly interpolation: Interpolation;
  readonly scale: Scale;
  /** Per-channel mean and std applied after scaling to [0,1] (only for `imagenet`; recorded for readers). */
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
  readonly layout: Layout;
  /** Channel order; every model Graft knows is RGB. */
  readonly channels: 'rgb';
  /**
   * With `center-crop`: the share of the short side the centre crop keeps. 0.875 is ImageNet's evaluation protocol
   * (resize to 256, crop 224) that most backbones were evaluated with: objects then appear at the scale the network
   * saw in training, and its features are better (bench/RESULTS.md, "Heads"). Absent means 1 (scale the short side
   * to `inputSize`, crop only the long side), as manifests written before it existed.
   */
  readonly cropFraction?: number;
}

const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/** Builds a full `Preprocessing` from the three choices a user makes. */
export function makePreprocessing(options: {
  inputSize: number;
  scale: Scale;
  layout: Layout;
  resize?: ResizeMode;
  interpolation?: Interpolation;
  cropFraction?: number;
}): Preprocessing {
  const { inputSize, scale, layout } = options;
  const cropFraction = options.cropFraction ?? 1;
  if (!(cropFraction > 0.25 && cropFraction <= 1)) {
    throw new GraftError('INVALID_CONFIG', `Crop fraction must be in (0.25, 1]. Received: ${cropFraction}`, { hint: 'e.g. --crop-fraction 0.875 (ImageNet evaluation), or 1 to keep the whole short side' });
  }
  if (!Number.isInteger(inputSize) || inputSize < 16 || inputSize > 2048) {
    throw new GraftError('INVALID_CONFIG', `Input size must be an integer between 16 and 2048. Received: ${inputSize}`, {
      hint: 'pass --input-size with the side length the model was trained on, e.g. 224',
    });
  }
  if (!SCALES.includes(scale)) {
    throw new GraftError('INVALID_CONFIG', `Unknown scale "${String(scale)}". Must be one of: ${SCALES.join(', ')}`);
  }
  if (!LAYOUTS.includes(layout)) {
    throw new GraftError('INVALID_CONFIG', `Unknown layout "${String(layout)}". Must be one of: ${LAYOUTS.join(', ')}`);
  }
  const isImagenet = scale === 'imagenet';
  return {
    inputSize,
    resize: options.resize ?? 'center-crop',
    interpolation: options.interpolation ?? 'bilinear',
    scale,
    mean: isImagenet ? IMAGENET_MEAN : [0, 0, 0],
    std: isImagenet ? IMAGENET_STD : [1, 1, 1],
    layout,
    channels: 'rgb',
    ...(cropFraction !== 1 && (options.resize ?? 'center-crop') === 'center-crop' ? { cropFraction } : {}),
  };
}

/** The crop fraction in effect (1 when the manifest predates it or the resize is a stretch). */
export function cropFractionOf(pre: Preprocessing): number {
  return pre.resize === 'center-crop' ? (pre.cropFraction ?? 1) : 1;
}

/**
 * Per-channel affine map from a byte value v (0..255) to the model's input: v * mul[c] + add[c].
 * Folding scale, mean and std into one multiply-add keeps the decode loop to one pass.
 */
export function channelAffine(pre: Preprocessing): { mul: [number, number, number]; add: [number, number, number] } {
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
  }
}

/** Stable short hash of a preprocessing: part of every feature-cache key. */
export function preprocessingHash(pre: Preprocessing): string {
  const fraction = cropFractionOf(pre);
  // A crop fraction of 1 leaves the hash as it was before the field existed, so cached features stay valid.
  const canonical = JSON.stringify([pre.inputSize, pre.resize, pre.interpolation, pre.scale, pre.mean, pre.std, pre.layout, pre.channels, ...(fraction === 1 ? [] : [fraction])]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}
