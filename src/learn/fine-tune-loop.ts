import * as tf from '@tensorflow/tfjs';
import { deriveSeed, mulberry32, randomInt, shuffleInPlace } from '../core/random.js';
import { GraftError } from '../core/errors.js';
import type { EpochLogs, ProgressListener } from '../core/progress.js';
import { loadCheckpoint, saveCheckpoint, type TensorTable } from './checkpoint.js';
import type { DenseLayerWeights } from '../core/dense-layer.js';
import { classWeightsFor, type FineTuneConfig } from './fine-tune-config.js';
import { learningRateAt } from './lr-schedule.js';

/** The trainable part of the backbone (cut tensor in, features out), e.g. an imported ONNX suffix. */
export interface TrainableSuffix {
  /**
   * Runs on a batch of cut activations; `training` switches Dropout, and with `batchNormMomentum` BatchNorm
   * normalizes with batch statistics and updates its running ones (otherwise it keeps its stored statistics).
   */
  predict(input: tf.Tensor, options?: { training?: boolean; batchNormMomentum?: number }): tf.Tensor;
  trainableVariables(): tf.Variable[];
  /** Weights that change without gradients (BatchNorm's running statistics), saved with checkpoints. */
  stateVariables?(): tf.Variable[];
}

/** Keras's BatchNormalization default. */
const BATCH_NORM_MOMENTUM = 0.99;

/** Cached activations at the cut for a set of images: per image, view 0 (the plain image) then augmented views. */
export interface CutActivations {
  /** Shape of one image's activations, e.g. [160, 7, 7]. */
  readonly shape: readonly number[];
  readonly views: readonly (readonly Float32Array[])[];
  readonly labels: Int32Array;
}

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
  /** Saves a checkpoint after every epoch; with `resume`, continues from the one at `path` if its fingerprint matches. */
  readonly checkpoint?: { readonly path: string; readonly fingerprint: string; readonly resume: boolean; readonly extra?: Record<string, unknown> };
}

export interface FineTuneLoopResult {
  /** The best epoch's head; the suffix's variables hold the best epoch's weights too. */
  readonly head: DenseLayerWeights[];
  readonly history: EpochLogs[];
  /** 1-based fine-tuning epoch whose weights were kept (0: none beat the head phase's starting point). */
  readonly bestEpoch: number;
  readonly stoppedEarly: boolean;
  /** Fine-tuning epochs already done by an interrupted run this one resumed (0 when it started fresh). */
  readonly resumedAfter: number;
  /** Training images per second over the steps this run took (forward + backward + update). */
  readonly trainImgPerSec: number;
}

interface HeadVars {
  readonly kernels: tf.Variable[];
  readonly biases: tf.Variable[];
}

let headCount = 0;

