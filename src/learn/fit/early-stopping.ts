import { GraftError } from '../../core/errors.js';
import type { EpochLogs } from '../../core/progress.js';
import type { FitCallback, FitContext, WeightsSnapshot } from './types.js';

export interface EarlyStoppingOptions {
  /** The metric watched; lower is better for losses, higher for accuracies. */
  readonly monitor: keyof EpochLogs;
  /** Epochs without improvement before stopping; 0 never stops (the best epoch is still tracked and kept). */
  readonly patience: number;
  /** An epoch improves only when it beats the best by more than this. Default 0. */
  readonly minDelta?: number;
  /** Put the best epoch's weights back when the run ends (Keras's restore_best_weights). Default true. */
  readonly restoreBest?: boolean;
  /**
   * The starting weights compete as epoch 0, scored by the model's `validate()` (fine-tuning starts from a trained
   * head, which it must beat). Otherwise epoch 0 scores worst: a randomly initialised head never wins.
   */
  readonly includeInitial?: boolean;
}

/** The best epoch so far: 0 is the weights training started from. */
export interface BestEpoch {
  readonly epoch: number;
  readonly value: number;
  readonly weights: WeightsSnapshot;
}

export interface EarlyStopping extends FitCallback {
  /** The best epoch so far and its monitored value; after the run, the one kept. */
  best(): Omit<BestEpoch, 'weights'>;
  /** The best epoch's weights, while the run lasts (they are freed when it ends). */
  bestWeights(): WeightsSnapshot;
  /**
   * The starting weights' monitored value (epoch 0), once scored: what an epoch must beat to be kept. Undefined
   * without `includeInitial`, before the run, or after resuming from a checkpoint that did not keep it.
   */
  initial(): number | undefined;
  /**
   * Takes over a best epoch saved by an interrupted run (a checkpoint being resumed), `value` and `initial` (epoch 0's,
   * where kept) in the metric's own units; owns `best.weights` from here.
   */
  resumeFrom(best: BestEpoch, initial?: number): void;
}

/**
 * Keras's EarlyStopping with restore_best_weights. One condition for every Graft loop: stop after an epoch that is
 * `patience` or more epochs past the best one, unless it is the last (so the last epoch never reports an early stop),
 * and, for a resumed run whose interrupted predecessor had already run out of patience, before the next epoch starts.
 * The two loops this replaces differed there: fine-tuning's resumed check stopped without calling it an early stop;
 * here it is one (the uninterrupted run stopped early at that epoch). Whether the starting weights compete is
 * `includeInitial` (fine-tuning: yes; a new head: no).
 */
export function earlyStopping(options: EarlyStoppingOptions): EarlyStopping {
  const minDelta = options.minDelta ?? 0;
  const sign = options.monitor.endsWith('acc') ? -1 : 1;
  let context: FitContext | undefined;
  let best: { epoch: number; value: number | undefined; weights: WeightsSnapshot | undefined } | undefined;
  let startValue: number | undefined;

  const current = (): Omit<BestEpoch, 'weights'> => {
    if (!best || !context) throw new GraftError('INTERNAL', 'earlyStopping: the run has not started');
    // Scored when first needed, so that a resumed run (which takes its best epoch from the checkpoint) never pays for it.
    if (best.value === undefined) {
      const initial: Partial<EpochLogs> | undefined = options.includeInitial ? context.model.validate?.() : undefined;
      const value = initial?.[options.monitor];
      startValue = value;
      best.value = value === undefined ? Infinity : sign * value;
    }
    return { epoch: best.epoch, value: sign * best.value };
  };
  const weights = (): WeightsSnapshot => {
    if (!best?.weights) throw new GraftError('INTERNAL', 'earlyStopping: no best weights outside a run');
    return best.weights;
  };
  const exhausted = (epoch: number): boolean => options.patience > 0 && epoch - current().epoch >= options.patience;

  return {
    onTrainBegin(ctx) {
      context = ctx;
      best = { epoch: 0, value: undefined, weights: ctx.model.weights.snapshot() };
      startValue = undefined;
    },
    onEpochBegin(epoch, ctx) {
      // current() scores the starting weights here at the latest, before any step changes them.
      const { epoch: bestEpoch } = current();
      if (exhausted(epoch - 1)) ctx.stop({ reason: 'early-stopping', epoch: epoch - 1, bestEpoch });
    },
    onEpochEnd(epoch, logs, ctx) {
      const value = logs[options.monitor];
      if (value !== undefined && sign * value < sign * current().value - minDelta) {
        best!.weights?.dispose();
        best = { epoch, value: sign * value, weights: ctx.model.weights.snapshot() };
      }
      if (exhausted(epoch) && epoch < ctx.epochs) ctx.stop({ reason: 'early-stopping', epoch, bestEpoch: best!.epoch });
    },
    onTrainEnd(ctx) {
      if (options.restoreBest ?? true) ctx.model.weights.assign(weights());
    },
    dispose() {
      // The best epoch stays readable (`best()`); only its weights go.
      best?.weights?.dispose();
      if (best) best.weights = undefined;
    },
    best: current,
    bestWeights: weights,
    initial: () => startValue,
    resumeFrom(saved, savedInitial) {
      best?.weights?.dispose();
      best = { epoch: saved.epoch, value: sign * saved.value, weights: saved.weights };
      startValue = savedInitial;
    },
  };
}
