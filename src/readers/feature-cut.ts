import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../core/errors.js';

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
 * - the probabilities may be an Average of one classifier applied to several views (Graft's Teachable Machine export
 *   with mirror test-time augmentation): the features are those of the first view, the image as given;
 * - a model with several outputs is read by its first (Graft's TF.js export: the probabilities, then the features);
 * - a nested model as its last layer (Teachable Machine's head Sequential) is cut off;
 * - otherwise `otherwise` says: the whole model (a TF.js layers model: a feature model, as Teachable Machine's base),
 *   or what feeds its last layer (a Keras file).
 * The cut is at a tensor, not a layer: a layer applied to several views has one output per view.
 * @throws GraftError `UNSUPPORTED_MODEL` for a model with several outputs whose first is no classifier (which one holds
 *   the features is not known), and for a single-layer model that must be cut before its last layer.
 */
export function cutAtFeatures(model: tf.LayersModel, source: string, otherwise: 'whole' | 'before-last'): tf.LayersModel {
  const features = classifierInput(model.outputs[0]!);
  if (features) return tf.model({ inputs: model.inputs, outputs: features, name: `${model.name}_features` });
  if (model.outputs.length > 1) {
    const names = model.outputs.map((t) => t.sourceLayer.name);
    throw new GraftError('UNSUPPORTED_MODEL', `${source} has ${names.length} outputs (${names.join(', ')}) and the first is no classifier, so which holds the features is not known`, {
      hint: `pass --feature-output <layer name> naming the features (one of: ${names.join(', ')}, or any other layer)`,
    });
  }
  const last = model.layers.at(-1);
  if (otherwise === 'whole' && !(last instanceof tf.LayersModel)) return model;
  return cutBeforeLastLayer(model, source);
}

/** The tensor a probability classifier producing `scores` reads, or undefined where `scores` come otherwise. */
function classifierInput(scores: tf.SymbolicTensor): tf.SymbolicTensor | undefined {
  let tensor: tf.SymbolicTensor | undefined = scores;
  let probabilities = false;
  for (let steps = 0; tensor && steps < 16; steps++) {
    const layer = tensor.sourceLayer;
    const kind = layer.getClassName();
    const activation = activationOf(layer);
    if (kind === 'Dense' || (kind === 'Conv2D' && isOneByOne(layer))) {
      let input = onlyInput(tensor);
      while (input && FEATURE_TAIL.has(input.sourceLayer.getClassName())) input = onlyInput(input);
      if (!input || input.sourceLayer.getClassName() === 'InputLayer') return undefined;
      const isScores = probabilities || PROBABILITY_ACTIVATIONS.has(activation ?? '');
      return isScores || ((activation ?? 'linear') === 'linear' && readsGlobalPool(input)) ? input : undefined;
    }
    const next: tf.SymbolicTensor | undefined = clampedInput(tensor) ?? firstView(tensor);
    if (next) {
      tensor = next;
      continue;
    }
    if (!SCORE_TAIL.has(kind)) return undefined;
    if (kind === 'Softmax' || PROBABILITY_ACTIVATIONS.has(activation ?? '')) probabilities = true;
    else if (kind === 'Activation' && activation !== 'linear') return undefined;
    tensor = onlyInput(tensor);
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
 * The tensor a range clamp reads: `tensor` is a Maximum or Minimum of it and of a constant (a Rescaling with scale 0,
 * which is how the ONNX-to-layers converter writes Clip and quantization ranges).
 */
function clampedInput(tensor: tf.SymbolicTensor): tf.SymbolicTensor | undefined {
  const kind = tensor.sourceLayer.getClassName();
  if (kind !== 'Maximum' && kind !== 'Minimum') return undefined;
  if (tensor.inputs.length !== 2) return undefined;
  const [a, b] = tensor.inputs as [tf.SymbolicTensor, tf.SymbolicTensor];
  if (isConstant(b) && !isConstant(a)) return a;
  if (isConstant(a) && !isConstant(b)) return b;
  return undefined;
}

/** A Rescaling with scale 0 is a constant whatever it reads (the converter makes it from a tensor of the right shape). */
function isConstant(tensor: tf.SymbolicTensor): boolean {
  const layer = tensor.sourceLayer;
  return layer.getClassName() === 'Rescaling' && layer.getConfig()['scale'] === 0;
}

/**
 * The first input of an Average of one layer's outputs (test-time augmentation: the same classifier on the image and
 * on other views of it), or undefined for any other tensor.
 */
function firstView(tensor: tf.SymbolicTensor): tf.SymbolicTensor | undefined {
  if (tensor.sourceLayer.getClassName() !== 'Average' || tensor.inputs.length < 2) return undefined;
  const [first, ...rest] = tensor.inputs as [tf.SymbolicTensor, ...tf.SymbolicTensor[]];
  return rest.every((view) => view.sourceLayer === first.sourceLayer) ? first : undefined;
}

/** Whether `tensor` is a global pooling, or a flatten or (clamped) ReLU of one: the pooled features a head reads. */
function readsGlobalPool(tensor: tf.SymbolicTensor): boolean {
  let current: tf.SymbolicTensor | undefined = tensor;
  for (let steps = 0; current && steps < 4; steps++) {
    const kind = current.sourceLayer.getClassName();
    if (GLOBAL_POOLS.has(kind)) return true;
    if (kind !== 'Flatten' && kind !== 'ReLU' && !FEATURE_TAIL.has(kind)) return false;
    current = onlyInput(current);
  }
  return false;
}

/** The one tensor the layer call that made `tensor` read, or undefined where it read none or several. */
function onlyInput(tensor: tf.SymbolicTensor): tf.SymbolicTensor | undefined {
  return tensor.inputs.length === 1 ? tensor.inputs[0] : undefined;
}

function activationOf(layer: tf.layers.Layer): string | undefined {
  const activation = layer.getConfig()['activation'];
  return typeof activation === 'string' ? activation : undefined;
}

function isOneByOne(layer: tf.layers.Layer): boolean {
  const size = layer.getConfig()['kernelSize'];
  return Array.isArray(size) && size.every((k) => k === 1);
}
