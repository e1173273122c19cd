import * as tf from '@tensorflow/tfjs';
import { inTfjsTrainingTurn } from './tfjs-training-turn.js';
import { mulberry32, shuffleInPlace, type Random } from '../core/random.js';
import { ensureTfjsBackend, warnOnFallback, type TfjsBackendName } from '../runtime/tfjs-backend.js';
import { GraftError } from '../core/errors.js';
import type { EpochLogs, ProgressListener } from '../core/progress.js';
import type { DenseLayerWeights, FeatureNormalization } from '../core/dense-layer.js';
import type { TrainConfig } from './train-config.js';
import { fit } from './fit/fit.js';
import { earlyStopping } from './fit/early-stopping.js';
import { progress } from './fit/progress.js';
import { variableWeights } from './fit/tfjs-weights.js';
import type { FitModel } from './fit/types.js';
import type { RowSource } from '../features/feature-rows.js';
import { columnStats } from './select/column-stats.js';
import { classWeightsFor, unlessAllOne } from './class-weights.js';

/** Feature vectors, row-major: `count` rows of `dim` floats. */
export interface FeatureMatrix {
  readonly data: Float32Array;
  readonly count: number;
  readonly dim: number;
}

export interface LabelledFeatures {
  /** In memory, or read by position (rows too many for memory: batches are gathered from it as they are needed). */
  readonly features: FeatureMatrix | RowSource;
  /** Class index of each row. */
  readonly labels: Int32Array;
}

export interface TrainedHead {
  readonly config: TrainConfig;
  readonly numClasses: number;
  readonly normalization: FeatureNormalization;
  /** The head's layers on standardised features (fold with `foldNormalization` for raw features). */
  readonly layers: DenseLayerWeights[];
  readonly history: EpochLogs[];
  /** 1-based epoch whose weights were kept (lowest val_loss; lowest training loss without validation). */
  readonly bestEpoch: number;
  readonly stoppedEarly: boolean;
  readonly backend: TfjsBackendName;
}

interface HeadVariables {
  readonly weights: tf.Variable[];
  readonly biases: tf.Variable[];
}

/**
 * Trains a Dense head on cached features with Adam and categorical cross-entropy, early stopping on val_loss
 * and keeping the best weights (Keras `EarlyStopping(restore_best_weights=True)`). This is the MLP head's trainer
 * (`hidden` layers, dropout, epochs); the default linear head is solved by `fitLinearHead` (select/fit-linear-head.ts), which reads the
 * config's `c`, `mirror` and `tta` (this function does not).
 *
 * Written as explicit steps over tf.Variables rather than `model.fit` so that every random choice
 * (initial weights, dropout masks, batch order) comes from one seeded generator: the same seed gives the same
 * weights, bit for bit, on the same backend.
 */
export async function trainHead(...args: Parameters<typeof trainHeadInTurn>): Promise<TrainedHead> {
  // In its turn: tfjs's kernels are process-wide (learn/tfjs-training-turn.ts).
  return inTfjsTrainingTurn(() => trainHeadInTurn(...args));
}

async function trainHeadInTurn(
  train: LabelledFeatures,
  val: LabelledFeatures | undefined,
  numClasses: number,
  config: TrainConfig,
  onProgress?: ProgressListener,
  signal?: AbortSignal,
): Promise<TrainedHead> {
  if (numClasses < 2) throw new GraftError('INVALID_DATASET', `Training needs at least 2 classes. Received: ${numClasses}`);
  if (train.features.count === 0) throw new GraftError('INVALID_DATASET', 'No training images left after skipping unreadable files');
  const backend = await ensureTfjsBackend(warnOnFallback(onProgress));
  const random = mulberry32(config.seed);
  const { dim } = train.features;
  // Every row counts (weight 1): the per-dimension mean and deviation, floored at 1e-3 for dimensions that never fire.
  const normalization = columnStats(train.features, new Float32Array(train.features.count).fill(1));
  const xTrain = trainingRows(train.features, normalization);
  const xVal = val && val.features.count > 0 ? trainingRows(val.features, normalization) : undefined;

  const sizes = [dim, ...config.head.hidden, numClasses];
  const vars = initVariables(sizes, random);
  const optimizer = tf.train.adam(config.learningRate);
  // Everything made here is freed however the run ends (cancelled, or a progress listener throwing).
  try {
    const model = headModel({ vars, optimizer, sizes, xTrain, labels: train.labels, random, config, numClasses, ...(xVal && val ? { val: { x: xVal, labels: val.labels } } : {}) });
    // Without validation the lowest training loss is kept and training never stops early.
    const stopping = earlyStopping({ monitor: xVal ? 'val_loss' : 'loss', patience: xVal ? config.patience : 0, minDelta: 1e-6 });
    const run = await fit(model, {
      epochs: config.epochs,
      signal,
      callbacks: [stopping, progress(onProgress, { trainCount: train.features.count, valCount: val?.features.count ?? 0 })],
    });
    const layers = toDenseLayers([...vars.weights, ...vars.biases], sizes);
    return { config, numClasses, normalization, layers, history: run.history, bestEpoch: stopping.best().epoch, stoppedEarly: run.stopped?.reason === 'early-stopping', backend };
  } finally {
    vars.weights.forEach((v) => v.dispose());
    vars.biases.forEach((v) => v.dispose());
    optimizer.dispose();
    xTrain.dispose();
    xVal?.dispose();
  }
}