/**
 * Trains the unfrozen suffix and the head together on cached cut activations (fastai's `fine_tune` after the
 * freeze epochs): Adam with discriminative rates (body at `learningRate * bodyLrRatio`), a one-cycle or cosine
 * schedule, label smoothing, optional class weights, early stopping on val_loss keeping the best weights, and a
 * checkpoint after every epoch.
 *
 * Every random choice of an epoch (batch order, which augmented view each image shows, dropout) comes from a
 * generator seeded by (seed, epoch), so a run resumed from a checkpoint takes the same steps as one never
 * interrupted.
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
  const classWeights = classWeightsFor(train.labels, numClasses, config.classWeights);
  const batches = Math.ceil(train.labels.length / config.batchSize);
  const totalSteps = config.epochs * batches;

  let history: EpochLogs[] = [];
  let best = { loss: Infinity, epoch: 0, weights: snapshot(allVars) };
  // Everything made here is freed however the run ends (a cancelled run throws from a progress listener).
  try {
    let startEpoch = 1;
    const saved = options.checkpoint?.resume ? await loadCheckpoint(options.checkpoint.path) : undefined;
    if (saved && options.checkpoint) {
      if (saved.fingerprint !== options.checkpoint.fingerprint) {
        throw new GraftError('INVALID_CHECKPOINT', `Checkpoint ${options.checkpoint.path} belongs to a different run (other data, backbone or options)`, {
          hint: 'run without --resume to start over, or with the options of the interrupted run',
        });
      }
      restore(allVars, saved.tensors, 'current');
      disposeAll(best.weights);
      best = { loss: saved.bestLoss, epoch: saved.bestEpoch, weights: tensorsFrom(saved.tensors, 'best', allVars) };
      await bodyOptimizer.setWeights(optimizerState(saved.tensors, 'opt-body'));
      await headOptimizer.setWeights(optimizerState(saved.tensors, 'opt-head'));
      history = [...saved.history];
      startEpoch = saved.epoch + 1;
      onProgress?.({ type: 'info', message: `resuming fine-tuning after epoch ${saved.epoch} from ${options.checkpoint.path}` });
    }
    if (startEpoch === 1 && val) best = { ...best, loss: evaluate(suffix, head, val, numClasses).val_loss };

    const save = async (epoch: number): Promise<void> => {
      if (!options.checkpoint) return;
      await saveCheckpoint(options.checkpoint.path, {
        fingerprint: options.checkpoint.fingerprint,
        epoch,
        history,
        bestEpoch: best.epoch,
        bestLoss: best.loss,
        tensors: await checkpointTensors(allVars, best.weights, bodyOptimizer, headOptimizer),
        extra: options.checkpoint.extra ?? {},
      });
    };
    // Epoch 0: the head phase is done; an interruption from here on does not redo it.
    if (startEpoch === 1) await save(0);
    onProgress?.({ type: 'train-start', phase: 'fine-tune', epochs: config.epochs, trainCount: train.labels.length, valCount: val?.labels.length ?? 0 });
    let stoppedEarly = false;
    let steps = 0;
    let stepSeconds = 0;
    const lastEpoch = Math.min(config.epochs, options.stopAfterEpoch ?? config.epochs);
    for (let epoch = startEpoch; epoch <= lastEpoch; epoch++) {
      if (val && config.patience > 0 && epoch - 1 - best.epoch >= config.patience) break;
      const started = performance.now();
      const random = mulberry32(deriveSeed(options.seed, `fine-tune-epoch-${epoch}`));
      const order = shuffleInPlace(Array.from({ length: train.labels.length }, (_, i) => i), random);
      let lossSum = 0;
      let hits = 0;
      for (let b = 0; b < batches; b++) {
        const rows = order.slice(b * config.batchSize, (b + 1) * config.batchSize);
        const step = (epoch - 1) * batches + b;
        setLearningRate(headOptimizer, learningRateAt(step, { kind: config.schedule, maxLr: config.learningRate, totalSteps }));
        setLearningRate(bodyOptimizer, learningRateAt(step, { kind: config.schedule, maxLr: config.learningRate * config.bodyLrRatio, totalSteps }));
        const viewOf = rows.map((r) => randomInt(random, train.views[r]!.length));
        const stepStarted = performance.now();
        const result = trainStep({ suffix, head, bodyVars, headVars, bodyOptimizer, headOptimizer, config, numClasses, classWeights, dropout: options.headDropout, dropoutSeed: Math.floor(random() * 2 ** 31), batchNormMomentum: momentum }, batchOf(train, rows, viewOf));
        stepSeconds += (performance.now() - stepStarted) / 1000;
        steps += rows.length;
        lossSum += result.loss * rows.length;
        hits += result.hits;
        onProgress?.({ type: 'batch-end', epoch, batch: b + 1, batches });
        // A step takes a fraction of a second; yielding after each lets a server cancel or stream mid-epoch.
        await new Promise((resolve) => setImmediate(resolve));
      }
      const logs: EpochLogs = { loss: lossSum / train.labels.length, acc: hits / train.labels.length };
      if (val) Object.assign(logs, evaluate(suffix, head, val, numClasses));
      history.push(logs);
      const monitored = logs.val_loss ?? logs.loss;
      if (monitored < best.loss - 1e-6 || (!val && epoch === lastEpoch)) {
        disposeAll(best.weights);
        best = { loss: monitored, epoch, weights: snapshot(allVars) };
      }
      await save(epoch);
      onProgress?.({ type: 'epoch-end', phase: 'fine-tune', epoch, epochs: config.epochs, logs, seconds: (performance.now() - started) / 1000 });
      if (val && config.patience > 0 && epoch - best.epoch >= config.patience && epoch < lastEpoch) {
        stoppedEarly = true;
        onProgress?.({ type: 'early-stop', epoch, bestEpoch: best.epoch });
        break;
      }
    }
    allVars.forEach((v, i) => v.assign(best.weights[i]!));
    const trained = toDenseLayers(head, options.head);
    return { head: trained, history, bestEpoch: best.epoch, stoppedEarly, resumedAfter: startEpoch - 1, trainImgPerSec: stepSeconds > 0 ? steps / stepSeconds : 0 };
  } finally {
    disposeAll(best.weights);
    headVars.forEach((v) => v.dispose());
    bodyOptimizer.dispose();
    headOptimizer.dispose();
  }
}

/**
 * Class probabilities of the suffix + head for every image's view 0, in batches (for final metrics after training).
 */
