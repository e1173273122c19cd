import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../core/errors.js';
import { optionExample } from '../core/option-name.js';
import type { EpochLogs, ProgressListener } from '../core/progress.js';
import type { DenseLayerWeights } from '../core/dense-layer.js';
import type { FineTuneConfig } from './fine-tune-config.js';
import { classWeightsFor } from './class-weights.js';
import { fit } from './fit/fit.js';
import { earlyStopping } from './fit/early-stopping.js';
import { checkpoint } from './fit/checkpoint.js';
import { lrSchedule } from './fit/lr-schedule.js';
import { progress } from './fit/progress.js';
import { optimizerState, scheduledOptimizer } from './fit/tfjs-weights.js';
import type { FitCallback } from './fit/types.js';
import { cutModel } from './fine-tune-model.js';
import { headVariables, toDenseLayers, type CutActivations, type TrainableSuffix } from './fine-tune-step.js';

export { predictCut, type CutActivations, type TrainableSuffix } from './fine-tune-step.js';

/** Keras's BatchNormalization default. */
const BATCH_NORM_MOMENTUM = 0.99;

export interface FineTuneLoopOptions {
  readonly suffix: TrainableSuffix;
  /** The head trained on frozen features (raw features in, softmax out): the starting point. */
  readonly head: readonly DenseLayerWeights[];
  /** Dropout rate before each hidden layer's output, as in the head phase. */
  readonly headDropout: number;
  readonly train: CutActivations;
  /**
   * Held-out training images that choose the epoch (val_loss): the lowest wins, epoch 0 (the head alone) included.
   * Without it, the last epoch run is kept.
   */
  readonly val?: CutActivations;
  /** Stop after this epoch, with the schedule still laid out over `config.epochs` (a refit to a chosen epoch). */
  readonly stopAfterEpoch?: number;
  readonly numClasses: number;
  readonly config: FineTuneConfig;
  readonly seed: number;
  readonly onProgress?: ProgressListener;
  /** Checked before every batch: aborting stops with GraftError CANCELLED. */
  readonly signal?: AbortSignal;
  /** Saves a checkpoint after every epoch; with `resume`, continues from the one at `path` if its fingerprint matches. */
  readonly checkpoint?: { readonly path: string; readonly fingerprint: string; readonly resume: boolean; readonly extra?: Record<string, unknown> };
}

export interface FineTuneLoopResult {
  /** The best epoch's head; the suffix's variables hold the best epoch's weights too. */
  readonly head: DenseLayerWeights[];
  readonly history: EpochLogs[];
  /** 1-based fine-tuning epoch whose weights were kept (0: none beat the head phase's starting point). */
  readonly bestEpoch: number;
  /** val_loss of the starting point (epoch 0: the head alone), which an epoch must beat; null without `val`. */
  readonly initialValLoss: number | null;
  readonly stoppedEarly: boolean;
  /** Fine-tuning epochs already done by an interrupted run this one resumed (0 when it started fresh). */
  readonly resumedAfter: number;
  /** Training images per second over the steps this run took (forward + backward + update). */
  readonly trainImgPerSec: number;
}

/**
 * Trains the unfrozen suffix and the head together on cached cut activations (fastai's `fine_tune` after the
 * freeze epochs): Adam with discriminative rates (body at `learningRate * bodyLrRatio`), a one-cycle or cosine
 * schedule, label smoothing, optional class weights, early stopping on val_loss keeping the best weights (epoch 0,
 * the head alone, competing), and a checkpoint after every epoch. The loop is `fit`; the steps are `cutModel`'s.
 */
