import * as tf from '@tensorflow/tfjs';
import { withoutRescaling } from './legacy-layers.js';
import { resampleLayers, retrace } from './view-layers.js';

/**
 * What Teachable Machine's image library (`tmImage.load(...).predict(image)`) and ml5's `imageClassifier(url)` feed a
 * model: a 224 x 224 RGB square, each byte v as v / 127 - 1 (both divide by 127, not 127.5), batch first.
 */
export const TEACHABLE_MACHINE_INPUT = { size: 224, divisor: 127 } as const;

/** How a classifier's own input is made from that square. */
export interface ClassifierInput {
  /** The classifier's input side. */
  readonly inputSize: number;
  /** Share of the square's side a centre crop keeps before the resize (1: none). */
  readonly cropFraction: number;
  /** The classifier's input from a byte value v, per channel: v * mul[c] + add[c] (`channelAffine`). */
  readonly mul: readonly [number, number, number];
  readonly add: readonly [number, number, number];
  /** Average the probabilities of the image and of its mirror image (the model's test-time augmentation). */
  readonly mirror: boolean;
}

/** The model {@link teachableMachineModel} builds, and a second view of the same layers for checking it. */
export interface TeachableMachineModels {
  /** One output, the class probabilities: what Teachable Machine's and ml5's libraries load. */
  readonly model: tf.LayersModel;
  /**
   * The same layers (no weight of its own) with more outputs: the probabilities, then the classifier's other outputs
   * (its features) for the plain view and, with `mirror`, for the mirror view. Probabilities saturate on the random
   * inputs a check uses (a float model gives 0.99997 whatever the scale), features do not.
   */
  readonly checkModel: tf.LayersModel;
}

/**
 * `classifier` (NHWC, its first output the class probabilities) behind the input Teachable Machine and ml5 feed: the
 * scale turned into the classifier's (one Dense on the channels, diagonal), the centre crop, the resize to its side,
 * and, with `mirror`, the mirror image through the same layers, the two probabilities averaged. Plain layers only,
 * the classifier's shared (applied again, not copied), so `tf.loadLayersModel` of any version that reads the
 * classifier reads this. Dispose the model with `disposeLayersModel`: it owns the classifier's weights too (the check
 * model owns none of its own).
 */
export function teachableMachineModels(classifier: tf.LayersModel, input: ClassifierInput): TeachableMachineModels {
  const side = TEACHABLE_MACHINE_INPUT.size;
  const image = tf.input({ shape: [side, side, 3], name: 'tm_image' });
  // Building a layer copies its initial weights into its variables.
  const weights = scaleWeights(input);
  let x: tf.SymbolicTensor;
  try {
    x = tf.layers.dense({ units: 3, name: 'tm_to_model_scale', weights }).apply(image) as tf.SymbolicTensor;
  } finally {
    tf.dispose(weights);
  }
  const margin = Math.round((side * (1 - input.cropFraction)) / 2);
  if (margin > 0) x = tf.layers.cropping2D({ cropping: [[margin, margin], [margin, margin]], name: 'tm_centre_crop' }).apply(x) as tf.SymbolicTensor;
  const cropped = side - 2 * margin;
  const view = (mirror: boolean, name: string): tf.SymbolicTensor =>
    cropped === input.inputSize && !mirror ? x : resampleLayers(x, { from: cropped, to: input.inputSize, mirror, name });
  const plain = retrace(classifier, view(false, 'tm_resize'));
  const mirrored = input.mirror ? retrace(classifier, view(true, 'tm_mirror')) : undefined;
  const output = mirrored ? (tf.layers.average({ name: 'tm_mirror_average' }).apply([plain[0]!, mirrored[0]!]) as tf.SymbolicTensor) : plain[0]!;
  // Teachable Machine's export snippet pins TensorFlow.js 1.3.1, which has no Rescaling layer (the conversion's).
  const checkModel = withoutRescaling(tf.model({ inputs: image, outputs: [output, ...plain.slice(1), ...(mirrored?.slice(1) ?? [])], name: 'graft_teachable_machine_check' }));
  const model = tf.model({ inputs: checkModel.inputs, outputs: checkModel.outputs[0]!, name: 'graft_teachable_machine' });
  return { model, checkModel };
}

/** Dense(3) weights taking t = v / 127 - 1 to the classifier's v * mul + add: v = 127 (t + 1). */
function scaleWeights({ mul, add }: ClassifierInput): tf.Tensor[] {
  const d = TEACHABLE_MACHINE_INPUT.divisor;
  const kernel = [0, 1, 2].flatMap((i) => [0, 1, 2].map((c) => (i === c ? d * mul[c]! : 0)));
  const bias = [0, 1, 2].map((c) => d * mul[c]! + add[c]!);
  return [tf.tensor2d(kernel, [3, 3]), tf.tensor1d(bias)];
}
