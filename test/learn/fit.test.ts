import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../../src/core/errors.js';
import { ensureTfjsBackend } from '../../src/runtime/tfjs-backend.js';
import { earlyStopping, fit, progress, type FitCallback, type FitModel } from '../../src/learn/fit/index.js';
import { variableWeights } from '../../src/learn/fit/tfjs-weights.js';
import type { ProgressEvent } from '../../src/core/progress.js';

/**
 * A one-weight model whose validation loss is scripted per epoch: the weight counts the steps taken, so the
 * weights of any epoch are known (epoch e ends with w = e * batches).
 */
function scripted(valLosses: readonly number[], batches = 3): { model: FitModel; w: tf.Variable } {
  // tidy frees the initial scalar (the variable keeps its own copy).
  const w = tf.tidy(() => tf.variable(tf.scalar(0)));
  let epochNow = 0;
  const model: FitModel = {
    batchesPerEpoch: batches,
    weights: variableWeights([w]),
    beginEpoch: (epoch) => {
      epochNow = epoch;
    },
    trainBatch: () => {
      tf.tidy(() => w.assign(w.add(1)));
      return { size: 2, loss: 1, hits: 1 };
    },
    validate: () => ({ val_loss: valLosses[epochNow - 1]!, val_acc: 0 }),
  };
  return { model, w };
}