export async function fineTuneLoop(options: FineTuneLoopOptions): Promise<FineTuneLoopResult> {
  const { suffix, config, train, val, numClasses, onProgress } = options;
  if (train.labels.length === 0) throw new GraftError('INVALID_DATASET', 'No training images to fine-tune on');
  const head = headVariables(options.head);
  const bodyVars = suffix.trainableVariables();
  const headVars = [...head.kernels, ...head.biases];
  // What a checkpoint and the best-epoch snapshot keep: the trained weights, plus BatchNorm's running statistics
  // when they move (training-mode BatchNorm).
  const momentum = config.batchNorm === 'train' ? BATCH_NORM_MOMENTUM : undefined;
  const allVars = [...bodyVars, ...headVars, ...(momentum === undefined ? [] : (suffix.stateVariables?.() ?? []))];
  const bodyOptimizer = tf.train.adam(config.learningRate * config.bodyLrRatio);
  const headOptimizer = tf.train.adam(config.learningRate);
  // Everything made here is freed however the run ends (cancelled, or a progress listener throwing).
  try {
    const step = {
      suffix, head, bodyVars, headVars, bodyOptimizer, headOptimizer, config, numClasses,
      classWeights: classWeightsFor(train.labels, numClasses, config.classWeights),
      dropout: options.headDropout,
      dropoutSeed: 0,
      batchNormMomentum: momentum,
    };
    const model = cutModel(step, { train, ...(val ? { val } : {}), seed: options.seed }, allVars);
    // Without held-out images nothing chooses an epoch: the last one run is kept.
    const stopping = val ? earlyStopping({ monitor: 'val_loss', patience: config.patience, minDelta: 1e-6, includeInitial: true }) : undefined;
    const saving = options.checkpoint
      ? checkpoint({
          ...options.checkpoint,
          optimizers: { 'opt-body': optimizerState(bodyOptimizer, 'opt-body'), 'opt-head': optimizerState(headOptimizer, 'opt-head') },
          ...(stopping ? { earlyStopping: stopping } : {}),
          onResume: (epoch) => onProgress?.({ type: 'info', message: `resuming fine-tuning after epoch ${epoch} from ${options.checkpoint!.path}` }),
        })
      : undefined;
    const schedule = lrSchedule({
      kind: config.schedule,
      epochs: config.epochs,
      optimizers: [scheduledOptimizer(headOptimizer, config.learningRate), scheduledOptimizer(bodyOptimizer, config.learningRate * config.bodyLrRatio)],
    });
    const callbacks: FitCallback[] = [
      ...(stopping ? [stopping] : []),
      ...(saving ? [saving] : []),
      schedule,
      progress(onProgress, { phase: 'fine-tune', epochs: config.epochs, trainCount: train.labels.length, valCount: val?.labels.length ?? 0 }),
    ];
    const run = await fit(model, { epochs: Math.min(config.epochs, options.stopAfterEpoch ?? config.epochs), callbacks, signal: options.signal }).catch((error: unknown) => {
      throw outOfMemory(error, config.batchSize) ?? error;
    });
    return {
      head: toDenseLayers(head, options.head),
      history: run.history,
      bestEpoch: stopping ? stopping.best().epoch : run.history.length,
      initialValLoss: stopping?.initial() ?? null,
      stoppedEarly: run.stopped?.reason === 'early-stopping',
      resumedAfter: run.initialEpoch,
      trainImgPerSec: model.imagesPerSecond(),
    };
  } finally {
    headVars.forEach((v) => v.dispose());
    bodyOptimizer.dispose();
    headOptimizer.dispose();
  }
}

/**
 * tfjs-wasm's heap is one WebAssembly memory of at most 4 GB; a batch of the whole network's activations and their
 * gradients can pass it (MobileNetV2 at 224 px, `--unfreeze all`, batch 32: ~4.5 GB), and the kernels then fail with
 * a bare "memory access out of bounds". Said as what to change instead.
 */
function outOfMemory(error: unknown, batchSize: number): GraftError | undefined {
  const message = error instanceof Error ? error.message : String(error);
  if (!/memory access out of bounds|out of memory|Cannot allocate Wasm memory|Array buffer allocation failed/i.test(message)) return undefined;
  const smaller = Math.max(1, Math.floor(batchSize / 4));
  return new GraftError('INVALID_CONFIG', `Fine-tuning ran out of memory at batch size ${batchSize} (${message}): the unfrozen layers' activations and gradients for one batch do not fit in WebAssembly's 4 GB`, {
    hint: `lower the batch size (e.g. ${optionExample('fineTune.batchSize', smaller)}), or unfreeze fewer layers (${optionExample('fineTune.unfreeze', 'last:3')}), and run again`,
    cause: error,
  });
}