/** The head as fit's model: one seeded generator draws each epoch's order and each batch's dropout masks. */
function headModel(parts: {
  vars: HeadVariables;
  optimizer: tf.Optimizer;
  sizes: readonly number[];
  xTrain: TrainingRows;
  labels: Int32Array;
  val?: { x: TrainingRows; labels: Int32Array };
  random: Random;
  config: TrainConfig;
  numClasses: number;
}): FitModel {
  const { vars, config, random, numClasses, val } = parts;
  const order = Array.from({ length: parts.labels.length }, (_, i) => i);
  const classWeight = unlessAllOne(classWeightsFor(parts.labels, numClasses, config.classWeights));
  return {
    batchesPerEpoch: Math.ceil(order.length / config.batchSize),
    weights: variableWeights([...vars.weights, ...vars.biases]),
    beginEpoch: () => void shuffleInPlace(order, random),
    trainBatch(_epoch, batch) {
      const rows = order.slice((batch - 1) * config.batchSize, batch * config.batchSize);
      const masks = config.head.dropout > 0 ? dropoutMasks(rows.length, parts.sizes, config.head.dropout, random) : undefined;
      const { loss, hits } = trainStep(parts.optimizer, vars, parts.xTrain, parts.labels, rows, numClasses, config, masks, classWeight);
      return { size: rows.length, loss, hits };
    },
    ...(val ? { validate: () => val.x.evaluate(vars, val.labels, numClasses) } : {}),
  };
}

/** Standardised rows as the training steps take them: a batch by row indexes, and the loss and accuracy of all. */
interface TrainingRows {
  /** The standardised rows `rows` (call inside tf.tidy). */
  batch(rows: readonly number[]): tf.Tensor2D;
  evaluate(vars: HeadVariables, labels: Int32Array, numClasses: number): { val_loss: number; val_acc: number };
  dispose(): void;
}

/** Rows read per block when evaluating rows that are not in memory. */
const EVALUATE_BLOCK = 1024;

/**
 * Rows in memory become one standardised tensor (batches are gathered from it); rows read by position are read and
 * standardised a batch at a time, so memory is a batch, not the rows.
 */
function trainingRows(features: FeatureMatrix | RowSource, norm: FeatureNormalization): TrainingRows {
  if ('data' in features) {
    const x = tf.tidy(() => tf.tensor2d(features.data, [features.count, features.dim]).sub(tf.tensor1d(norm.mean)).div(tf.tensor1d(norm.std)) as tf.Tensor2D);
    return {
      batch: (rows) => x.gather(tf.tensor1d(rows as number[], 'int32')) as tf.Tensor2D,
      evaluate: (vars, labels, numClasses) => evaluate(vars, x, labels, numClasses),
      dispose: () => x.dispose(),
    };
  }
  const { dim } = features;
  const standardised = (data: Float32Array, count: number): tf.Tensor2D => {
    const out = new Float32Array(count * dim);
    for (let r = 0; r < count; r++) {
      for (let d = 0; d < dim; d++) out[r * dim + d] = (data[r * dim + d]! - norm.mean[d]!) / norm.std[d]!;
    }
    return tf.tensor2d(out, [count, dim]);
  };
  return {
    batch(rows) {
      const data = new Float32Array(rows.length * dim);
      rows.forEach((row, i) => data.set(features.read(row, 1), i * dim));
      return standardised(data, rows.length);
    },
    evaluate(vars, labels, numClasses) {
      let loss = 0;
      let hits = 0;
      for (let start = 0; start < features.count; start += EVALUATE_BLOCK) {
        const count = Math.min(EVALUATE_BLOCK, features.count - start);
        // The block's tensor is made inside the tidy, so it is freed with the rest.
        const block = tf.tidy(() => evaluate(vars, standardised(features.read(start, count), count), labels.subarray(start, start + count), numClasses));
        loss += block.val_loss * count;
        hits += block.val_acc * count;
      }
      return { val_loss: loss / features.count, val_acc: hits / features.count };
    },
    dispose: () => undefined,
  };
}

