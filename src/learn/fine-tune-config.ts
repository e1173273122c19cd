import { GraftError } from '../core/errors.js';
import { SCHEDULE_KINDS, type ScheduleKind } from './lr-schedule.js';
import { definedOnly } from '../core/defined-only.js';

/**
 * Everything that decides the fine-tuning phase (after the head has been trained on frozen features).
 * Stored in the manifest's `training.fineTune` so a run can be replayed; a checkpoint only resumes a run
 * with the same values.
 */
export interface FineTuneConfig {
  /** What to unfreeze: `last:<N blocks>`, `from:<tensor or node name>` or `all`. */
  readonly unfreeze: string;
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

/**
 * Defaults: fastai's `fine_tune` shape (one-cycle, body at a lower rate than the head) with Keras's advice to
 * keep BatchNorm in inference mode. Chosen by measurement on hymenoptera and flowers12 (bench/RESULTS.md).
 */
export const DEFAULT_FINE_TUNE: FineTuneConfig = {
  unfreeze: 'last:3',
  epochs: 6,
  learningRate: 1e-3,
  bodyLrRatio: 0.1,
  schedule: 'one-cycle',
  batchSize: 32,
  views: 2,
  patience: 0,
  classWeights: 'none',
  labelSmoothing: 0,
  weightDecay: 1e-4,
  batchNorm: 'frozen',
};

/** Merges user options over the defaults and validates every value, rejecting unknown keys. */
export function fineTuneConfigFrom(options: Partial<FineTuneConfig> = {}): FineTuneConfig {
  const known = Object.keys(DEFAULT_FINE_TUNE);
  const unknown = Object.keys(options).filter((k) => !known.includes(k));
  if (unknown.length) throw new GraftError('INVALID_CONFIG', `Unknown fine-tuning options: ${unknown.join(', ')}. Known: ${known.join(', ')}`);
  const c: FineTuneConfig = { ...DEFAULT_FINE_TUNE, ...definedOnly(options) };
  const check = (ok: boolean, what: string, value: unknown, hint: string): void => {
    if (!ok) throw new GraftError('INVALID_CONFIG', `${what}. Received: ${String(value)}`, { hint });
  };
  check(/^(all|last:\d+|from:.+)$/.test(c.unfreeze), 'unfreeze must be last:<N>, from:<layer> or all', c.unfreeze, 'e.g. --unfreeze last:3');
  check(Number.isInteger(c.epochs) && c.epochs >= 1, 'fine-tuning epochs must be a positive integer', c.epochs, 'e.g. --fine-tune-epochs 6');
  check(c.learningRate > 0 && c.learningRate < 1, 'fine-tuning learning rate must be in (0, 1)', c.learningRate, 'e.g. --fine-tune-lr 0.001');
  check(c.bodyLrRatio > 0 && c.bodyLrRatio <= 1, 'body learning-rate ratio must be in (0, 1]', c.bodyLrRatio, 'e.g. --body-lr-ratio 0.1');
  check(SCHEDULE_KINDS.includes(c.schedule), `schedule must be one of ${SCHEDULE_KINDS.join(', ')}`, c.schedule, 'e.g. --schedule one-cycle');
  check(Number.isInteger(c.batchSize) && c.batchSize >= 1, 'batch size must be a positive integer', c.batchSize, 'e.g. --batch-size 32');
  check(Number.isInteger(c.views) && c.views >= 0 && c.views <= 64, 'views must be an integer in [0, 64]', c.views, 'e.g. --views 2');
  check(Number.isInteger(c.patience) && c.patience >= 0, 'patience must be a non-negative integer', c.patience, 'e.g. --patience 3');
  check(c.classWeights === 'none' || c.classWeights === 'balanced', "class weights must be 'none' or 'balanced'", c.classWeights, 'e.g. --class-weights balanced');
  check(c.labelSmoothing >= 0 && c.labelSmoothing < 1, 'label smoothing must be in [0, 1)', c.labelSmoothing, 'e.g. --label-smoothing 0.1');
  check(c.batchNorm === 'frozen' || c.batchNorm === 'train', "batchNorm must be 'frozen' or 'train'", c.batchNorm, 'e.g. --train-batchnorm');
  check(c.weightDecay >= 0, 'weight decay must be >= 0', c.weightDecay, 'e.g. --weight-decay 0.0001');
  return c;
}

/** Per-class loss weights: 'balanced' gives class c the weight count / (classes x count_c), as scikit-learn does. */
export function classWeightsFor(labels: Int32Array, numClasses: number, mode: FineTuneConfig['classWeights']): Float32Array {
  const weights = new Float32Array(numClasses).fill(1);
  if (mode === 'none') return weights;
  const counts = new Float64Array(numClasses);
  for (const label of labels) counts[label] = counts[label]! + 1;
  for (let c = 0; c < numClasses; c++) weights[c] = counts[c]! > 0 ? labels.length / (numClasses * counts[c]!) : 0;
  return weights;
}