export function predictCut(suffix: TrainableSuffix, head: readonly DenseLayerWeights[], set: CutActivations, batchSize = 64): Float32Array {
  const vars = headVariables(head);
  try {
    const k = head[head.length - 1]!.outputDim;
    const out = new Float32Array(set.labels.length * k);
    for (let start = 0; start < set.labels.length; start += batchSize) {
      const rows = Array.from({ length: Math.min(batchSize, set.labels.length - start) }, (_, i) => start + i);
      const batch = batchOf(set, rows, rows.map(() => 0));
      const probs = tf.tidy(() => tf.softmax(logitsOf(suffix, vars, batch.x, false)));
      out.set(probs.dataSync(), start * k);
      tf.dispose([probs, batch.x]);
    }
    return out;
  } finally {
    [...vars.kernels, ...vars.biases].forEach((v) => v.dispose());
  }
}

interface StepContext {
  readonly suffix: TrainableSuffix;
  readonly head: HeadVars;
  readonly bodyVars: tf.Variable[];
  readonly headVars: tf.Variable[];
  readonly bodyOptimizer: tf.Optimizer;
  readonly headOptimizer: tf.Optimizer;
  readonly config: FineTuneConfig;
  readonly numClasses: number;
  readonly classWeights: Float32Array;
  readonly dropout: number;
  readonly dropoutSeed: number;
  readonly batchNormMomentum: number | undefined;
}

function trainStep(ctx: StepContext, batch: { x: tf.Tensor; labels: Int32Array }): { loss: number; hits: number } {
  const { x, labels } = batch;
  try {
    return tf.tidy(() => {
      const y = tf.oneHot(tf.tensor1d(labels, 'int32'), ctx.numClasses);
      const weights = tf.tensor1d(Array.from(labels, (l) => ctx.classWeights[l]!));
      let logitsOut: tf.Tensor | undefined;
      const { value, grads } = tf.variableGrads(() => {
        const logits = logitsOf(ctx.suffix, ctx.head, x, true, ctx.dropout, ctx.dropoutSeed, ctx.batchNormMomentum);
        logitsOut = tf.keep(logits);
        // Weighted mean over the batch: class weights rescale each example's term (Keras's class_weight).
        const ce = tf.losses.softmaxCrossEntropy(y, logits, weights, ctx.config.labelSmoothing, tf.Reduction.SUM).div(weights.sum());
        const l2 = ctx.head.kernels.reduce((acc: tf.Scalar, w) => acc.add(w.square().sum()), tf.scalar(0));
        return ce.add(l2.mul(ctx.config.weightDecay / 2)) as tf.Scalar;
      }, [...ctx.bodyVars, ...ctx.headVars]);
      ctx.bodyOptimizer.applyGradients(ctx.bodyVars.map((v) => ({ name: v.name, tensor: grads[v.name]! })));
      ctx.headOptimizer.applyGradients(ctx.headVars.map((v) => ({ name: v.name, tensor: grads[v.name]! })));
      const hits = logitsOut!.argMax(1).equal(y.argMax(1)).sum().dataSync()[0]!;
      logitsOut!.dispose();
      return { loss: value.dataSync()[0]!, hits };
    });
  } finally {
    x.dispose();
  }
}

function logitsOf(suffix: TrainableSuffix, head: HeadVars, x: tf.Tensor, training: boolean, dropout = 0, seed = 0, batchNormMomentum?: number): tf.Tensor2D {
  const features = suffix.predict(x, { training, ...(batchNormMomentum === undefined ? {} : { batchNormMomentum }) });
  let h = features.reshape([features.shape[0]!, -1]) as tf.Tensor2D;
  const layers = head.kernels.length;
  for (let l = 0; l < layers; l++) {
    h = h.matMul(head.kernels[l]!).add(head.biases[l]!);
    if (l < layers - 1) {
      h = h.relu();
      if (training && dropout > 0) h = tf.dropout(h, dropout, undefined, seed + l) as tf.Tensor2D;
    }
  }
  return h;
}

function evaluate(suffix: TrainableSuffix, head: HeadVars, set: CutActivations, numClasses: number, batchSize = 64): { val_loss: number; val_acc: number } {
  let loss = 0;
  let hits = 0;
  for (let start = 0; start < set.labels.length; start += batchSize) {
    const rows = Array.from({ length: Math.min(batchSize, set.labels.length - start) }, (_, i) => start + i);
    const batch = batchOf(set, rows, rows.map(() => 0));
    const [l, h] = tf.tidy(() => {
      const logits = logitsOf(suffix, head, batch.x, false);
      const y = tf.oneHot(tf.tensor1d(batch.labels, 'int32'), numClasses);
      return [tf.losses.softmaxCrossEntropy(y, logits, undefined, 0, tf.Reduction.SUM).dataSync()[0]!, logits.argMax(1).equal(y.argMax(1)).sum().dataSync()[0]!];
    });
    batch.x.dispose();
    loss += l;
    hits += h;
  }
  return { val_loss: loss / set.labels.length, val_acc: hits / set.labels.length };
}