/** Glorot-uniform weights and zero biases, drawn from the seeded generator (not tf's own RNG). */
function initVariables(sizes: readonly number[], random: Random): HeadVariables {
  const weights: tf.Variable[] = [];
  const biases: tf.Variable[] = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    const fanIn = sizes[l]!;
    const fanOut = sizes[l + 1]!;
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    const w = new Float32Array(fanIn * fanOut);
    for (let i = 0; i < w.length; i++) w[i] = (random() * 2 - 1) * limit;
    // tidy frees each initial tensor (a variable keeps its own reference to the data).
    weights.push(tf.tidy(() => tf.variable(tf.tensor2d(w, [fanIn, fanOut]))));
    biases.push(tf.tidy(() => tf.variable(tf.zeros([fanOut]))));
  }
  return { weights, biases };
}

/** Inverted-dropout masks (kept units scaled by 1/(1-rate)) for the input of every layer, from the seeded generator. */
function dropoutMasks(rows: number, sizes: readonly number[], rate: number, random: Random): Float32Array[] {
  const masks: Float32Array[] = [];
  // Dropout on the features only for linear heads (the Keras tutorial's head); after each hidden layer otherwise.
  const firstMasked = sizes.length > 2 ? 1 : 0;
  for (let l = firstMasked; l + 1 < sizes.length; l++) {
    const mask = new Float32Array(rows * sizes[l]!);
    const keep = 1 / (1 - rate);
    for (let i = 0; i < mask.length; i++) mask[i] = random() >= rate ? keep : 0;
    masks[l] = mask;
  }
  return masks;
}

function forward(vars: HeadVariables, x: tf.Tensor2D, masks?: Float32Array[]): tf.Tensor2D {
  let h = x;
  const layers = vars.weights.length;
  for (let l = 0; l < layers; l++) {
    const mask = masks?.[l];
    if (mask) h = h.mul(tf.tensor2d(mask, h.shape));
    h = h.matMul(vars.weights[l]!).add(vars.biases[l]!);
    if (l < layers - 1) h = h.relu();
  }
  return h; // logits
}

function trainStep(
  optimizer: tf.Optimizer,
  vars: HeadVariables,
  x: TrainingRows,
  labels: Int32Array,
  rows: number[],
  numClasses: number,
  config: TrainConfig,
  masks: Float32Array[] | undefined,
  classWeight: Float32Array | undefined,
): { loss: number; hits: number } {
  return tf.tidy(() => {
    const xb = x.batch(rows);
    const yb = tf.oneHot(tf.tensor1d(rows.map((r) => labels[r]!), 'int32'), numClasses);
    // Keras's class_weight: each row's loss times its class's weight, averaged. Left out where every weight is 1.
    const rowWeights = classWeight ? tf.tensor1d(rows.map((r) => classWeight[labels[r]!]!)) : undefined;
    let logitsOut: tf.Tensor2D | undefined;
    const cost = optimizer.minimize(() => {
      const logits = forward(vars, xb, masks);
      logitsOut = tf.keep(logits);
      const ce = tf.losses.softmaxCrossEntropy(yb, logits, rowWeights, config.labelSmoothing);
      const l2 = vars.weights.reduce((acc: tf.Scalar, w) => acc.add(w.square().sum()), tf.scalar(0));
      return ce.add(l2.mul(config.weightDecay / 2)) as tf.Scalar;
    }, true, [...vars.weights, ...vars.biases]);
    const hits = logitsOut!.argMax(1).equal(yb.argMax(1)).sum().dataSync()[0]!;
    logitsOut!.dispose();
    return { loss: cost!.dataSync()[0]!, hits };
  });
}

function evaluate(vars: HeadVariables, x: tf.Tensor2D, labels: Int32Array, numClasses: number): { val_loss: number; val_acc: number } {
  return tf.tidy(() => {
    const logits = forward(vars, x);
    const y = tf.oneHot(tf.tensor1d(labels, 'int32'), numClasses);
    const loss = tf.losses.softmaxCrossEntropy(y, logits).dataSync()[0]!;
    const acc = logits.argMax(1).equal(y.argMax(1)).mean().dataSync()[0]!;
    return { val_loss: loss, val_acc: acc };
  });
}

function toDenseLayers(weights: readonly tf.Tensor[], sizes: readonly number[]): DenseLayerWeights[] {
  const n = sizes.length - 1;
  return Array.from({ length: n }, (_, l) => ({
    inputDim: sizes[l]!,
    outputDim: sizes[l + 1]!,
    weight: new Float32Array(weights[l]!.dataSync()),
    bias: new Float32Array(weights[n + l]!.dataSync()),
    activation: l === n - 1 ? ('softmax' as const) : ('relu' as const),
  }));
}
