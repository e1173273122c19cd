import { createHash } from 'node:crypto';
import type { OutputInfo, Sharp, SharpOptions } from 'sharp';
import { loadSharp } from './load-sharp.js';
import { decodeOutsideLibvips, libvipsPipeline, rawInput } from './open-image.js';
import { GraftError } from '../core/errors.js';
import type { Preprocessing } from '../core/preprocessing.js';
import { decodeImageBytes, DEFAULT_LIMIT_INPUT_PIXELS, rgbToTensor, UnreadableImageError, type DecodeOptions } from './decode-image.js';
import { deriveSeed, mulberry32 } from '../core/random.js';

/**
 * Training-time augmentation: what a random view of an image may be. A plain, JSON-serialisable config (it is
 * part of the feature-cache key through {@link augmentHash}); the defaults are {@link DEFAULT_AUGMENT}.
 */
export interface AugmentConfig {
  /** Range of the crop's area as a fraction of the image area (torchvision RandomResizedCrop `scale`). */
  readonly cropScale: readonly [number, number];
  /** Range of the crop's aspect ratio, width / height, sampled log-uniformly (RandomResizedCrop `ratio`). */
  readonly cropRatio: readonly [number, number];
  /** Mirror left-right with probability 1/2. */
  readonly flip: boolean;
  /** Largest rotation in degrees; the angle is uniform in [-rotateDegrees, rotateDegrees]. */
  readonly rotateDegrees: number;
  /** Each factor is uniform in [1 - x, 1 + x] (torchvision ColorJitter). 0 leaves that property alone. */
  readonly brightness: number;
  readonly contrast: number;
  readonly saturation: number;
}

/**
 * fastai's `aug_transforms` defaults where they apply (min_scale 0.35, flip, max_rotate 10, max_lighting 0.2) with
 * torchvision's RandomResizedCrop aspect ratios; saturation jitter 0.2 as in the usual ColorJitter recipes.
 */
export const DEFAULT_AUGMENT: AugmentConfig = Object.freeze({
  cropScale: [0.35, 1] as const,
  cropRatio: [3 / 4, 4 / 3] as const,
  flip: true,
  rotateDegrees: 10,
  brightness: 0.2,
  contrast: 0.2,
  saturation: 0.2,
});

const AUGMENT_KEYS = Object.keys(DEFAULT_AUGMENT) as (keyof AugmentConfig)[];

/**
 * Names the pixel algorithm of {@link decodeView}. It is part of {@link augmentHash}, so bump it whenever the same
 * params would give other pixels: cached views made by the old code then miss instead of being reused.
 */
const AUGMENT_SCHEME = 'graft-augment-v1';

/** One view's resolved random choices: applying the same params to the same bytes gives the same pixels. */
export interface ViewParams {
  /** Crop area as a fraction of the image area, in (0, 1]. */
  readonly cropScale: number;
  /** Crop aspect ratio (width / height in source pixels), > 0. */
  readonly cropRatio: number;
  /** Where the crop sits in the room left for it: 0 = left (top) edge, 1 = right (bottom) edge, 0.5 = centred. */
  readonly cropX: number;
  readonly cropY: number;
  readonly flip: boolean;
  /** Clockwise degrees, in [-45, 45]. */
  readonly rotateDegrees: number;
  /** Multipliers; 1 leaves the image as it is. */
  readonly brightness: number;
  readonly contrast: number;
  readonly saturation: number;
}

/** The params that change nothing but crop the whole image (stretched to the input size). */
export const IDENTITY_VIEW: ViewParams = Object.freeze({
  cropScale: 1,
  cropRatio: 1,
  cropX: 0.5,
  cropY: 0.5,
  flip: false,
  rotateDegrees: 0,
  brightness: 1,
  contrast: 1,
  saturation: 1,
});

/**
 * Checks an augmentation config: every key known, every range sensible.
 * @throws GraftError `INVALID_CONFIG` naming the key and the value received; unknown keys are listed with the known ones.
 */
