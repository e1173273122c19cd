import type { SkippedFile } from '../data/dataset.js';
import type { BackboneInfo } from '../engine/backbone.js';
import { CacheSpace } from '../features/cache-space.js';
import { extractFeatures } from '../features/extract-features.js';
import { refuseUnknownOptions } from './known-options.js';
import { HEAD_BACKBONE_OPTIONS, type HeadBackboneOptions } from './head-backbone-options.js';
import { openHeadBackbone } from './open-head-backbone.js';

/** Options of {@link extractHeadFeatures}: the backbone as {@link saveHeadModel} will take it, and what to compute. */
export type ExtractHeadFeaturesOptions = HeadBackboneOptions & {
  /** Also the features of each image's left-right mirror image: extra training rows, and what `tta` averages. Default false. */
  readonly mirror?: boolean;
};

/** The features of a list of images, in input order, as the model `saveHeadModel` writes computes them. */
export interface HeadFeatures {
  /** One vector of `backbone.featureDim` floats per file; undefined for a file that could not be read (in `skipped`). */
  readonly vectors: (Float32Array | undefined)[];
  /** With `mirror`, each file's mirror image's vector (same order); otherwise empty. */
  readonly mirrored: (Float32Array | undefined)[];
  readonly skipped: SkippedFile[];
  /** The backbone as seen: `featureDim` is the head's input width; `scales` the crops concatenated. */
  readonly backbone: BackboneInfo;
  /** Images the backbone ran on, and images served from the feature cache. */
  readonly computed: number;
  readonly cached: number;
}

const OPTIONS: Record<keyof ExtractHeadFeaturesOptions, true> = { ...HEAD_BACKBONE_OPTIONS, mirror: true };

/**
 * The features a head for {@link saveHeadModel} is fitted on: each image decoded with the backbone's preprocessing and
 * run at the scales the saved model will use, through the feature cache in `cacheDir` (shared with `train`). Pass
 * saveHeadModel the same backbone options and the saved model computes exactly these features before the head.
 *
 * @throws GraftError as `train` does for the backbone (MODEL_NOT_FOUND, OFFLINE, UNKNOWN_PREPROCESSING); unreadable
 *   images are reported in `skipped`, never thrown.
 * @example
 * const { vectors, backbone } = await recipes.extractHeadFeatures(['ant.jpg', 'bee.jpg'], { backbone: 'mobilenet_v2' });
 * vectors[0]?.length === backbone.featureDim; // true: 2560 floats at two scales
 */
export async function extractHeadFeatures(files: readonly string[], options: ExtractHeadFeaturesOptions = {}): Promise<HeadFeatures> {
  refuseUnknownOptions('extractHeadFeatures', options, OPTIONS);
  const { handle, cacheDir } = await openHeadBackbone(options);
  const space = new CacheSpace(cacheDir, options.onProgress);
  const { store, fileIndex } = space.openStores();
  try {
    const r = await extractFeatures(files, handle, store, { fileIndex, mirror: options.mirror === true, onProgress: options.onProgress, cacheSpace: space });
    return { vectors: r.vectors, mirrored: r.mirrored, skipped: r.skipped, backbone: handle.info, computed: r.computed, cached: r.cached };
  } finally {
    store.close();
    fileIndex.close();
  }
}
