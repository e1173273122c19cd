import { learningRateAt, type ScheduleOptions } from '../lr-schedule.js';
import type { FitCallback } from './types.js';

/** An optimizer whose rate the schedule sets, and its peak rate (discriminative rates: one target per group). */
export interface ScheduledOptimizer {
  readonly maxLr: number;
  setLearningRate(rate: number): void;
}

export interface LrScheduleOptions extends Omit<ScheduleOptions, 'maxLr' | 'totalSteps'> {
  readonly optimizers: readonly ScheduledOptimizer[];
  /** Epochs the schedule spans; defaults to the run's. A run stopped sooner (a refit to a chosen epoch) keeps the longer shape. */
  readonly epochs?: number;
}

/**
 * Sets every optimizer's rate before each batch from `learningRateAt` (one-cycle, cosine, constant), a pure function
 * of the global step, so a resumed run continues on the same curve.
 */
export function lrSchedule(options: LrScheduleOptions): FitCallback {
  const { optimizers, epochs, ...shape } = options;
  return {
    onBatchBegin(epoch, batch, ctx) {
      const batches = ctx.model.batchesPerEpoch;
      const step = (epoch - 1) * batches + (batch - 1);
      const totalSteps = (epochs ?? ctx.epochs) * batches;
      // Each optimizer's own curve (not one curve scaled): the same floats as computing it per group.
      for (const o of optimizers) o.setLearningRate(learningRateAt(step, { ...shape, maxLr: o.maxLr, totalSteps }));
    },
  };
}
