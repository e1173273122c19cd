import type { ProgressListener } from '../../core/progress.js';
import type { FeatureMatrix } from '../train-head.js';
import type { MirrorViews, SelectionCriterion } from './cross-validate.js';
import type { CropRows } from './crop-rows.js';

/** Training images' features for a head. */
export interface HeadTrainingSet {
  /** Plain view of each image, [images, dim]. */
  readonly plain: FeatureMatrix;
  /** Mirror image of each image, same order; needed for 'plain+flip' rows and test-time augmentation. */
  readonly mirrored?: FeatureMatrix;
  readonly labels: Int32Array;
  readonly classNames: readonly string[];
  /** File of each image (for label issues). */
  readonly files: readonly string[];
  /** Group key of each image (see groupKeys); undefined: every image its own group. */
  readonly groups?: readonly string[];
  /** Each image's corner crops as rows (see CropRows): candidates that train on them too, when `crops` allows. */
  readonly crops?: CropRows;
}

/** What may be chosen: a fixed value, or 'auto' for cross-validation to decide. */
export interface LinearHeadOptions {
  /** sklearn's C (inverse L2 strength), or 'auto' to search DEFAULT_C_GRID. */
  readonly c: number | 'auto';
  /** The rows besides crop rows: the plain views, or those and the mirror images. */
  readonly trainViews: MirrorViews | 'auto';
  readonly tta: boolean | 'auto';
  /**
   * Train on the set's crop rows too (true), never (false, the default), or when their cross-validated score beats
   * the best head without them ('auto'). Needs `crops` in the training set.
   */
  readonly crops?: boolean | 'auto';
  readonly classWeights: 'none' | 'balanced';
  /** Most folds; 'auto' = defaultFolds. */
  readonly maxFolds: number | 'auto';
  readonly criterion?: SelectionCriterion;
  /** Run the cross-validation (needs fixed c, trainViews and tta when false: nothing is chosen then). Defaults to true. */
  readonly crossValidate?: boolean;
  readonly seed: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: ProgressListener;
}
