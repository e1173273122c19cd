import * as tf from '@tensorflow/tfjs';
import { mirrorTtaNames, unwrapMirrorTta } from '../onnx/mirror-tta.js';
import type { ModelProto } from '../onnx/onnx-model.js';
import type { OnnxLayersModel, OnnxToLayersOptions } from './layers-model.js';
import { resampleLayers, retrace } from './view-layers.js';

/** Layers the mirror adds around the classifier: two permutes and a Dense for the mirror image, the average. */
const MIRROR_LAYERS = 4;

type Convert = (model: ModelProto, options: OnnxToLayersOptions) => OnnxLayersModel;

/**
 * A model wrapped in Graft's mirror test-time augmentation (wrapMirrorTta: the batch doubled with a Slice of step
 * -1, split and averaged after) as one flat Keras model: the classifier converted without the wrapper, applied to
 * the image and, again with the same layers, to its mirror image (a Dense holding the reversed identity on the
 * width: there is no flip layer), the two probability outputs averaged; every other output (the features) the
 * plain image's, as in the ONNX model. So a TF.js user's `model.predict` gives `graft eval`'s answers. Plain layers
 * only. Undefined when `model` has no mirror TTA.
 */
export function composeMirrorTtaLayers(model: ModelProto, options: OnnxToLayersOptions, convert: Convert): OnnxLayersModel | undefined {
  const names = mirrorTtaNames(model);
  if (!names) return undefined;
  // The unwrapped graph keeps the wrapper's outer names, so the requested outputs and the input name carry over.
  const inner = convert(unwrapMirrorTta(model, names), options);
  const shape = inner.inputShape.slice(1) as number[];
  const width = shape[1]!;
  const image = tf.input({ shape, name: 'graft_tta_image' });
  const plain = retrace(inner.model, image);
  const mirrored = retrace(inner.model, resampleLayers(image, { from: width, to: width, mirror: true, name: 'graft_tta_mirror' }));
  const outputs = inner.outputs.map((info, i) =>
    info.name === names.probabilities ? (tf.layers.average({ name: 'graft_tta_average' }).apply([plain[i]!, mirrored[i]!]) as tf.SymbolicTensor) : plain[i]!,
  );
  return {
    ...inner,
    model: tf.model({ inputs: image, outputs, name: 'graft_mirror_tta' }),
    layerCount: inner.layerCount + MIRROR_LAYERS,
  };
}
