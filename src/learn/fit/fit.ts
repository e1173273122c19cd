import { GraftError } from '../../core/errors.js';
import type { EpochLogs } from '../../core/progress.js';
import type { FitCallback, FitContext, FitModel, FitOptions, FitResult, StopRequest } from './types.js';

/**
 * The one training loop (Keras's `fit`, fastai's `Learner.fit`): epochs of batches, callbacks around each, a
 * stop request honoured between epochs, and `signal` checked before every batch. What is particular to a model
 * (its data, steps, randomness) is in the FitModel; what is particular to a run (early stopping, checkpoints,
 * schedules, progress events) is in callbacks.
 *
 * @throws GraftError CANCELLED when `signal` aborts; every callback's `dispose` runs however the run ends.
 */
export async function fit(model: FitModel, options: FitOptions): Promise<FitResult> {
  const callbacks = options.callbacks ?? [];
  let history: EpochLogs[] = [];
  let initialEpoch = 0;
  let stopRequest: StopRequest | undefined;
  let starting = true;
  const context: FitContext = {
    model,
    epochs: options.epochs,
    get history() {
      return history;
    },
    get initialEpoch() {
      return initialEpoch;
    },
    get stopRequest() {
      return stopRequest;
    },
    stop(request) {
      stopRequest ??= request;
    },
    resume(epoch, done) {
      if (!starting) throw new GraftError('INTERNAL', 'fit: resume() is only possible from onTrainBegin');
      initialEpoch = epoch;
      history = [...done];
    },
  };
  const each = async (call: (callback: FitCallback) => void | Promise<void>): Promise<void> => {
    for (const callback of callbacks) await call(callback);
  };
  try {
    checkAborted(options.signal);
    await each((c) => c.onTrainBegin?.(context));
    starting = false;
    for (let epoch = initialEpoch + 1; epoch <= options.epochs && !stopRequest; epoch++) {
      await each((c) => c.onEpochBegin?.(epoch, context));
      if (stopRequest) break;
      model.beginEpoch?.(epoch);
      let lossSum = 0;
      let hits = 0;
      let count = 0;
      for (let batch = 1; batch <= model.batchesPerEpoch; batch++) {
        checkAborted(options.signal);
        await each((c) => c.onBatchBegin?.(epoch, batch, context));
        const result = await model.trainBatch(epoch, batch);
        lossSum += result.loss * result.size;
        hits += result.hits;
        count += result.size;
        await each((c) => c.onBatchEnd?.(epoch, batch, result, context));
        // A step takes a fraction of a second; yielding after each lets a server cancel or stream mid-epoch.
        await new Promise((resolve) => setImmediate(resolve));
      }
      checkAborted(options.signal);
      const logs: EpochLogs = { loss: lossSum / count, acc: hits / count };
      if (model.validate) Object.assign(logs, model.validate());
      history.push(logs);
      await each((c) => c.onEpochEnd?.(epoch, logs, context));
    }
    await each((c) => c.onTrainEnd?.(context));
    return { history, stopped: stopRequest, initialEpoch };
  } finally {
    for (const callback of callbacks) callback.dispose?.();
  }
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new GraftError('CANCELLED', 'Training was cancelled');
}
