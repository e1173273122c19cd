import * as tf from '@tensorflow/tfjs';
import type { DenseLayerWeights } from '../core/dense-layer.js';
import type { FineTuneConfig } from './fine-tune-config.js';

// Fine-tuning's arithmetic on cached cut activations: the suffix + head forward pass, one training step, evaluation
// and prediction. The loop around it is `fit` (fine-tune-loop.ts).

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

/**
 * Cached activations at the cut for a set of images: per image, view 0 (the plain image) then augmented views. In
 * memory, or read from the feature cache a batch at a time (cachedCutActivations in fine-tune.ts), so a set of any size trains in
 * bounded memory.
 */
export interface CutActivations {
  /** Shape of one image's activations, e.g. [160, 7, 7]. */
  readonly shape: readonly number[];
  readonly labels: Int32Array;
  /** How many views image `r` has. */
  viewCount(r: number): number;
  /** The views `viewOf[i]` of images `rows[i]`, in order (read together: one cache query per batch). */
  viewsOf(rows: readonly number[], viewOf: readonly number[]): Float32Array[];
}

/** Activations already in memory as {@link CutActivations}. */
export function cutActivationsInMemory(shape: readonly number[], views: readonly (readonly Float32Array[])[], labels: Int32Array): CutActivations {
  return {
    shape,
    labels,
    viewCount: (r) => views[r]!.length,
    viewsOf: (rows, viewOf) => rows.map((r, i) => views[r]![viewOf[i]!]!),
  };
}

export interface HeadVars {
  readonly kernels: tf.Variable[];
  readonly biases: tf.Variable[];
}

let headCount = 0;

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

export interface StepContext {
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

export function trainStep(ctx: StepContext, batch: { x: tf.Tensor; labels: Int32Array }): { loss: number; hits: number } {
  const { x, labels } = batch;
  try {
    return tf.tidy(() => {
      const y = tf.oneHot(tf.tensor1d(labels, 'int32'), ctx.numClasses);
      const weights = tf.tensor1d(Array.from(labels, (l) => ctx.classWeights[l]!));
      let logitsOut: tf.Tensor | undefined;
      let lossOut: tf.Tensor | undefined;
      const { grads } = tf.variableGrads(() => {
        const logits = logitsOf(ctx.suffix, ctx.head, x, true, ctx.dropout, ctx.dropoutSeed, ctx.batchNormMomentum);
        logitsOut = tf.keep(logits);
        // Weighted mean over the batch: class weights rescale each example's term (Keras's class_weight).
        const ce = tf.losses.softmaxCrossEntropy(y, logits, weights, ctx.config.labelSmoothing, tf.Reduction.SUM).div(weights.sum());
        // The loss reported is the cross-entropy alone, what val_loss measures: the decay is on the head's weights as
        // they act on raw features (standardisation folded in), which an MLP on low-variance features (the nsfwjs
        // fallback) makes huge, and the curve read ~500 beside a val_loss of 1-3.
        lossOut = tf.keep(ce);
        const l2 = ctx.head.kernels.reduce((acc: tf.Scalar, w) => acc.add(w.square().sum()), tf.scalar(0));
        return ce.add(l2.mul(ctx.config.weightDecay / 2)) as tf.Scalar;
      }, [...ctx.bodyVars, ...ctx.headVars]);
      ctx.bodyOptimizer.applyGradients(ctx.bodyVars.map((v) => ({ name: v.name, tensor: grads[v.name]! })));
      ctx.headOptimizer.applyGradients(ctx.headVars.map((v) => ({ name: v.name, tensor: grads[v.name]! })));
      const hits = logitsOut!.argMax(1).equal(y.argMax(1)).sum().dataSync()[0]!;
      logitsOut!.dispose();
      const loss = lossOut!.dataSync()[0]!;
      lossOut!.dispose();
      return { loss, hits };
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

/**
 * Loss and accuracy on held-out images. With `classWeights` (the training loss's, when not all 1) each image counts
 * as its class's weight, so the epoch is chosen on the objective the run trains for: with 'balanced' weights a rare
 * class's few held-out images count as much as a common class's many.
 */
export function evaluateCut(suffix: TrainableSuffix, head: HeadVars, set: CutActivations, numClasses: number, classWeights?: Float32Array, batchSize = 64): { val_loss: number; val_acc: number } {
  let loss = 0;
  let hits = 0;
  let total = 0;
  for (let start = 0; start < set.labels.length; start += batchSize) {
    const rows = Array.from({ length: Math.min(batchSize, set.labels.length - start) }, (_, i) => start + i);
    const batch = batchOf(set, rows, rows.map(() => 0));
    const [l, h] = tf.tidy(() => {
      const logits = logitsOf(suffix, head, batch.x, false);
      const y = tf.oneHot(tf.tensor1d(batch.labels, 'int32'), numClasses);
      const weights = classWeights && tf.tensor1d(Array.from(batch.labels, (label) => classWeights[label]!));
      const hit = logits.argMax(1).equal(y.argMax(1));
      return [
        tf.losses.softmaxCrossEntropy(y, logits, weights, 0, tf.Reduction.SUM).dataSync()[0]!,
        (weights ? hit.toFloat().mul(weights) : hit).sum().dataSync()[0]!,
      ];
    });
    batch.x.dispose();
    loss += l;
    hits += h;
    total += classWeights ? batch.labels.reduce((sum, label) => sum + classWeights[label]!, 0) : batch.labels.length;
  }
  return { val_loss: loss / total, val_acc: hits / total };
}

/** Stacks the chosen view of each row into one [B, ...shape] tensor. */
export function batchOf(set: CutActivations, rows: readonly number[], viewOf: readonly number[]): { x: tf.Tensor; labels: Int32Array } {
  const size = set.shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(rows.length * size);
  set.viewsOf(rows, viewOf).forEach((values, i) => data.set(values, i * size));
  return { x: tf.tensor(data, [rows.length, ...set.shape]), labels: Int32Array.from(rows, (r) => set.labels[r]!) };
}

export function headVariables(layers: readonly DenseLayerWeights[]): HeadVars {
  const id = ++headCount;
  return {
    // tidy frees each initial tensor (a variable keeps its own reference to the data).
    kernels: layers.map((l, i) => tf.tidy(() => tf.variable(tf.tensor2d(l.weight, [l.inputDim, l.outputDim]), true, `graft-head-${id}/dense_${i}/kernel`))),
    biases: layers.map((l, i) => tf.tidy(() => tf.variable(l.bias ? tf.tensor1d(l.bias) : tf.zeros([l.outputDim]), true, `graft-head-${id}/dense_${i}/bias`))),
  };
}

export function toDenseLayers(head: HeadVars, like: readonly DenseLayerWeights[]): DenseLayerWeights[] {
  return like.map((l, i) => ({ ...l, weight: new Float32Array(head.kernels[i]!.dataSync()), bias: new Float32Array(head.biases[i]!.dataSync()) }));
}
