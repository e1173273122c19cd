import * as tf from '@tensorflow/tfjs';
import type { MultiScaleParts } from '../onnx/multi-scale.js';
import type { OnnxLayersModel, OnnxToLayersOptions } from './layers-model.js';

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
  const whole = resizeLayers(image, outer, s);
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

/** Applies a functional model's layers again, to a new input: the same layer objects, so the weights are shared. */
function retrace(model: tf.LayersModel, input: tf.SymbolicTensor): tf.SymbolicTensor[] {
  const done = new Map<number, tf.SymbolicTensor>([[model.inputs[0]!.id, input]]);
  const visit = (t: tf.SymbolicTensor): tf.SymbolicTensor => {
    const known = done.get(t.id);
    if (known) return known;
    const inputs = t.inputs.map(visit);
    const out = t.sourceLayer.apply(inputs.length === 1 ? inputs[0]! : inputs, t.callArgs);
    const result = (Array.isArray(out) ? out[t.outputTensorIndex ?? 0] : out) as tf.SymbolicTensor;
    done.set(t.id, result);
    return result;
  };
  return model.outputs.map(visit);
}

/** NHWC [outer, outer, C] -> [s, s, C], bilinear with half-pixel centres: x_out = Rᵀ applied on W, then on H. */
function resizeLayers(image: tf.SymbolicTensor, outer: number, s: number): tf.SymbolicTensor {
  const matrix = tf.tensor2d(resizeMatrix(outer, s), [outer, s]);
  // Building the layer copies the initial weights into its variables.
  const dense = (x: tf.SymbolicTensor, name: string) => tf.layers.dense({ units: s, useBias: false, name, weights: [matrix] }).apply(x) as tf.SymbolicTensor;
  let x = tf.layers.permute({ dims: [3, 1, 2], name: 'graft_scale_chw' }).apply(image) as tf.SymbolicTensor; // [C, H, W]
  x = dense(x, 'graft_scale_resize_w'); // [C, H, s]
  x = tf.layers.permute({ dims: [1, 3, 2], name: 'graft_scale_chw_t' }).apply(x) as tf.SymbolicTensor; // [C, s, H]
  x = dense(x, 'graft_scale_resize_h'); // [C, s(w), s(h)]
  matrix.dispose();
  return tf.layers.permute({ dims: [3, 2, 1], name: 'graft_scale_hwc' }).apply(x) as tf.SymbolicTensor; // [s(h), s(w), C]
}

/** Column j holds the weights of input pixels for output pixel j: ONNX Resize, mode linear, half_pixel, no antialias. */
export function resizeMatrix(from: number, to: number): Float32Array {
  const m = new Float32Array(from * to);
  const scale = to / from;
  for (let j = 0; j < to; j++) {
    const x = Math.min(Math.max((j + 0.5) / scale - 0.5, 0), from - 1);
    const x0 = Math.floor(x);
    const x1 = Math.min(x0 + 1, from - 1);
    const f = x - x0;
    m[x0 * to + j]! += 1 - f;
    m[x1 * to + j]! += f;
  }
  return m;
}