describe('fit', () => {
  it('early stopping stops after `patience` epochs without improvement and restores the best epoch', async () => {
    await ensureTfjsBackend();
    const before = tf.memory().numTensors;
    const { model, w } = scripted([0.9, 0.5, 0.4, 0.6, 0.45, 0.41, 0.3, 0.2]);
    const stopping = earlyStopping({ monitor: 'val_loss', patience: 3, minDelta: 1e-6 });
    const events: ProgressEvent[] = [];
    const run = await fit(model, { epochs: 8, callbacks: [stopping, progress((e) => events.push(e), { trainCount: 6, valCount: 2 })] });
    expect(run.history.map((h) => h.val_loss)).toEqual([0.9, 0.5, 0.4, 0.6, 0.45, 0.41]);
    expect(run.stopped).toEqual({ reason: 'early-stopping', epoch: 6, bestEpoch: 3 });
    expect(stopping.best()).toEqual({ epoch: 3, value: 0.4 });
    // Epoch 3 ended after 9 steps.
    expect(w.dataSync()[0]).toBe(9);
    expect(events.filter((e) => e.type !== 'batch-end').map((e) => e.type)).toEqual(['train-start', ...Array(6).fill('epoch-end'), 'early-stop']);
    expect(events.at(-1)).toEqual({ type: 'early-stop', epoch: 6, bestEpoch: 3 });
    w.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('never reports an early stop at the last epoch, and patience 0 never stops', async () => {
    await ensureTfjsBackend();
    for (const [patience, epochs] of [[2, 4], [0, 6]] as const) {
      const { model, w } = scripted([0.5, 0.6, 0.7, 0.8, 0.9, 1]);
      const stopping = earlyStopping({ monitor: 'val_loss', patience });
      const run = await fit(model, { epochs, callbacks: [stopping] });
      expect(run.history).toHaveLength(epochs === 4 ? 3 : 6);
      expect(run.stopped?.reason).toBe(epochs === 4 ? 'early-stopping' : undefined);
      expect(w.dataSync()[0]).toBe(3);
      w.dispose();
    }
    // Stops at epoch 3 = best 1 + patience 2 < 4; with epochs 3 it runs to the end without a stop.
    const { model, w } = scripted([0.5, 0.6, 0.7]);
    const run = await fit(model, { epochs: 3, callbacks: [earlyStopping({ monitor: 'val_loss', patience: 2 })] });
    expect(run.stopped).toBeUndefined();
    expect(w.dataSync()[0]).toBe(3);
    w.dispose();
  });

  it('with includeInitial, the starting weights win when no epoch beats them', async () => {
    await ensureTfjsBackend();
    const { model, w } = scripted([2, 3, 4]);
    // Before the first epoch the model scores 1.
    let epoch = 0;
    const scriptedModel: FitModel = { ...model, beginEpoch: (e) => void (epoch = e), validate: () => ({ val_loss: epoch === 0 ? 1 : [2, 3, 4][epoch - 1]!, val_acc: 0 }) };
    const stopping = earlyStopping({ monitor: 'val_loss', patience: 0, includeInitial: true });
    await fit(scriptedModel, { epochs: 3, callbacks: [stopping] });
    expect(stopping.best()).toEqual({ epoch: 0, value: 1 });
    expect(w.dataSync()[0]).toBe(0);
    w.dispose();
  });

  it('an aborted signal stops within a batch with CANCELLED and leaves no tensors', async () => {
    await ensureTfjsBackend();
    const before = tf.memory().numTensors;
    const { model, w } = scripted([1, 1, 1], 5);
    const controller = new AbortController();
    let steps = 0;
    const abortAt: FitCallback = {
      onBatchEnd: (epoch, batch) => {
        steps++;
        if (epoch === 2 && batch === 2) controller.abort();
      },
    };
    const error = await fit(model, { epochs: 3, signal: controller.signal, callbacks: [earlyStopping({ monitor: 'val_loss', patience: 1 }), abortAt] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GraftError);
    expect((error as GraftError).code).toBe('CANCELLED');
    // Epoch 2's second batch was the last step taken.
    expect(steps).toBe(7);
    expect(w.dataSync()[0]).toBe(7);
    w.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('calls callbacks in order: train, epochs, batches, each in list order', async () => {
    await ensureTfjsBackend();
    const { model, w } = scripted([1, 1], 2);
    const calls: string[] = [];
    const recorder = (name: string): FitCallback => ({
      onTrainBegin: () => void calls.push(`${name}:train-begin`),
      onEpochBegin: (e) => void calls.push(`${name}:epoch-begin ${e}`),
      onBatchBegin: (e, b) => void calls.push(`${name}:batch-begin ${e}.${b}`),
      onBatchEnd: (e, b) => void calls.push(`${name}:batch-end ${e}.${b}`),
      onEpochEnd: (e, logs) => void calls.push(`${name}:epoch-end ${e} ${logs.val_loss}`),
      onTrainEnd: () => void calls.push(`${name}:train-end`),
      dispose: () => void calls.push(`${name}:dispose`),
    });
    const run = await fit(model, { epochs: 2, callbacks: [recorder('a'), recorder('b')] });
    expect(run.history).toEqual([{ loss: 1, acc: 0.5, val_loss: 1, val_acc: 0 }, { loss: 1, acc: 0.5, val_loss: 1, val_acc: 0 }]);
    const both = (call: string): string[] => [`a:${call}`, `b:${call}`];
    expect(calls).toEqual([
      ...both('train-begin'),
      ...[1, 2].flatMap((e) => [...both(`epoch-begin ${e}`), ...[1, 2].flatMap((b) => [...both(`batch-begin ${e}.${b}`), ...both(`batch-end ${e}.${b}`)]), ...both(`epoch-end ${e} 1`)]),
      ...both('train-end'),
      ...both('dispose'),
    ]);
    w.dispose();
  });

  it('a resumed run continues after the epoch it is given, with its history', async () => {
    await ensureTfjsBackend();
    const { model, w } = scripted([0.5, 0.4, 0.3, 0.2]);
    const resume: FitCallback = { onTrainBegin: (ctx) => ctx.resume(2, [{ loss: 1, acc: 0 }, { loss: 1, acc: 0 }]) };
    const run = await fit(model, { epochs: 4, callbacks: [resume] });
    expect(run.initialEpoch).toBe(2);
    expect(run.history).toHaveLength(4);
    expect(w.dataSync()[0]).toBe(6);
    w.dispose();
  });
});
