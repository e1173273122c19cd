/*
 * What preprocessing a model expects, as data: the types and constants that Node and the browser share (no Node
 * or DOM API here; pixel-tensor.ts and the web bundle read them). Functions over them are in preprocessing.ts.
 */
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
