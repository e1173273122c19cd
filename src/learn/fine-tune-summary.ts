import type { EpochLogs } from '../core/progress.js';
import type { FineTuneConfig } from './fine-tune-config.js';

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
  /**
   * The held-out training images that chose: how many, the default head's log-loss on them and the best fine-tuning
   * epoch's, and (when an epoch was trained) both accuracies there and the log-loss difference in standard errors
   * (`t`; fine-tuning is kept below -2 with no lower accuracy). Accuracies count each image as its class's weight.
   * Set by `train`.
   */
  readonly holdout?: {
    readonly images: number;
    readonly headLoss: number | null;
    readonly bestLoss: number | null;
    readonly headAccuracy?: number;
    readonly bestAccuracy?: number;
    readonly t?: number;
  };
}
