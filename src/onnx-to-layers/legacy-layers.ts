import * as tf from '@tensorflow/tfjs';

/**
 * `model` with each Rescaling layer (x * scale + offset, scalars; a TensorFlow.js layer only since 3.21) replaced by a
 * 1 x 1 DepthwiseConv2D whose every weight is `scale` and every bias `offset`: the same multiply and add per element,
 * so the same floats. Teachable Machine's own export snippet pins TensorFlow.js 1.3.1, which reads the result and not
 * a Rescaling layer ("Unknown layer: Rescaling"). A 2-D input ([N, C], a head's) goes through a Reshape to [1, 1, C] and
 * back. Every other layer is applied again as it is (its weights shared, not copied), so dispose only one of the two.
 * @throws Error for a Rescaling layer on another rank (none is made by Graft's conversion).
 */
export function withoutRescaling(model: tf.LayersModel): tf.LayersModel {
  const inputs = model.inputs.map((t) => tf.input({ shape: t.shape.slice(1) as number[], name: `${t.name.split('/')[0]}_legacy` }));
  const done = new Map<number, tf.SymbolicTensor>(model.inputs.map((t, i) => [t.id, inputs[i]!]));
  const replacements = new Map<tf.layers.Layer, (x: tf.SymbolicTensor) => tf.SymbolicTensor>();
  const visit = (t: tf.SymbolicTensor): tf.SymbolicTensor => {
    const known = done.get(t.id);
    if (known) return known;
    const args = t.inputs.map(visit);
    const layer = t.sourceLayer;
    let result: tf.SymbolicTensor;
    if (layer.getClassName() === 'Rescaling') {
      // A layer applied to several views (two scales, the mirror) is replaced once, and its replacement shared.
      let replacement = replacements.get(layer);
      if (!replacement) {
        const { scale, offset } = layer.getConfig() as { scale: number; offset: number };
        replacement = affineLayers(args[0]!, scale, offset, layer.name);
        replacements.set(layer, replacement);
      }
      result = replacement(args[0]!);
    } else {
      const out = layer.apply(args.length === 1 ? args[0]! : args, t.callArgs);
      result = (Array.isArray(out) ? out[t.outputTensorIndex ?? 0] : out) as tf.SymbolicTensor;
    }
    done.set(t.id, result);
    return result;
  };
  return tf.model({ inputs, outputs: model.outputs.map(visit), name: model.name });
}

/**
 * x * scale + offset, elementwise, as a 1 x 1 depthwise convolution over the last axis: the layers are made (and built,
 * on `x`, which copies their weights in) once; the function applies them to each later input.
 */
function affineLayers(x: tf.SymbolicTensor, scale: number, offset: number, name: string): (x: tf.SymbolicTensor) => tf.SymbolicTensor {
  const channels = x.shape[x.shape.length - 1];
  if (typeof channels !== 'number' || (x.shape.length !== 2 && x.shape.length !== 4)) {
    throw new Error(`Cannot replace Rescaling layer ${name} on a tensor of shape [${x.shape.join(', ')}]`);
  }
  const toImage = x.shape.length === 4 ? undefined : tf.layers.reshape({ targetShape: [1, 1, channels], name: `${name}_to_image` });
  const toVector = x.shape.length === 4 ? undefined : tf.layers.reshape({ targetShape: [channels], name: `${name}_to_vector` });
  const kernel = tf.fill([1, 1, channels, 1], scale);
  const bias = tf.fill([channels], offset);
  const depthwise = tf.layers.depthwiseConv2d({ kernelSize: 1, depthMultiplier: 1, useBias: true, weights: [kernel, bias], name });
  const apply = (v: tf.SymbolicTensor): tf.SymbolicTensor => {
    const y = depthwise.apply(toImage ? (toImage.apply(v) as tf.SymbolicTensor) : v) as tf.SymbolicTensor;
    return toVector ? (toVector.apply(y) as tf.SymbolicTensor) : y;
  };
  try {
    // Building a layer (its first apply) copies its initial weights into its variables.
    apply(x);
  } finally {
    kernel.dispose();
    bias.dispose();
  }
  return apply;
}
