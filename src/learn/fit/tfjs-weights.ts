import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../../core/errors.js';
import type { OptimizerState } from './checkpoint.js';
import type { ScheduledOptimizer } from './lr-schedule.js';
import type { FloatValues, Weights, WeightsSnapshot } from './types.js';

/** Copies of tf.Variables' values; `tf.keep`, so a snapshot taken inside a tidy outlives it. */
class TensorSnapshot implements WeightsSnapshot {
  constructor(readonly tensors: readonly tf.Tensor[]) {}
  dispose(): void {
    this.tensors.forEach((t) => t.dispose());
  }
}

/** tf.Variables as fit's `Weights` (the adapter that keeps tfjs out of fit's public types). */
export function variableWeights(variables: readonly tf.Variable[]): Weights {
  const own = (snapshot: WeightsSnapshot): TensorSnapshot => {
    if (!(snapshot instanceof TensorSnapshot) || snapshot.tensors.length !== variables.length) {
      throw new GraftError('INTERNAL', 'A weights snapshot was given to weights it was not taken from');
    }
    return snapshot;
  };
  return {
    shapes: variables.map((v) => v.shape),
    snapshot: () => new TensorSnapshot(variables.map((v) => tf.keep(v.clone()))),
    assign(snapshot) {
      const { tensors } = own(snapshot);
      variables.forEach((v, i) => v.assign(tensors[i]!));
    },
    read: (snapshot) => (snapshot ? own(snapshot).tensors : variables).map(floatValues),
    fromValues(values) {
      return new TensorSnapshot(variables.map((v, i) => tf.keep(tf.tensor(values[i]!.data, v.shape))));
    },
  };
}

/** A tfjs optimizer's state for checkpoints. */
export function optimizerState(optimizer: tf.Optimizer, prefix: string): OptimizerState {
  return {
    async save() {
      const weights = await optimizer.getWeights();
      const values = weights.map((w) => floatValues(w.tensor));
      // The first entry (the step count) is a new scalar; the others are the optimizer's own moment variables.
      weights.forEach((w) => w.name === 'iter' && w.tensor.dispose());
      return values;
    },
    async load(values) {
      await optimizer.setWeights(values.map((v, i) => ({ name: `${prefix}/${i}`, tensor: tf.tensor(v.data, [...v.shape]) })));
      replayBiasCorrections(optimizer);
    },
  };
}

/** The running products Adam keeps for its bias corrections, which its setWeights does not restore as they were. */
interface AdamBiasCorrections {
  readonly accBeta1: tf.Variable;
  readonly accBeta2: tf.Variable;
  readonly beta1: number;
  readonly beta2: number;
  readonly iterations_: number;
}

/**
 * tfjs's Adam restores beta^(t+1) with one `pow`, where a running optimizer multiplied beta in t times, rounding to
 * float32 at each step; the two differ in the last bit at most steps, so a resumed run drifted from the one never
 * interrupted (by up to 2e-7 in the weights). The product is rebuilt here as the running optimizer built it.
 */
function replayBiasCorrections(optimizer: tf.Optimizer): void {
  const adam = optimizer as unknown as Partial<AdamBiasCorrections>;
  if (!adam.accBeta1 || !adam.accBeta2 || adam.beta1 === undefined || adam.beta2 === undefined || adam.iterations_ === undefined) return;
  // A float32 product of two float32 values is exact in a double, so one Math.fround per step is float32's own rounding.
  const running = (beta: number): number => {
    const b = Math.fround(beta);
    let acc = b;
    for (let step = 0; step < adam.iterations_!; step++) acc = Math.fround(acc * b);
    return acc;
  };
  tf.tidy(() => {
    adam.accBeta1!.assign(tf.scalar(running(adam.beta1!)));
    adam.accBeta2!.assign(tf.scalar(running(adam.beta2!)));
  });
}

/** A tfjs optimizer whose rate a schedule sets. */
export function scheduledOptimizer(optimizer: tf.Optimizer, maxLr: number): ScheduledOptimizer {
  return {
    maxLr,
    setLearningRate(rate) {
      // tfjs optimizers read `learningRate` on every applyGradients call; it is not exposed as settable in the types.
      (optimizer as unknown as { learningRate: number }).learningRate = rate;
    },
  };
}

function floatValues(t: tf.Tensor): FloatValues {
  return { shape: t.shape, data: new Float32Array(t.dataSync()) };
}
