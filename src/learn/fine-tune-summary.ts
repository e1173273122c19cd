import type { EpochLogs } from '../core/progress.js';
import type { FineTuneConfig } from './fine-tune-config.js';
import type { FineTuneHoldout } from '../core/fine-tune-holdout.js';

/** What the fine-tuning phase reports (the manifest stores its settings in `training.config.fineTune` and its result in `training.outcome.fineTune`). */
export interface FineTuneSummary {
  readonly config: FineTuneConfig;
  /** The cut: the tensor where the frozen prefix ends and training starts, and what that means in blocks. */
  readonly cut: { readonly tensor: string; readonly description: string };
  readonly history: EpochLogs[];
  readonly bestEpoch: number;
  readonly stoppedEarly: boolean;
  readonly resumedAfter: number;
  readonly timings: { readonly activations_s: number; readonly train_s: number; readonly export_s: number };
  readonly activations: { readonly computed: number; readonly cached: number; readonly shape: readonly number[] };
  readonly trainImgPerSec: number;
  /** Max abs difference of class probabilities between the exported ONNX (onnxruntime) and training's graph (tfjs) on sample images. */
  readonly exportCheck: { readonly images: number; readonly maxAbsDiff: number };
  /** Validation scores of the head phase alone (frozen backbone), for comparison; set by `train`. */
  readonly headOnly?: { readonly accuracy: number; readonly loss: number } | null;
  /**
   * What the model holds, as `train` decided on held-out training images: the fine-tuned network, or the head alone
   * when no fine-tuning epoch beat it there.
   */
  readonly kept?: 'fine-tuned' | 'head';
  /** The held-out comparison that chose (set by `train`). */
  readonly holdout?: FineTuneHoldout;
}
