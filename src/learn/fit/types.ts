import type { EpochLogs } from '../../core/progress.js';

/** A tensor's values as float32, row-major (what checkpoints store). */
export interface FloatValues {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** A copy of a model's weights, held until disposed. Opaque: only the `Weights` that made it can read or assign it. */
export interface WeightsSnapshot {
  dispose(): void;
}

/**
 * A model's weights as callbacks see them: copied (early stopping's best epoch), put back, read and rebuilt
 * (checkpoints). Graft's own type, so the public API names no tfjs declaration.
 */
export interface Weights {
  /** Shape of each weight, in a fixed order (the order `read` and `fromValues` use). */
  readonly shapes: readonly (readonly number[])[];
  snapshot(): WeightsSnapshot;
  assign(snapshot: WeightsSnapshot): void;
  /** float32 copies of the snapshot's values, or of the current ones. */
  read(snapshot?: WeightsSnapshot): FloatValues[];
  /** A snapshot holding saved values (as many, and as large, as `shapes` says). */
  fromValues(values: readonly FloatValues[]): WeightsSnapshot;
}

/** What one training step reports. */
export interface BatchResult {
  /** Examples in the batch. */
  readonly size: number;
  /** Mean loss over the batch. */
  readonly loss: number;
  /** Correctly classified examples in the batch. */
  readonly hits: number;
}

/**
 * What `fit` trains: it owns its data, optimizer(s) and randomness, and takes one step per call. The MLP head
 * steps on feature rows; fine-tuning steps on cached cut activations, one augmented view per image.
 */
export interface FitModel {
  readonly batchesPerEpoch: number;
  readonly weights: Weights;
  /** Lays out an epoch (shuffles the order, draws views) before its first batch. */
  beginEpoch?(epoch: number): void;
  /** Trains on the epoch's `batch`-th batch (1-based). */
  trainBatch(epoch: number, batch: number): BatchResult | Promise<BatchResult>;
  /** Metrics of the current weights on held-out data, merged into each epoch's logs; absent without held-out data. */
  validate?(): { val_loss: number; val_acc: number };
}

/** Why a callback asked the loop to stop; `fit` returns it. */
export type StopRequest =
  /** The monitored metric has not improved for `patience` epochs; `bestEpoch` is the one kept (0: the starting weights). */
  | { readonly reason: 'early-stopping'; readonly epoch: number; readonly bestEpoch: number }
  /** Any other callback's reason, in words. */
  | { readonly reason: 'requested'; readonly message: string };

/** What a callback sees of the run. */
export interface FitContext {
  readonly model: FitModel;
  /** The last epoch the run may reach. */
  readonly epochs: number;
  /** Logs of every epoch done, those of a resumed run included. */
  readonly history: readonly EpochLogs[];
  /** Epochs done before this call (a run resumed from a checkpoint); 0 for a fresh run. */
  readonly initialEpoch: number;
  readonly stopRequest: StopRequest | undefined;
  /** Ends the run after the current epoch (or before it starts, from `onEpochBegin`). The first request wins. */
  stop(request: StopRequest): void;
  /** Continues after `epoch` with its history: only from `onTrainBegin` (a checkpoint being resumed). */
  resume(epoch: number, history: readonly EpochLogs[]): void;
}

type Hook<A extends unknown[]> = (...args: [...A, FitContext]) => void | Promise<void>;

/**
 * Keras-style callbacks, called in list order at each point. Callbacks that depend on another's work come after
 * it (early stopping updates the best epoch before a checkpoint saves it, both before progress reports it).
 */
export interface FitCallback {
  readonly onTrainBegin?: Hook<[]>;
  readonly onEpochBegin?: Hook<[epoch: number]>;
  readonly onBatchBegin?: Hook<[epoch: number, batch: number]>;
  readonly onBatchEnd?: Hook<[epoch: number, batch: number, result: BatchResult]>;
  readonly onEpochEnd?: Hook<[epoch: number, logs: EpochLogs]>;
  /** Only after a run that ended normally (stopped early included), not after an error or a cancel. */
  readonly onTrainEnd?: Hook<[]>;
  /** Frees what the callback holds, however the run ended. */
  readonly dispose?: () => void;
}

export interface FitOptions {
  readonly epochs: number;
  readonly callbacks?: readonly FitCallback[];
  /** Checked before every batch: aborting stops the run with GraftError CANCELLED. */
  readonly signal?: AbortSignal;
}

export interface FitResult {
  readonly history: EpochLogs[];
  /** Set when a callback stopped the run before `epochs`. */
  readonly stopped: StopRequest | undefined;
  /** Epochs done before this call (see FitContext.initialEpoch). */
  readonly initialEpoch: number;
}
