import { GraftError } from '../errors.js';
import { DEFAULT_HEAD, headFromConfig, type HeadConfig } from './head-config.js';
import { definedOnly } from '../defined-only.js';

/** Everything that decides a head-training run; stored in the manifest so `--config` can replay it. */
export interface TrainConfig {
  readonly version: 1;
  readonly head: HeadConfig;
  /** Maximum epochs; early stopping usually ends sooner. */
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  /** Epochs without a val_loss improvement before stopping; the best epoch's weights are kept. */
  readonly patience: number;
  /** L2 penalty on the head's weights (not biases). */
  readonly weightDecay: number;
  /** Label smoothing for the cross-entropy, 0 = none. */
  readonly labelSmoothing: number;
  /** Seeds the initial weights, dropout masks, batch order and the val split. */
  readonly seed: number;
}

/** Defaults chosen by measurement on hymenoptera and flowers12 (bench/RESULTS.md, "Choosing the head defaults"). */
export const DEFAULT_TRAIN: TrainConfig = {
  version: 1,
  head: DEFAULT_HEAD,
  epochs: 60,
  batchSize: 32,
  learningRate: 1e-3,
  patience: 8,
  weightDecay: 1e-4,
  labelSmoothing: 0,
  seed: 42,
};

/** Merges user options over the defaults and validates every value, rejecting unknown keys. */
export function trainConfigFrom(options: Partial<Omit<TrainConfig, 'head'>> & { head?: Partial<HeadConfig> } = {}): TrainConfig {
  const known = Object.keys(DEFAULT_TRAIN);
  const unknown = Object.keys(options).filter((k) => !known.includes(k));
  if (unknown.length) throw new GraftError('INVALID_CONFIG', `Unknown training options: ${unknown.join(', ')}. Known: ${known.join(', ')}`);
  const merged = { ...DEFAULT_TRAIN, ...definedOnly(options), head: headFromConfig({ ...DEFAULT_TRAIN.head, ...definedOnly(options.head ?? {}) }) };
  const check = (ok: boolean, what: string, value: unknown, hint: string): void => {
    if (!ok) throw new GraftError('INVALID_CONFIG', `${what}. Received: ${String(value)}`, { hint });
  };
  check(Number.isInteger(merged.epochs) && merged.epochs >= 1, 'epochs must be a positive integer', merged.epochs, 'e.g. --epochs 30');
  check(Number.isInteger(merged.batchSize) && merged.batchSize >= 1, 'batch size must be a positive integer', merged.batchSize, 'e.g. --batch-size 32');
  check(merged.learningRate > 0 && merged.learningRate < 10, 'learning rate must be in (0, 10)', merged.learningRate, 'e.g. --lr 0.001');
  check(Number.isInteger(merged.patience) && merged.patience >= 0, 'patience must be a non-negative integer', merged.patience, 'e.g. --patience 8');
  check(merged.weightDecay >= 0, 'weight decay must be >= 0', merged.weightDecay, 'e.g. --weight-decay 0.0001');
  check(merged.labelSmoothing >= 0 && merged.labelSmoothing < 1, 'label smoothing must be in [0, 1)', merged.labelSmoothing, 'e.g. --label-smoothing 0.1');
  check(Number.isInteger(merged.seed), 'seed must be an integer', merged.seed, 'e.g. --seed 1');
  return merged;
}