export function checkAugmentConfig(config: AugmentConfig): void {
  const invalid = (message: string): GraftError =>
    new GraftError('INVALID_CONFIG', `Invalid augmentation: ${message}`, { hint: `omit it to use the defaults: ${JSON.stringify(DEFAULT_AUGMENT)}` });
  const unknown = Object.keys(config).filter((key) => !AUGMENT_KEYS.includes(key as keyof AugmentConfig));
  if (unknown.length > 0) throw invalid(`unknown key(s) ${unknown.join(', ')}. Known keys: ${AUGMENT_KEYS.join(', ')}`);
  const range = (name: string, value: unknown, lo: number, hi: number, isLoOpen: boolean): void => {
    const pair = value as readonly number[];
    const isValid =
      Array.isArray(pair) &&
      pair.length === 2 &&
      pair.every((x) => typeof x === 'number' && Number.isFinite(x) && (isLoOpen ? x > lo : x >= lo) && x <= hi) &&
      pair[0]! <= pair[1]!;
    if (!isValid) throw invalid(`${name} must be [min, max] with ${lo} ${isLoOpen ? '<' : '<='} min <= max <= ${hi}. Received: ${JSON.stringify(value)}`);
  };
  range('cropScale', config.cropScale, 0, 1, true);
  range('cropRatio', config.cropRatio, 0, 100, true);
  if (typeof config.flip !== 'boolean') throw invalid(`flip must be true or false. Received: ${JSON.stringify(config.flip)}`);
  const bounded = (name: keyof AugmentConfig, hi: number, isHiOpen: boolean): void => {
    const value = config[name] as unknown;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (isHiOpen ? value >= hi : value > hi)) {
      throw invalid(`${name} must be a number with 0 <= ${name} ${isHiOpen ? '<' : '<='} ${hi}. Received: ${JSON.stringify(value)}`);
    }
  };
  bounded('rotateDegrees', 45, false);
  bounded('brightness', 1, true);
  bounded('contrast', 1, true);
  bounded('saturation', 1, true);
}

/**
 * A short, stable hex hash of an augmentation config (and of the pixel algorithm's version): part of the cache key
 * of augmented views, so another config never reuses cached views.
 */
export function augmentHash(config: AugmentConfig): string {
  checkAugmentConfig(config);
  const canonical = JSON.stringify([AUGMENT_SCHEME, ...AUGMENT_KEYS.map((key) => config[key])]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 12);
}

/**
 * The random choices for view `view` of one image: deterministic in (image content, view, seed, config), so views
 * can be recomputed and cached, and independent per image (adding images changes no other image's views).
 *
 * @param view 0 is the plain image (returns undefined: decode it with {@link decodeImageBytes}); 1..K are augmented.
 * @throws RangeError when view is not an integer >= 0. GraftError `INVALID_CONFIG` for a bad config.
 * @example
 * const params = viewParams(sha256, 1, 42, DEFAULT_AUGMENT);
 * const x = await decodeView(bytes, pre, params);
 */
export function viewParams(imageSha256: string, view: number, seed: number, config: AugmentConfig = DEFAULT_AUGMENT): ViewParams | undefined {
  if (!Number.isSafeInteger(view) || view < 0) throw new RangeError(`view must be an integer >= 0 (0 = the plain image). Received: ${view}`);
  checkAugmentConfig(config);
  if (view === 0) return undefined;
  const random = mulberry32(deriveSeed(seed, `${imageSha256.toLowerCase()}:${view}`));
  // Always the same number of draws in the same order, so changing one setting changes only that property.
  const draws = Array.from({ length: 9 }, () => random());
  const uniform = (u: number, lo: number, hi: number): number => lo + (hi - lo) * u;
  const [logLo, logHi] = [Math.log(config.cropRatio[0]), Math.log(config.cropRatio[1])];
  return {
    cropScale: uniform(draws[0]!, config.cropScale[0], config.cropScale[1]),
    cropRatio: Math.exp(uniform(draws[1]!, logLo, logHi)),
    cropX: draws[2]!,
    cropY: draws[3]!,
    flip: config.flip && draws[4]! < 0.5,
    rotateDegrees: uniform(draws[5]!, -config.rotateDegrees, config.rotateDegrees),
    brightness: uniform(draws[6]!, 1 - config.brightness, 1 + config.brightness),
    contrast: uniform(draws[7]!, 1 - config.contrast, 1 + config.contrast),
    saturation: uniform(draws[8]!, 1 - config.saturation, 1 + config.saturation),
  };
}