/** Stacks the chosen view of each row into one [B, ...shape] tensor. */
function batchOf(set: CutActivations, rows: readonly number[], viewOf: readonly number[]): { x: tf.Tensor; labels: Int32Array } {
  const size = set.shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(rows.length * size);
  rows.forEach((r, i) => data.set(set.views[r]![viewOf[i]!]!, i * size));
  return { x: tf.tensor(data, [rows.length, ...set.shape]), labels: Int32Array.from(rows, (r) => set.labels[r]!) };
}

function headVariables(layers: readonly DenseLayerWeights[]): HeadVars {
  const id = ++headCount;
  return {
    // tidy frees each initial tensor (a variable keeps its own reference to the data).
    kernels: layers.map((l, i) => tf.tidy(() => tf.variable(tf.tensor2d(l.weight, [l.inputDim, l.outputDim]), true, `graft-head-${id}/dense_${i}/kernel`))),
    biases: layers.map((l, i) => tf.tidy(() => tf.variable(l.bias ? tf.tensor1d(l.bias) : tf.zeros([l.outputDim]), true, `graft-head-${id}/dense_${i}/bias`))),
  };
}

function toDenseLayers(head: HeadVars, like: readonly DenseLayerWeights[]): DenseLayerWeights[] {
  return like.map((l, i) => ({ ...l, weight: new Float32Array(head.kernels[i]!.dataSync()), bias: new Float32Array(head.biases[i]!.dataSync()) }));
}

function setLearningRate(optimizer: tf.Optimizer, rate: number): void {
  // tfjs optimizers read `learningRate` on every applyGradients call; it is not exposed as settable in the types.
  (optimizer as unknown as { learningRate: number }).learningRate = rate;
}

function snapshot(vars: readonly tf.Variable[]): tf.Tensor[] {
  return vars.map((v) => tf.keep(v.clone()));
}

function disposeAll(tensors: readonly tf.Tensor[]): void {
  tensors.forEach((t) => t.dispose());
}

async function checkpointTensors(vars: readonly tf.Variable[], best: readonly tf.Tensor[], body: tf.Optimizer, head: tf.Optimizer): Promise<TensorTable> {
  const table = new Map<string, { shape: number[]; data: Float32Array }>();
  const put = (name: string, t: tf.Tensor): void => {
    table.set(name, { shape: t.shape, data: new Float32Array(t.dataSync()) });
  };
  vars.forEach((v, i) => put(`current/${i}`, v));
  best.forEach((t, i) => put(`best/${i}`, t));
  for (const [prefix, optimizer] of [['opt-body', body], ['opt-head', head]] as const) {
    (await optimizer.getWeights()).forEach((w, i) => {
      put(`${prefix}/${i}`, w.tensor);
      // The first entry (the step count) is a new scalar; the others are the optimizer's own moment variables.
      if (w.name === 'iter') w.tensor.dispose();
    });
  }
  return table;
}

function restore(vars: readonly tf.Variable[], table: TensorTable, prefix: string): void {
  vars.forEach((v, i) => {
    const t = table.get(`${prefix}/${i}`);
    if (!t || t.data.length !== v.size) throw new GraftError('INVALID_CHECKPOINT', `Checkpoint lacks ${prefix}/${i} (shape [${v.shape.join(', ')}])`, { hint: 'delete the checkpoint to start over' });
    tf.tidy(() => v.assign(tf.tensor(t.data, v.shape)));
  });
}

function tensorsFrom(table: TensorTable, prefix: string, like: readonly tf.Variable[]): tf.Tensor[] {
  return like.map((v, i) => {
    const t = table.get(`${prefix}/${i}`);
    if (!t || t.data.length !== v.size) throw new GraftError('INVALID_CHECKPOINT', `Checkpoint lacks ${prefix}/${i}`, { hint: 'delete the checkpoint to start over' });
    return tf.keep(tf.tensor(t.data, v.shape));
  });
}

function optimizerState(table: TensorTable, prefix: string): { name: string; tensor: tf.Tensor }[] {
  const state: { name: string; tensor: tf.Tensor }[] = [];
  for (let i = 0; table.has(`${prefix}/${i}`); i++) {
    const t = table.get(`${prefix}/${i}`)!;
    state.push({ name: `${prefix}/${i}`, tensor: tf.tensor(t.data, [...t.shape]) });
  }
  return state;
}
