import type { ProgressListener, TrainPhase } from '../../core/progress.js';
import type { FitCallback } from './types.js';

export interface ProgressOptions {
  /** Set on `train-start` and `epoch-end` events (absent: the head phase, as before phases existed). */
  readonly phase?: TrainPhase;
  /** The epoch count events announce; defaults to the run's (a refit stopped sooner announces the full schedule). */
  readonly epochs?: number;
  readonly trainCount: number;
  readonly valCount: number;
}

/**
 * Reports the run as ProgressEvents: `train-start`, `batch-end` per batch, `epoch-end` with the epoch's logs and
 * seconds, and `early-stop` after the epoch that stopped the run. Goes last in the callback list, so an epoch's
 * time includes the other callbacks' work (a checkpoint's write) and a stop request is already made.
 */
export function progress(listener: ProgressListener | undefined, options: ProgressOptions): FitCallback {
  const phase = options.phase === undefined ? {} : { phase: options.phase };
  let started = 0;
  return {
    onTrainBegin(ctx) {
      listener?.({ type: 'train-start', ...phase, epochs: options.epochs ?? ctx.epochs, trainCount: options.trainCount, valCount: options.valCount });
    },
    onEpochBegin() {
      started = performance.now();
    },
    onBatchEnd(epoch, batch, _result, ctx) {
      listener?.({ type: 'batch-end', epoch, batch, batches: ctx.model.batchesPerEpoch });
    },
    onEpochEnd(epoch, logs, ctx) {
      listener?.({ type: 'epoch-end', ...phase, epoch, epochs: options.epochs ?? ctx.epochs, logs, seconds: (performance.now() - started) / 1000 });
      const stop = ctx.stopRequest;
      if (stop?.reason === 'early-stopping' && stop.epoch === epoch) listener?.({ type: 'early-stop', epoch, bestEpoch: stop.bestEpoch });
    },
  };
}
