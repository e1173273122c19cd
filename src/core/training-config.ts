/**
 * What decides a training run, as plain data: the configs `graft.json` records so `--config` can replay a run.
 * Defaults and validation live with the code that trains (`learn/`); the types are here so that `model/` (the
 * manifest) and `learn/` share them without importing each other.
 */

/** A fine-tuning learning-rate schedule (see learn/lr-schedule.ts). */
export type ScheduleKind = 'one-cycle' | 'cosine' | 'constant';

/**
 * The classifier grafted onto the backbone's features. `hidden: []` (the default) is a linear head: multinomial
 * logistic regression with L2, solved exactly, its strength chosen by cross-validation (`fitLinearHead`). With
 * hidden sizes it is an MLP: Dense+ReLU layers with dropout after each, then Dense(classes, softmax), trained by
 * Adam (the seed article's head is `hidden: [1024]`). Features are standardised (per-dimension mean/std from the
 * training set) before the first layer; the standardisation is folded into the first layer's weights on export.
 */
export interface HeadConfig {
  readonly version: 1;
  /** Units of each hidden Dense(relu) layer, e.g. [1024] (an MLP); [] is the linear head. Defaults to [] (measured, bench/RESULTS.md). */
  readonly hidden: readonly number[];
  /** Dropout rate after each hidden layer of an MLP (and on the features while fine-tuning a linear head). Defaults to 0.5. */
  readonly dropout: number;
}

/** A choice left to cross-validation on the training images ('auto'), or fixed. */
export type AutoOr<T> = T | 'auto';

/** Everything that decides a training run; stored in the manifest so `--config` can replay it. */
export interface TrainConfig {
  readonly version: 2;
  readonly head: HeadConfig;
  /**
   * See each image at two scales, the backbone's evaluation crop and the whole centred square, and concatenate the
   * features (multiScaleBackbone): costs a second backbone pass per image. Fine-tuning uses one scale.
   */
  readonly multiScale: boolean;
  /** Linear head: sklearn's C (inverse L2 strength); 'auto' picks it by cross-validation from 1e-4..10. */
  readonly c: AutoOr<number>;
  /** Linear head: also train on each image's mirror image ('on'), or not ('off'); 'auto' lets cross-validation decide. */
  readonly mirror: AutoOr<'on' | 'off'>;
  /** Test-time augmentation: average the image's and its mirror image's probabilities, inside model.onnx. */
  readonly tta: AutoOr<'on' | 'off'>;
  /**
   * Linear head, features at two scales: also train on each training image's four corner crops, the object shifted
   * in the frame ('on'), or not ('off'); 'auto' lets cross-validation decide. Costs 8 more backbone passes per
   * training image (4 without mirror images) and several times the head's fit; prediction is unchanged. Defaults to
   * 'off'.
   */
  readonly crops: AutoOr<'on' | 'off'>;
  /** Most cross-validation folds (fewer when a class has fewer images or groups); 'auto': 5, or 3 from 2000 images. */
  readonly folds: AutoOr<number>;
  /**
   * Regular expression on file names whose first capture group (else whole match) names a group of images that must
   * stay on one side of every internal split (frames of one object, shots of one plant). Null: every image alone.
   */
  readonly groupBy: string | null;
  /** Row weights by class: 'balanced' (the default) weighs rare classes up (n / (K n_c)); 'none': every row 1. */
  readonly classWeights: 'none' | 'balanced';
  /** MLP head: maximum epochs; early stopping on a held-out fifth of the training images usually ends sooner. */
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  /** MLP head: epochs without a holdout loss improvement before stopping; the best epoch's weights are kept. */
  readonly patience: number;
  /** MLP head: L2 penalty on the weights (not biases). */
  readonly weightDecay: number;
  /** MLP head and fine-tuning: label smoothing for the cross-entropy, 0 = none. */
  readonly labelSmoothing: number;
  /** Seeds the folds, the splits, initial weights, dropout masks and batch order. */
  readonly seed: number;
}

/**
 * Everything that decides the fine-tuning phase (after the head has been trained on frozen features).
 * Stored in the manifest's `training.config.fineTune` so a run can be replayed; a checkpoint only resumes a run
 * with the same values.
 */
/** What fine-tuning unfreezes: `last:<N blocks>`, `from:<tensor or node name>` or `all` (text, as `--unfreeze` takes it). */
export type UnfreezeText = 'all' | `last:${number}` | `from:${string}`;

export interface FineTuneConfig {
  /** What to unfreeze: `last:<N blocks>`, `from:<tensor or node name>` or `all`. */
  readonly unfreeze: UnfreezeText;
  /** Fine-tuning epochs (after the head phase); early stopping may end sooner. */
  readonly epochs: number;
  /** Peak learning rate of the head; the unfrozen backbone layers get `learningRate * bodyLrRatio` (discriminative rates). */
  readonly learningRate: number;
  readonly bodyLrRatio: number;
  readonly schedule: ScheduleKind;
  readonly batchSize: number;
  /** Augmented views per training image, precomputed through the frozen prefix; 0 = no augmentation. */
  readonly views: number;
  /** Epochs without a val_loss improvement before stopping (0 = never); the best epoch's weights are kept. */
  readonly patience: number;
  /** 'balanced' weighs each class's loss by total / (classes x count): rare classes count as much as common ones. */
  readonly classWeights: 'none' | 'balanced';
  /** Label smoothing for the cross-entropy. */
  readonly labelSmoothing: number;
  /** L2 penalty on the head's kernels. */
  readonly weightDecay: number;
  /**
   * 'frozen' (default, the Keras guide's advice): BatchNorm keeps its statistics, only its scale and shift train.
   * 'train': BatchNorm normalizes with batch statistics while training and updates its running ones.
   */
  readonly batchNorm: 'frozen' | 'train';
}
