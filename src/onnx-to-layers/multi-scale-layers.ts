import * as tf from '@tensorflow/tfjs';
import type { MultiScaleParts } from '../onnx/multi-scale.js';
import type { OnnxLayersModel, OnnxToLayersOptions } from './layers-model.js';
import { resampleLayers, retrace } from './view-layers.js';

/** Layers the views add around the backbone: crop, three permutes and two Dense for the resize, concatenate. */
const VIEW_LAYERS = 7;

type Convert = (model: MultiScaleParts['backbone'], options: OnnxToLayersOptions) => OnnxLayersModel;

/**
 * A two-scale model (splitMultiScale's parts) as one flat Keras model: the image square [S', S', 3] goes through a
 * centre crop (Cropping2D) and a bilinear resize to S (two Dense layers holding the resize matrices, exactly ONNX's
 * Resize linear / half_pixel, which tfjs's Resizing layer is not), one set of backbone layers applied to both views
 * (shared weights), Concatenate [crop | whole], then the head. Plain layers only, so any TF.js or Keras loader reads it.
 */
export function composeMultiScaleLayers(parts: MultiScaleParts, options: OnnxToLayersOptions, convert: Convert): OnnxLayersModel {
  const source = options.source ?? 'the ONNX model';
  const backbone = convert(parts.backbone, { source, outputs: [parts.features] });
  const head = convert(parts.head, { source, ...(options.outputs ? { outputs: options.outputs.filter((o) => o !== parts.pairs) } : {}) });
  const { outer, inputSize: s, margin } = parts;
  const image = tf.input({ shape: [outer, outer, 3], name: 'graft_image' });
  const crop = tf.layers.cropping2D({ cropping: [[margin, outer - s - margin], [margin, outer - s - margin]], name: 'graft_scale_crop' }).apply(image) as tf.SymbolicTensor;
  const whole = resampleLayers(image, { from: outer, to: s, name: 'graft_scale' });
  const views = [crop, whole].map((view) => retrace(backbone.model, view)[0]!);
  const pairs = tf.layers.concatenate({ axis: -1, name: 'graft_scale_pairs' }).apply(views) as tf.SymbolicTensor;
  const outputs = retrace(head.model, pairs);
  const names = options.outputs ?? head.outputs.map((o) => o.name);
  const byName = new Map(head.outputs.map((o, i) => [o.name, { info: o, tensor: outputs[i]! }]));
  const picked = names.map((name) => byName.get(name) ?? { info: { name, onnxShape: [null, pairs.shape[1]!], shape: pairs.shape, perm: [0, 1] }, tensor: pairs });
  const model = tf.model({ inputs: image, outputs: picked.map((p) => p.tensor), name: 'graft_multi_scale' });
  const onnxInputShape = parts.layout === 'nchw' ? [null, 3, outer, outer] : [null, outer, outer, 3];
  return {
    model,
    inputName: parts.input,
    onnxInputShape,
    inputShape: [null, outer, outer, 3],
    inputPerm: parts.layout === 'nchw' ? [0, 2, 3, 1] : [0, 1, 2, 3],
    outputs: picked.map((p) => p.info),
    isQuantized: backbone.isQuantized || head.isQuantized,
    layerCount: backbone.layerCount + head.layerCount + VIEW_LAYERS,
  };
}
