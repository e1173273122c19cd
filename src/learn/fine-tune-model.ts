import * as tf from '@tensorflow/tfjs';
import { deriveSeed, mulberry32, randomInt, shuffleInPlace, type Random } from '../core/random.js';
import type { FitModel } from './fit/types.js';
import { variableWeights } from './fit/tfjs-weights.js';
import { batchOf, evaluateCut, trainStep, type CutActivations, type StepContext } from './fine-tune-step.js';
import { unlessAllOne } from './class-weights.js';

/** Fine-tuning as fit's model, with the throughput of its steps. */
export interface CutModel extends FitModel {
  /** Training images per second over the steps taken (forward + backward + update). */
  imagesPerSecond(): number;
}

/**
 * Steps on cached cut activations. Every random choice of an epoch (batch order, which augmented view each image
 * shows, dropout) comes from a generator seeded by (seed, epoch), so a run resumed from a checkpoint takes the
 * same steps as one never interrupted.
 *
 * @param variables what the weights are: the trained ones and any state that moves with them (BatchNorm's statistics)
 */
export function cutModel(step: StepContext, data: { train: CutActivations; val?: CutActivations; seed: number }, variables: readonly tf.Variable[]): CutModel {
  const { train, val } = data;
  const { batchSize } = step.config;
  // Held-out images are scored with the training loss's class weights (exactly unweighted when all are 1).
  const valWeights = unlessAllOne(step.classWeights);
  let random: Random = mulberry32(0);
  let order: number[] = [];
  let images = 0;
  let seconds = 0;
  return {
    batchesPerEpoch: Math.ceil(train.labels.length / batchSize),
    weights: variableWeights(variables),
    beginEpoch(epoch) {
      random = mulberry32(deriveSeed(data.seed, `fine-tune-epoch-${epoch}`));
      order = shuffleInPlace(Array.from({ length: train.labels.length }, (_, i) => i), random);
    },
    trainBatch(_epoch, batch) {
      const rows = order.slice((batch - 1) * batchSize, batch * batchSize);
      const viewOf = rows.map((r) => randomInt(random, train.viewCount(r)));
      const started = performance.now();
      const result = trainStep({ ...step, dropoutSeed: Math.floor(random() * 2 ** 31) }, batchOf(train, rows, viewOf));
      seconds += (performance.now() - started) / 1000;
      images += rows.length;
      return { size: rows.length, ...result };
    },
    ...(val ? { validate: () => evaluateCut(step.suffix, step.head, val, step.numClasses, valWeights) } : {}),
    imagesPerSecond: () => (seconds > 0 ? images / seconds : 0),
  };
}
