import { GraftError } from '../core/errors.js';
import { optionExample, optionName, type OptionPath } from '../core/option-name.js';
import { DEFAULT_HEAD, headFromConfig, type HeadConfig } from './head-config.js';
import { definedOnly } from '../core/defined-only.js';
import type { TrainConfig } from '../core/training-config.js';

// The types are plain data in core/ (the manifest records them); learn/ keeps their public names here.
export type { AutoOr, TrainConfig } from '../core/training-config.js';

/** Defaults chosen by measurement on the five datasets in ../shared/datasets (bench/RESULTS.md, "Heads"). */
export const DEFAULT_TRAIN: TrainConfig = {
  version: 2,
  head: DEFAULT_HEAD,
  multiScale: true,
  c: 'auto',
  mirror: 'auto',
  tta: 'auto',
  // Off: cross-validated crop rows gained +0.40 points on average over the ten dataset/backbone pairs (+2.0 on
  // seedlings, -0.6 on dtd10 with TM) for 3-5x the head's time and 3x the training set's extraction
  // (bench/RESULTS.md, "What the recipe is", item 12).
  crops: 'off',
  folds: 'auto',
  groupBy: null,
  // Rare classes weighed up: on training folders cut to class sizes 10:1 it won 2.5-11 points over unweighted on
  // balanced test folders and lost nothing on average where the test images come in the training proportions
  // (bench/RESULTS.md, "Classes of very different sizes"). Where classes are the same size it changes nothing.
  classWeights: 'balanced',
  epochs: 60,
  batchSize: 32,
  learningRate: 1e-3,
  patience: 8,
  weightDecay: 1e-4,
  labelSmoothing: 0,
  seed: 42,
};

/** What a caller may pass: any subset, the head partially. */
export type TrainConfigInput = Partial<Omit<TrainConfig, 'head' | 'version'>> & { head?: Partial<HeadConfig>; version?: number };

/** Merges user options over the defaults and validates every value, rejecting unknown keys. Version 1 configs replay. */
export function trainConfigFrom(options: TrainConfigInput = {}): TrainConfig {
  const known = Object.keys(DEFAULT_TRAIN);
  const unknown = Object.keys(options).filter((k) => !known.includes(k));
  if (unknown.length) throw new GraftError('INVALID_CONFIG', `Unknown training options: ${unknown.join(', ')}. Known: ${known.join(', ')}`);
  const merged: TrainConfig = {
    ...DEFAULT_TRAIN,
    ...(definedOnly(options) as Partial<TrainConfig>),
    version: 2,
    head: headFromConfig({ ...DEFAULT_TRAIN.head, ...definedOnly(options.head ?? {}) }),
  };
  // Each message names the option and its flag (`epochs (--epochs)`): a library caller and a CLI user read the same one.
  const check = (ok: boolean, option: OptionPath, rule: string, value: unknown, example: Parameters<typeof optionExample>[1], shellExample?: string): void => {
    if (!ok) throw new GraftError('INVALID_CONFIG', `${optionName(option)} ${rule}. Received: ${String(value)}`, { hint: `e.g. ${optionExample(option, example, shellExample)}` });
  };
  const isAutoOr = (value: unknown, allowed: readonly unknown[]): boolean => value === 'auto' || allowed.includes(value);
  check(typeof merged.multiScale === 'boolean', 'multiScale', 'must be true or false', merged.multiScale, false);
  check(merged.c === 'auto' || (typeof merged.c === 'number' && merged.c > 0 && Number.isFinite(merged.c)), 'c', 'must be a positive number or auto', merged.c, 0.1);
  check(isAutoOr(merged.mirror, ['on', 'off']), 'mirror', 'must be on, off or auto', merged.mirror, 'off');
  check(isAutoOr(merged.tta, ['on', 'off']), 'tta', 'must be on, off or auto', merged.tta, 'off');
  check(isAutoOr(merged.crops, ['on', 'off']), 'crops', 'must be on, off or auto', merged.crops, 'off');
  check(merged.folds === 'auto' || (Number.isInteger(merged.folds) && merged.folds >= 2 && merged.folds <= 20), 'folds', 'must be auto or an integer from 2 to 20', merged.folds, 5);
  check(merged.groupBy === null || (typeof merged.groupBy === 'string' && merged.groupBy.length > 0), 'groupBy', 'must be a regular expression', merged.groupBy, '^(\\d+_\\d+)_', "'^(\\d+_\\d+)_'");
  check(['none', 'balanced'].includes(merged.classWeights), 'classWeights', 'must be none or balanced', merged.classWeights, 'balanced');
  check(Number.isInteger(merged.epochs) && merged.epochs >= 1, 'epochs', 'must be a positive integer', merged.epochs, 30);
  check(Number.isInteger(merged.batchSize) && merged.batchSize >= 1, 'batchSize', 'must be a positive integer', merged.batchSize, 32);
  check(merged.learningRate > 0 && merged.learningRate < 10, 'learningRate', 'must be in (0, 10)', merged.learningRate, 0.001);
  check(Number.isInteger(merged.patience) && merged.patience >= 0, 'patience', 'must be a non-negative integer', merged.patience, 8);
  check(merged.weightDecay >= 0, 'weightDecay', 'must be >= 0', merged.weightDecay, 0.0001);
  check(merged.labelSmoothing >= 0 && merged.labelSmoothing < 1, 'labelSmoothing', 'must be in [0, 1)', merged.labelSmoothing, 0.1);
  check(Number.isInteger(merged.seed), 'seed', 'must be an integer', merged.seed, 1);
  return merged;
}
