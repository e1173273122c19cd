import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../core/errors.js';
import { truncateAt } from './tfjs-layers.js';

/**
 * What a layers model may do to its classifier's scores on the way out: reshape them, drop out, activate, shift and
 * scale them (the bias of a quantized Gemm, converted from ONNX, is a BatchNormalization affine).
 */
const SCORE_TAIL = new Set(['Reshape', 'Flatten', 'Dropout', 'Activation', 'Softmax', 'BatchNormalization']);
/** What may stand between the features and the classifier without changing them. */
const FEATURE_TAIL = new Set(['Reshape', 'Dropout', 'SpatialDropout2D']);
const PROBABILITY_ACTIVATIONS = new Set(['softmax', 'sigmoid']);
const GLOBAL_POOLS = new Set(['GlobalAveragePooling2D', 'GlobalMaxPooling2D']);

/**
 * The features of a layers model given without a feature layer:
 * - a classifier at its end (a Dense, or a 1x1 Conv2D as in Keras's MobileNet, whose scores become probabilities on
 *   the way out) is cut off: the features are what it reads (Keras's MobileNet: the pooled 256 or 1 024 values,
 *   not its 1 000 probabilities);
 * - so is a linear one that reads a global pooling (logits, as an ONNX classifier converted by `graft convert` ends),
 *   the rule ONNX models follow: its scores may pass range clamps (Maximum/Minimum against constants) on the way out;
 * - a nested model as its last layer (Teachable Machine's head Sequential) is cut off;
 * - otherwise `otherwise` says: the whole model (a TF.js layers model: a feature model, as Teachable Machine's base),
 *   or what feeds its last layer (a Keras file).
 */
export function cutAtFeatures(model: tf.LayersModel, source: string, otherwise: 'whole' | 'before-last'): tf.LayersModel {
  const features = classifierInput(model);
  if (features) return truncateAt(model, features.name);
  const last = model.layers.at(-1);
  if (otherwise === 'whole' && !(last instanceof tf.LayersModel)) return model;
  return cutBeforeLastLayer(model, source);
}

/** The layer a probability classifier at the end of `model` reads, or undefined where the model ends otherwise. */
function classifierInput(model: tf.LayersModel): tf.layers.Layer | undefined {
  const outputs = model.outputs;
  if (outputs.length !== 1) return undefined;
  let layer: tf.layers.Layer | undefined = outputs[0]!.sourceLayer as tf.layers.Layer;
  let probabilities = false;
  for (let steps = 0; layer && steps < 16; steps++) {
    const kind = layer.getClassName();
    const activation = activationOf(layer);
    if (kind === 'Dense' || (kind === 'Conv2D' && isOneByOne(layer))) {
      let input = inboundLayer(layer);
      while (input && FEATURE_TAIL.has(input.getClassName())) input = inboundLayer(input);
      if (!input || input.getClassName() === 'InputLayer') return undefined;
      const scores = probabilities || PROBABILITY_ACTIVATIONS.has(activation ?? '');
      return scores || ((activation ?? 'linear') === 'linear' && readsGlobalPool(input)) ? input : undefined;
    }
    const clamped = clampedInput(layer);
    if (clamped) {
      layer = clamped;
      continue;
    }
    if (!SCORE_TAIL.has(kind)) return undefined;
    if (kind === 'Softmax' || PROBABILITY_ACTIVATIONS.has(activation ?? '')) probabilities = true;
    else if (kind === 'Activation' && activation !== 'linear') return undefined;
    layer = inboundLayer(layer);
  }
  return undefined;
}

/**
 * The model up to the input of its last top-level layer. Uses that layer's last inbound node, because a nested
 * model used as a layer (Teachable Machine's head Sequential) also has the node it was built with.
 */
function cutBeforeLastLayer(model: tf.LayersModel, source: string): tf.LayersModel {
  const last = model.layers.at(-1);
  if (!last || model.layers.length < 2) {
    throw new GraftError('UNSUPPORTED_MODEL', `${source} has a single layer: no feature layer to cut at`, { hint: 'pass --feature-output <layer name>' });
  }
  const output = last.getInputAt(last.inboundNodes.length - 1) as tf.SymbolicTensor;
  return tf.model({ inputs: model.inputs, outputs: output, name: `${model.name}_features` });
}

/**
 * The layer a range clamp reads: `layer` is a Maximum or Minimum of it and of a constant (a Rescaling with scale 0,
 * which is how the ONNX-to-layers converter writes Clip and quantization ranges).
 */
function clampedInput(layer: tf.layers.Layer): tf.layers.Layer | undefined {
  const kind = layer.getClassName();
  if (kind !== 'Maximum' && kind !== 'Minimum') return undefined;
  const inbound = (layer.inboundNodes.at(-1)?.inboundLayers ?? []) as tf.layers.Layer[];
  if (inbound.length !== 2) return undefined;
  const [a, b] = inbound as [tf.layers.Layer, tf.layers.Layer];
  if (isConstant(b) && !isConstant(a)) return a;
  if (isConstant(a) && !isConstant(b)) return b;
  return undefined;
}

/** A Rescaling with scale 0 is a constant whatever it reads (the converter makes it from a tensor of the right shape). */
function isConstant(layer: tf.layers.Layer): boolean {
  return layer.getClassName() === 'Rescaling' && layer.getConfig()['scale'] === 0;
}

/** Whether `layer` is a global pooling, or a flatten or (clamped) ReLU of one: the pooled features a head reads. */
function readsGlobalPool(layer: tf.layers.Layer): boolean {
  let current: tf.layers.Layer | undefined = layer;
  for (let steps = 0; current && steps < 4; steps++) {
    const kind = current.getClassName();
    if (GLOBAL_POOLS.has(kind)) return true;
    if (kind !== 'Flatten' && kind !== 'ReLU' && !FEATURE_TAIL.has(kind)) return false;
    current = inboundLayer(current);
  }
  return false;
}

/** The one layer feeding `layer` (through its last call), or undefined where there are none or several. */
function inboundLayer(layer: tf.layers.Layer): tf.layers.Layer | undefined {
  const inbound = layer.inboundNodes.at(-1)?.inboundLayers ?? [];
  return inbound.length === 1 ? (inbound[0] as tf.layers.Layer) : undefined;
}

function activationOf(layer: tf.layers.Layer): string | undefined {
  const activation = layer.getConfig()['activation'];
  return typeof activation === 'string' ? activation : undefined;
}

function isOneByOne(layer: tf.layers.Layer): boolean {
  const size = layer.getConfig()['kernelSize'];
  return Array.isArray(size) && size.every((k) => k === 1);
}
