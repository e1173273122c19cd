import { createHash } from 'node:crypto';
import { GraftError } from './errors.js';
import { optionExample, optionName } from './option-name.js';
import { cropFractionOf } from './pixel-tensor.js';

// The arithmetic Node and the browser share lives in pixel-tensor.ts (no Node API there); re-exported here as before.
export { channelAffine, cropFractionOf } from './pixel-tensor.js';
export { LAYOUTS, SCALES, type Interpolation, type Layout, type Preprocessing, type ResizeMode, type Scale } from './preprocessing-spec.js';
import { LAYOUTS, SCALES, type Interpolation, type Layout, type Preprocessing, type ResizeMode, type Scale } from './preprocessing-spec.js';


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
    throw new GraftError('INVALID_CONFIG', `${optionName('overrides.cropFraction')} must be in (0.25, 1]. Received: ${cropFraction}`, { hint: `e.g. ${optionExample('overrides.cropFraction', 0.875)} (ImageNet evaluation), or 1 to keep the whole short side` });
  }
  if (!Number.isInteger(inputSize) || inputSize < 16 || inputSize > 2048) {
    throw new GraftError('INVALID_CONFIG', `${optionName('overrides.inputSize')} must be an integer between 16 and 2048. Received: ${inputSize}`, {
      hint: `pass the side length the model was trained on, e.g. ${optionExample('overrides.inputSize', 224)}`,
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

/** Stable short hash of a preprocessing: part of every feature-cache key. */
export function preprocessingHash(pre: Preprocessing): string {
  const fraction = cropFractionOf(pre);
  // A crop fraction of 1 leaves the hash as it was before the field existed, so cached features stay valid.
  const canonical = JSON.stringify([pre.inputSize, pre.resize, pre.interpolation, pre.scale, pre.mean, pre.std, pre.layout, pre.channels, ...(fraction === 1 ? [] : [fraction])]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}
