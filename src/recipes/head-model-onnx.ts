import type { DenseLayerWeights } from '../core/dense-layer.js';
import type { BackboneHandle } from '../engine/open-backbone.js';
import { withDenseHead } from '../onnx/append-head.js';
import { mirrorTtaModel } from '../onnx/mirror-tta.js';
import { encodeOnnxModel, type ModelProto } from '../onnx/onnx-model.js';

/** The tensors of model.onnx the manifest names: the image in, the probabilities and the features out. */
export interface ModelIo {
  readonly input: string;
  readonly probabilities: 'probabilities';
  readonly features: string;
}

/** model.onnx's input and outputs for the backbone (or feature view) `handle` whose ONNX model is `model`. */
export function modelIo(model: ModelProto, handle: BackboneHandle): ModelIo {
  return { input: model.graph?.input?.[0]?.name ?? 'input', probabilities: 'probabilities', features: handle.onnxFeatureOutput };
}

/**
 * model.onnx for a head on frozen features: the backbone's model with the dense head after its features, wrapped in
 * mirror test-time augmentation when `tta`, encoded once (built by surgery on the decoded model: an encode and a
 * decode per step took ~0.1 s of a warm run). What `train()` and `saveHeadModel` write.
 */
export function headModelBytes(model: ModelProto, handle: BackboneHandle, layers: readonly DenseLayerWeights[], options: { readonly classes: number; readonly tta: boolean }): Uint8Array {
  const plain = withDenseHead(model, handle.onnxFeatureOutput, layers, {});
  const io = modelIo(model, handle);
  return encodeOnnxModel(options.tta ? mirrorTtaModel(plain, { ...io, classes: options.classes, featureDim: handle.info.featureDim }, handle.info.preprocessing.layout) : plain);
}