/** Pixels kept between the crop and the rotated image's edge: covers libvips' rounding of the rotated canvas (<= 1 px). */
const ROTATE_MARGIN_PX = 2;
/** Any fill colour works: the crop never reaches it (see {@link decodeView}). Mid-grey is the least harmful if it ever did. */
const ROTATE_BACKGROUND = { r: 128, g: 128, b: 128 };

/**
 * Decodes one view of an image into the model's input tensor (same layout and scaling as {@link decodeImageBytes}).
 *
 * With `params` undefined (view 0) this *is* `decodeImageBytes`: the plain view is bit-identical to what evaluation
 * and prediction see. Otherwise (EXIF orientation applied, first frame only, alpha dropped keeping the stored RGB as
 * `decodeToRgb` does):
 * 1. random resized crop: a crop of `cropScale` of the image area with aspect ratio `cropRatio` is resized to S x S
 *    (S = `pre.inputSize`), whatever `pre.resize` says, as torchvision's RandomResizedCrop does. The whole image is
 *    resized so that the crop becomes S x S and the crop is extracted afterwards, in one libvips pipeline, so JPEG
 *    shrink-on-load applies as for a plain decode (a 4000 x 3000 photo decodes at 1/4 or 1/8 scale);
 * 2. rotation by `rotateDegrees`, after that resize; the crop is then taken **inside the rotated image** (its
 *    footprint is checked against the unrotated rectangle exactly, with a 2 px margin), zooming in slightly when it
 *    would not fit. So no fill colour ever enters a view: black or edge-colour corners are an artefact the model
 *    never meets at test time and could learn as a cue. Rotating in the resized frame means an aspect ratio other
 *    than 1 adds a slight shear (<= ~6% at 10 degrees and 4/3), itself a usual augmentation (fastai's warp);
 * 3. colour, in JS on the S x S bytes with torchvision ColorJitter's formulas in a fixed order: brightness (scale),
 *    contrast (blend with the mean grey level), saturation (blend with each pixel's grey), clamping to 0..255 after
 *    each. sharp's `modulate` (LCh) measured ~3.5 ms a view here and the JS pass ~1-2 ms; and contrast about the
 *    image mean needs the mean, which a `linear` in the same pipeline cannot know;
 * 4. horizontal flip: an exact mirror of the S x S result.
 *
 * Cost (test/data/augment.slow.test.ts logs it; hymenoptera JPEGs of ~500 x 375 at 224, one at a time, 2 shared cores): ~11 ms
 * a view against ~6 ms for a plain decode (1.8x; the rotation is ~3 ms of it). {@link decodeViews} makes 3 views of
 * one image in ~23 ms (~8 ms a view, 1.3x a plain decode).
 *
 * @param params from {@link viewParams}; undefined for the plain view.
 * @param options as for decodeImageBytes; `name` is what errors call the image.
 * @throws UnreadableImageError when the image cannot be decoded (with the reason decodeImageBytes gives).
 * @throws RangeError for params out of range.
 * @example
 * const x = await decodeView(bytes, pre, viewParams(sha256, 1, 42, DEFAULT_AUGMENT));
 */
