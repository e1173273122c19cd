import { parseUnfreeze } from '../onnx/unfreeze-spec.js';
import { GraftError } from '../core/errors.js';
import { optionExample, optionName, type OptionPath } from '../core/option-name.js';
import { SCHEDULE_KINDS } from './lr-schedule.js';
import { definedOnly } from '../core/defined-only.js';
import type { FineTuneConfig } from '../core/training-config.js';

// The type is plain data in core/ (the manifest records it); learn/ keeps its public name here.
export type { FineTuneConfig };

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
  classWeights: 'balanced', // as the head's (DEFAULT_TRAIN): one --class-weights flag sets both
  labelSmoothing: 0,
  weightDecay: 1e-4,
  batchNorm: 'frozen',
};

/** The default batch size with `unfreeze: 'all'` (see fineTuneConfigFrom). */
export const WHOLE_NETWORK_BATCH_SIZE = 8;

/** Merges user options over the defaults and validates every value, rejecting unknown keys. */
export function fineTuneConfigFrom(options: Partial<FineTuneConfig> = {}): FineTuneConfig {
  const known = Object.keys(DEFAULT_FINE_TUNE);
  const unknown = Object.keys(options).filter((k) => !known.includes(k));
  if (unknown.length) throw new GraftError('INVALID_CONFIG', `Unknown fine-tuning options: ${unknown.join(', ')}. Known: ${known.join(', ')}`);
  // The whole network's activations and gradients at batch 32 pass tfjs-wasm's 4 GB (MobileNetV2 at 224 px: ~4.5 GB);
  // at 8 they take ~1.5 GB and train at the measured ~15 img/s. A batch size given is kept.
  const wholeNetwork = options.unfreeze === 'all' && options.batchSize === undefined ? { batchSize: WHOLE_NETWORK_BATCH_SIZE } : {};
  const c: FineTuneConfig = { ...DEFAULT_FINE_TUNE, ...wholeNetwork, ...definedOnly(options) };
  // Each message names the option and its flag (`fineTune.epochs (--fine-tune-epochs)`), as trainConfigFrom's do.
  const check = (ok: boolean, option: OptionPath, rule: string, value: unknown, example: Parameters<typeof optionExample>[1], shellExample?: string): void => {
    if (!ok) throw new GraftError('INVALID_CONFIG', `${optionName(option)} ${rule}. Received: ${String(value)}`, { hint: `e.g. ${optionExample(option, example, shellExample)}` });
  };
  check(/^(all|last:\d+|from:.+)$/.test(c.unfreeze), 'fineTune.unfreeze', 'must be last:<N>, from:<layer> or all', c.unfreeze, 'last:3');
  // All of parseUnfreeze's rules (last:0 among them) before the head phase, not after it; named as the others are.
  try {
    parseUnfreeze(c.unfreeze);
  } catch (error) {
    if (!(error instanceof GraftError)) throw error;
    throw new GraftError(error.code, error.message.replace(/^--unfreeze\b/, optionName('fineTune.unfreeze')), error.hint ? { hint: error.hint } : {});
  }
  check(Number.isInteger(c.epochs) && c.epochs >= 1, 'fineTune.epochs', 'must be a positive integer', c.epochs, 6);
  check(c.learningRate > 0 && c.learningRate < 1, 'fineTune.learningRate', 'must be in (0, 1)', c.learningRate, 0.001);
  check(c.bodyLrRatio > 0 && c.bodyLrRatio <= 1, 'fineTune.bodyLrRatio', 'must be in (0, 1]', c.bodyLrRatio, 0.1);
  check(SCHEDULE_KINDS.includes(c.schedule), 'fineTune.schedule', `must be one of ${SCHEDULE_KINDS.join(', ')}`, c.schedule, 'one-cycle');
  check(Number.isInteger(c.batchSize) && c.batchSize >= 1, 'fineTune.batchSize', 'must be a positive integer', c.batchSize, 32);
  check(Number.isInteger(c.views) && c.views >= 0 && c.views <= 64, 'fineTune.views', 'must be an integer in [0, 64]', c.views, 2);
  check(Number.isInteger(c.patience) && c.patience >= 0, 'fineTune.patience', 'must be a non-negative integer', c.patience, 3);
  check(c.classWeights === 'none' || c.classWeights === 'balanced', 'fineTune.classWeights', "must be 'none' or 'balanced'", c.classWeights, 'balanced');
  check(c.labelSmoothing >= 0 && c.labelSmoothing < 1, 'fineTune.labelSmoothing', 'must be in [0, 1)', c.labelSmoothing, 0.1);
  check(c.batchNorm === 'frozen' || c.batchNorm === 'train', 'fineTune.batchNorm', "must be 'frozen' or 'train'", c.batchNorm, 'train', '');
  // No flag sets it: the hint says where it goes in a --config file too.
  if (!(c.weightDecay >= 0)) {
    throw new GraftError('INVALID_CONFIG', `${optionName('fineTune.weightDecay')} must be >= 0. Received: ${String(c.weightDecay)}`, {
      hint: `e.g. ${optionExample('fineTune.weightDecay', 0.0001)}, in a --config file {"fineTune": {"weightDecay": 0.0001}}`,
    });
  }
  return c;
}

