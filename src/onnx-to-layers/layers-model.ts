import type * as tf from '@tensorflow/tfjs';

/* The converted model and the conversion's options (apart from convert-onnx.ts, which multi-scale-layers.ts also uses). */

/** Options of {@link convertOnnxToLayers}. */
export interface OnnxToLayersOptions {
  /** The file or model name, quoted in errors. Defaults to 'the ONNX model'. */
  readonly source?: string;
  /** ONNX tensors to output, by name. Defaults to the graph's outputs. Only the nodes they need are converted. */
  readonly outputs?: readonly string[];
  /** The input's ONNX shape without the batch, for models whose spatial dims are symbolic, e.g. [3, 224, 224]. */
  readonly inputShape?: readonly number[];
}

/** One output of the converted model and how it relates to the ONNX tensor. */
export interface LayersOutputInfo {
  readonly name: string;
  /** ONNX shape (batch null), e.g. [null, 1280, 1, 1]. */
  readonly onnxShape: readonly (number | null)[];
  /** Keras shape (batch null), e.g. [null, 1280]. */
  readonly shape: readonly (number | null)[];
  /** Keras output = ONNX output transposed by `perm` (then reshaped to `shape`); identity unless NHWC. */
  readonly perm: readonly number[];
}

/** What {@link convertOnnxToLayers} returns. */
export interface OnnxLayersModel {
  /** The Keras-style model; weights set, trainable. Dispose it when done. */
  readonly model: tf.LayersModel;
  readonly inputName: string;
  /** ONNX input shape (batch null), e.g. [null, 3, 224, 224]. */
  readonly onnxInputShape: readonly (number | null)[];
  /** Keras input shape (batch null), e.g. [null, 224, 224, 3]. */
  readonly inputShape: readonly (number | null)[];
  /** Keras input = ONNX input transposed by `inputPerm`: [0, 2, 3, 1] when an NCHW input became NHWC. */
  readonly inputPerm: readonly number[];
  readonly outputs: readonly LayersOutputInfo[];
  /** The source has quantized operators, which became float layers (outputs match onnxruntime only approximately). */
  readonly isQuantized: boolean;
  /** Layers created (including the Permute/Reshape/Rescaling helpers). */
  readonly layerCount: number;
}