export async function decodeView(
  bytes: Buffer,
  pre: Preprocessing,
  params: ViewParams | undefined,
  options: DecodeOptions & { name?: string } = {},
): Promise<Float32Array> {
  return (await decodeViews(bytes, pre, [params], options))[0]!;
}

/**
 * Several views of one image, each exactly what {@link decodeView} returns for it. The header is read once, and the
 * pixels are decoded once for all views that would not use shrink-on-load anyway (with JPEG, views needing less than
 * a 3x reduction: every view of a typical photo up to ~3x the input size); views of large photos decode the file
 * each, at reduced scale.
 */
export async function decodeViews(
  bytes: Buffer,
  pre: Preprocessing,
  views: readonly (ViewParams | undefined)[],
  options: DecodeOptions & { name?: string } = {},
): Promise<Float32Array[]> {
  views.forEach((p) => p && checkViewParams(p));
  const name = options.name ?? '<buffer>';
  const results: Float32Array[] = new Array(views.length);
  for (const [i, p] of views.entries()) if (!p) results[i] = await decodeImageBytes(bytes, pre, { ...options, name });
  if (views.every((p) => !p)) return results;
  if (bytes.length === 0) throw new UnreadableImageError(name, 'zero-byte file');
  const inputOptions: SharpOptions = {
    failOn: options.failOn ?? 'error',
    limitInputPixels: options.limitInputPixels ?? DEFAULT_LIMIT_INPUT_PIXELS,
    autoOrient: true,
  };
  try {
    const source = await openSource(bytes, inputOptions);
    for (const [i, p] of views.entries()) {
      if (!p) continue;
      const rgb = await augmentedRgb(source, pre, p);
      jitterColour(rgb, p);
      if (p.flip) mirrorRows(rgb, pre.inputSize);
      results[i] = rgbToTensor(rgb, pre);
    }
  } catch (error) {
    // The plain decoder names the failure (truncated JPEG, not an image, too large...). If it decodes what this
    // pipeline could not, the fault is ours, and calling the image unreadable would hide it.
    await decodeImageBytes(bytes, pre, { ...options, name });
    throw new GraftError('INTERNAL', `Augmenting ${name} failed although it decodes: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
  return results;
}

function checkViewParams(p: ViewParams): void {
  const check = (name: keyof ViewParams, isValid: boolean): void => {
    if (!isValid) throw new RangeError(`view params: '${name}' is out of range. Received: ${JSON.stringify(p[name])}`);
  };
  const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
  check('cropScale', finite(p.cropScale) && p.cropScale > 0 && p.cropScale <= 1);
  check('cropRatio', finite(p.cropRatio) && p.cropRatio > 0);
  check('cropX', finite(p.cropX) && p.cropX >= 0 && p.cropX <= 1);
  check('cropY', finite(p.cropY) && p.cropY >= 0 && p.cropY <= 1);
  check('flip', typeof p.flip === 'boolean');
  check('rotateDegrees', finite(p.rotateDegrees) && Math.abs(p.rotateDegrees) <= 45);
  for (const key of ['brightness', 'contrast', 'saturation'] as const) check(key, finite(p[key]) && p[key] >= 0);
}

/** Where to resize, rotate and extract; see decodeView for the why. */
export interface CropPlan {
  /** Size the whole (oriented) image is resized to. */
  readonly width: number;
  readonly height: number;
  /** Top-left of the S x S extract in the resized (and rotated) image. */
  readonly left: number;
  readonly top: number;
}

/**
 * Plans the crop of one view for an oriented `width` x `height` image and input size `size`. Exported for tests.
 * @internal
 */
export function planCrop(width: number, height: number, size: number, p: ViewParams): CropPlan {
  const area = width * height * p.cropScale;
  // Where RandomResizedCrop would retry and fall back, a crop that cannot fit is clamped to the image.
  const cropW = Math.min(width, Math.sqrt(area * p.cropRatio));
  const cropH = Math.min(height, Math.sqrt(area / p.cropRatio));
  const angle = (p.rotateDegrees * Math.PI) / 180;
  const cos = Math.abs(Math.cos(angle));
  const sin = Math.abs(Math.sin(angle));
  const isRotated = p.rotateDegrees !== 0;
  // The S x S crop, rotated back into the unrotated frame, has an axis-aligned bounding box of side `box`; the crop
  // lies inside the rotated image exactly when that box lies inside the unrotated one (both are axis-aligned there).
  const box = isRotated ? size * (cos + sin) + 2 * ROTATE_MARGIN_PX : size;
  const zoom = Math.max(1, (box * cropW) / (width * size), (box * cropH) / (height * size));
  const scaledW = Math.max(Math.ceil(box), Math.round(((width * size) / cropW) * zoom));
  const scaledH = Math.max(Math.ceil(box), Math.round(((height * size) / cropH) * zoom));
  // Centre of the crop in the unrotated resized frame, relative to the image centre.
  const dx = (p.cropX - 0.5) * (scaledW - box);
  const dy = (p.cropY - 0.5) * (scaledH - box);
  if (!isRotated) {
    return { width: scaledW, height: scaledH, left: Math.round(scaledW / 2 + dx - size / 2), top: Math.round(scaledH / 2 + dy - size / 2) };
  }
  // libvips rotates clockwise (image y points down) about the centre, onto the bounding box of the rotated image.
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const rotatedW = scaledW * cos + scaledH * sin;
  const rotatedH = scaledW * sin + scaledH * cos;
  return {
    width: scaledW,
    height: scaledH,
    left: Math.max(0, Math.round(rotatedW / 2 + (c * dx - s * dy) - size / 2)),
    top: Math.max(0, Math.round(rotatedH / 2 + (s * dx + c * dy) - size / 2)),
  };
}

/** The oriented image views are cut from: the file itself, or its pixels decoded once. */
interface ViewSource {
  readonly width: number;
  readonly height: number;
  /** A pipeline for one view whose whole-image resize is to `plan`'s size. */
  open(plan: CropPlan): Promise<Sharp>;
}

/** Formats libvips can decode at a reduced scale (sharp's shrink-on-load); for the others a decoded copy loses nothing. */
const SHRINK_ON_LOAD_FORMATS = new Set(['jpeg', 'webp', 'svg', 'pdf']);

async function openSource(bytes: Buffer, inputOptions: SharpOptions): Promise<ViewSource> {
  const sharp = await loadSharp();
  // A BMP or HEIC is decoded once to RGB (see open-image.ts), and every view cut from those pixels.
  const pixels = await decodeOutsideLibvips(bytes, inputOptions);
  if (pixels) return { width: pixels.width, height: pixels.height, open: async () => sharp(pixels.data, rawInput(pixels)) };
  const meta = await sharp(bytes, inputOptions).metadata();
  const { width, height } = meta.autoOrient;
  const format = meta.format ?? 'unknown';
  // As in decodeToRgb, alpha is dropped *before* resampling, keeping the stored RGB (PIL's convert('RGB')): sharp
  // would otherwise resample premultiplied and blacken transparent pixels.
  const mustDecodeFirst = format !== 'jpeg' && meta.hasAlpha === true;
  let decoded: Promise<{ data: Buffer; info: OutputInfo }> | undefined;
  const decodeOnce = async (): Promise<Sharp> => {
    decoded ??= libvipsPipeline(sharp, bytes, inputOptions, meta).removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    const { data, info } = await decoded;
    return sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } });
  };
  return {
    width,
    height,
    async open(plan) {
      // sharp shrinks a JPEG on load only when the whole-image shrink is >= 3 (it halves the factor at 2.x to dodge
      // libjpeg rounding), and WebP/SVG/PDF whenever it is > 1: those views decode from the file, at reduced scale.
      const shrink = Math.min(width / plan.width, height / plan.height);
      const isShrunkOnLoad = SHRINK_ON_LOAD_FORMATS.has(format) && (format === 'jpeg' ? shrink >= 3 : shrink > 1);
      if (mustDecodeFirst || !isShrunkOnLoad) return decodeOnce();
      return libvipsPipeline(sharp, bytes, inputOptions, meta);
    },
  };
}

/** S x S x 3 sRGB bytes of one view's geometry (crop, resize, rotation), before colour and flip. */
async function augmentedRgb(source: ViewSource, pre: Preprocessing, p: ViewParams): Promise<Uint8Array> {
  const size = pre.inputSize;
  const plan = planCrop(source.width, source.height, size, p);
  const kernel = pre.interpolation === 'lanczos3' ? 'lanczos3' : 'linear';
  // resize() before rotate() keeps the rotation after the resize (and shrink-on-load on); extract() after both is
  // sharp's post-resize, post-rotation extract.
  let pipeline = (await source.open(plan)).resize(plan.width, plan.height, { fit: 'fill', kernel });
  if (p.rotateDegrees !== 0) pipeline = pipeline.rotate(p.rotateDegrees, { background: ROTATE_BACKGROUND });
  const { data, info } = await pipeline
    .extract({ left: plan.left, top: plan.top, width: size, height: size })
    .removeAlpha()
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || info.width !== size || info.height !== size) {
    throw new Error(`augmented view is ${info.width}x${info.height}x${info.channels}, expected ${size}x${size}x3`);
  }
  return data;
}

/** ITU-R 601 luma weights, as torchvision's rgb_to_grayscale. */
const GREY = [0.2989, 0.587, 0.114] as const;

/**
 * torchvision ColorJitter's brightness, contrast and saturation (in that order), in place on interleaved RGB bytes.
 * Each step clamps to 0..255; the result is rounded once at the end.
 */
function jitterColour(rgb: Uint8Array, p: ViewParams): void {
  const { brightness: b, contrast: c, saturation: s } = p;
  if (b === 1 && c === 1 && s === 1) return;
  const clamp = (x: number): number => (x < 0 ? 0 : x > 255 ? 255 : x);
  const pixels = rgb.length / 3;
  const work = new Float32Array(rgb.length);
  let greySum = 0;
  for (let i = 0; i < rgb.length; i += 3) {
    const r = clamp(rgb[i]! * b);
    const g = clamp(rgb[i + 1]! * b);
    const bl = clamp(rgb[i + 2]! * b);
    work[i] = r;
    work[i + 1] = g;
    work[i + 2] = bl;
    greySum += GREY[0] * r + GREY[1] * g + GREY[2] * bl;
  }
  const meanGrey = greySum / pixels;
  for (let i = 0; i < rgb.length; i += 3) {
    const r = clamp(c * work[i]! + (1 - c) * meanGrey);
    const g = clamp(c * work[i + 1]! + (1 - c) * meanGrey);
    const bl = clamp(c * work[i + 2]! + (1 - c) * meanGrey);
    const grey = GREY[0] * r + GREY[1] * g + GREY[2] * bl;
    rgb[i] = Math.round(clamp(s * r + (1 - s) * grey));
    rgb[i + 1] = Math.round(clamp(s * g + (1 - s) * grey));
    rgb[i + 2] = Math.round(clamp(s * bl + (1 - s) * grey));
  }
}

/** Mirrors interleaved RGB rows left-right in place. */
function mirrorRows(rgb: Uint8Array, size: number): void {
  for (let y = 0; y < size; y++) {
    const row = y * size * 3;
    for (let a = row, b = row + (size - 1) * 3; a < b; a += 3, b -= 3) {
      for (let c = 0; c < 3; c++) {
        const t = rgb[a + c]!;
        rgb[a + c] = rgb[b + c]!;
        rgb[b + c] = t;
      }
    }
  }
}
