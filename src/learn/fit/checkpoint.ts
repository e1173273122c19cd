import { GraftError } from '../../core/errors.js';
import { loadCheckpoint, otherRunCheckpoint, saveCheckpoint, type TensorTable } from '../checkpoint.js';
import type { EarlyStopping } from './early-stopping.js';
import type { FitCallback, FitContext, FloatValues } from './types.js';

/** An optimizer's state as a checkpoint saves it (Adam's step count and moments). */
export interface OptimizerState {
  save(): Promise<FloatValues[]>;
  load(values: readonly FloatValues[]): Promise<void>;
}

export interface CheckpointOptions {
  readonly path: string;
  /** Hash of everything that decides the run: a checkpoint with another fingerprint is refused, never continued. */
  readonly fingerprint: string;
  /** Continue from the checkpoint at `path` when there is one. */
  readonly resume: boolean;
  /** Saved as is (e.g. the head phase's summary, which a resumed run does not redo). */
  readonly extra?: Record<string, unknown>;
  /** Optimizers whose state is saved, by name (the name prefixes its tensors in the file). */
  readonly optimizers?: Readonly<Record<string, OptimizerState>>;
  /** Whose best epoch (and its weights) is saved and taken back on resume. */
  readonly earlyStopping?: EarlyStopping;
  /** Told when a run continues after `epoch` (before any event of the run). */
  readonly onResume?: (epoch: number) => void;
}

/**
 * Saves a checkpoint after every epoch, and one before the first (epoch 0: what came before training is done);
 * with `resume`, continues from the one at `path`. Together with a model that draws each epoch's randomness from
 * (seed, epoch), a resumed run takes the same steps as one never interrupted.
 *
 * Goes after `earlyStopping` in the callback list, so that the epoch it saves has its best epoch updated.
 * @throws GraftError INVALID_CHECKPOINT when the checkpoint belongs to another run, or lacks a weight.
 */
export function checkpoint(options: CheckpointOptions): FitCallback {
  const optimizers = Object.entries(options.optimizers ?? {});
  const save = async (epoch: number, ctx: FitContext): Promise<void> => {
    const table = new Map<string, FloatValues>();
    const put = (prefix: string, values: readonly FloatValues[]): void => values.forEach((v, i) => table.set(`${prefix}/${i}`, v));
    const { weights } = ctx.model;
    put('current', weights.read());
    const best = options.earlyStopping?.best();
    if (options.earlyStopping) put('best', weights.read(options.earlyStopping.bestWeights()));
    for (const [name, optimizer] of optimizers) put(name, await optimizer.save());
    await saveCheckpoint(options.path, {
      fingerprint: options.fingerprint,
      epoch,
      history: ctx.history,
      // Without early stopping the last epoch is the one kept.
      bestEpoch: best?.epoch ?? epoch,
      bestLoss: best?.value ?? Infinity,
      // So that a resumed run still reports what epoch 0 scored (it does not score it again).
      initialLoss: options.earlyStopping?.initial() ?? null,
      tensors: table,
      extra: options.extra ?? {},
    });
  };

  return {
    async onTrainBegin(ctx) {
      const saved = options.resume ? await loadCheckpoint(options.path) : undefined;
      if (!saved) return save(0, ctx);
      if (saved.fingerprint !== options.fingerprint) {
        throw otherRunCheckpoint(options.path);
      }
      const { weights } = ctx.model;
      const current = weights.fromValues(valuesOf(saved.tensors, 'current', weights.shapes));
      try {
        weights.assign(current);
      } finally {
        current.dispose();
      }
      if (options.earlyStopping) {
        options.earlyStopping.resumeFrom({ epoch: saved.bestEpoch, value: saved.bestLoss, weights: weights.fromValues(valuesOf(saved.tensors, 'best', weights.shapes)) }, saved.initialLoss ?? undefined);
      }
      for (const [name, optimizer] of optimizers) await optimizer.load(optimizerValues(saved.tensors, name));
      ctx.resume(saved.epoch, saved.history);
      options.onResume?.(saved.epoch);
    },
    async onEpochEnd(epoch, _logs, ctx) {
      await save(epoch, ctx);
    },
  };
}

/** `prefix/0`, `prefix/1`, ... checked against the model's shapes. */
function valuesOf(table: TensorTable, prefix: string, shapes: readonly (readonly number[])[]): FloatValues[] {
  return shapes.map((shape, i) => {
    const t = table.get(`${prefix}/${i}`);
    const size = shape.reduce((a, b) => a * b, 1);
    if (!t || t.data.length !== size) throw new GraftError('INVALID_CHECKPOINT', `Checkpoint lacks ${prefix}/${i} (shape [${shape.join(', ')}])`, { hint: 'delete the checkpoint to start over' });
    return { shape, data: t.data };
  });
}

/** An optimizer's tensors, as many as were saved (Adam's count depends on the variables it has seen). */
function optimizerValues(table: TensorTable, prefix: string): FloatValues[] {
  const values: FloatValues[] = [];
  for (let i = 0; table.has(`${prefix}/${i}`); i++) values.push(table.get(`${prefix}/${i}`)!);
  return values;
}
