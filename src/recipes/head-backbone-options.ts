import type { TrainOptions } from './train.js';

/**
 * The backbone a head is fitted on and saved with, given as {@link train} takes it: `backbone` (catalogue name, path
 * or URL; default `mobilenet_v2`), where models come from, the preprocessing overrides, the feature output, the engine,
 * and `multiScale` (train's `config.multiScale`). The features of `recipes.extractHeadFeatures` and the model
 * `recipes.saveHeadModel` writes come from the same options, so a head fitted on the one runs in the other.
 */
export type HeadBackboneOptions = Pick<TrainOptions, 'backbone' | 'cacheDir' | 'offline' | 'modelDirs' | 'mirrors' | 'overrides' | 'featureOutput' | 'engine' | 'onProgress'> & {
  /**
   * See each image at two scales and concatenate the features, as `graft train` does by default (train's
   * `config.multiScale`). One scale where the backbone cannot run two (said by an `info` event), as train. Default true.
   */
  readonly multiScale?: boolean;
};

/** Every option of {@link HeadBackboneOptions} (the compiler holds it to the type). */
export const HEAD_BACKBONE_OPTIONS: Record<keyof HeadBackboneOptions, true> = {
  backbone: true, cacheDir: true, offline: true, modelDirs: true, mirrors: true, overrides: true, featureOutput: true, engine: true, onProgress: true, multiScale: true,
};
