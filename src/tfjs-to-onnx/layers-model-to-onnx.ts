import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../core/errors.js';
import { OnnxGraphBuilder, type OnnxValue } from '../onnx/graph-builder.js';
import { emitLayer } from './layer-emitters.js';

/** Options of {@link exportLayersModelToOnnx}. */
export interface ExportLayersModelOptions {
  /** Name of the graph input ([N, H, W, C] NHWC float). Defaults to `'input'`. */
  readonly inputName?: string;
  /** Name of the graph output ([N, D], the model's output flattened). Defaults to `'graft_features'`. */
  readonly featureOutputName?: string;
  /**
   * Names of the graph outputs, one per model output in order (each [N, D], flattened): a model with several outputs
   * (Graft's TF.js export: the probabilities, then the features) is exported whole only with these.
   */
  readonly outputNames?: readonly string[];
}

/** The parts of tfjs's symbolic graph the exporter walks (public fields tfjs does not type for us). */
interface GraphNode {
  readonly inputTensors: tf.SymbolicTensor[];
  readonly outputTensors: tf.SymbolicTensor[];
}

/**
 * Exports a TF.js layers model to ONNX (opset 13) for onnxruntime.
 *
 * The graph takes `input` [N, H, W, C] NHWC, so the tensors Graft preprocesses for tfjs feed ORT
 * unchanged; it transposes to NCHW once, and returns `graft_features` [N, D] (the model's output
 * flattened in Keras' NHWC order; with `outputNames`, each output under its name). Keras semantics are
 * kept exactly: TF's asymmetric 'same' padding becomes explicit pads computed from the static shapes,
 * BatchNormalization uses the layer's epsilon, Flatten/Reshape/Permute/Cropping2D see NHWC order, Dense
 * multiplies the last axis of a tensor of any rank. Nested Sequential/Functional models are inlined, and a
 * layer applied to several tensors (a classifier on an image and on its mirror image) is emitted per call.
 *
 * Supported layers: InputLayer, Conv2D, DepthwiseConv2D, SeparableConv2D, BatchNormalization, ReLU,
 * LeakyReLU, ELU, Softmax, Activation (linear, relu, relu6, sigmoid, tanh, elu, selu, softplus, softsign,
 * swish, hardSigmoid, hard_swish, softmax), Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate,
 * ZeroPadding2D, Cropping2D, AveragePooling2D, MaxPooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D,
 * UpSampling2D (nearest, bilinear), Rescaling, Flatten, Reshape, Permute, Dense, Dropout (see
 * SUPPORTED_LAYER_CLASSES).
 *
 * @throws GraftError `UNSUPPORTED_MODEL` naming the layer class and name for anything else, and for
 *   models with several inputs, with another number of outputs than of names, or without a static input
 *   height/width.
 * @example
 * const bytes = exportLayersModelToOnnx(truncateAt(model, 'flatten_1'));
 * const session = await InferenceSession.create(bytes);
 */
export function exportLayersModelToOnnx(model: tf.LayersModel, options: ExportLayersModelOptions = {}): Uint8Array {
  const inputName = options.inputName ?? 'input';
  const outputNames = options.outputNames ?? [options.featureOutputName ?? 'graft_features'];
  if (model.inputs.length !== 1 || model.outputs.length !== outputNames.length) {
    const outputs = model.outputs.map((t) => t.sourceLayer.name).join(', ');
    throw new GraftError('UNSUPPORTED_MODEL', `Model "${model.name}" has ${model.inputs.length} inputs and ${model.outputs.length} outputs (${outputs}); ONNX export takes one input and ${outputNames.length} named outputs.`, {
      hint: 'truncate the model at its feature layer first (truncateAt), or name each output (outputNames)',
    });
  }
  const inputShape = model.inputs[0]!.shape;
  if (inputShape.length !== 4 || inputShape.slice(1).some((d) => d === null)) {
    throw new GraftError('UNSUPPORTED_MODEL', `Model "${model.name}" takes input ${JSON.stringify(inputShape)}; ONNX export needs a static [N, H, W, C] image input.`, {
      hint: "'same' padding is computed from the input size: rebuild the model with a fixed inputShape such as [224, 224, 3]",
    });
  }
  const builder = new OnnxGraphBuilder();
  builder.uniqueName(inputName);
  for (const name of outputNames) builder.uniqueName(name);
  const input: OnnxValue = { name: inputName, shape: inputShape, isNchw: false };
  // Convert up front so the one NHWC->NCHW Transpose sits at the top of the graph.
  const outputs = emitContainer(builder, model, [inputShape.length === 4 ? builder.toNchw(input) : input]);
  return builder.encode(
    outputs.map((value, i) => ({ value, name: outputNames[i]! })),
    { graphName: model.name, inputName, inputDims: inputShape.map((d, i) => (i === 0 ? null : d)) },
  );
}

/**
 * Emits a (possibly nested) model applied to `inputs`: walks back from its outputs through each
 * symbolic tensor's source layer and inbound node, so only layers the outputs depend on are emitted.
 */
function emitContainer(builder: OnnxGraphBuilder, container: tf.LayersModel, inputs: readonly OnnxValue[]): OnnxValue[] {
  const values = new Map<number, OnnxValue>();
  container.inputs.forEach((t, i) => values.set(t.id, inputs[i]!));
  const resolveTensor = (tensor: tf.SymbolicTensor): OnnxValue => {
    const known = values.get(tensor.id);
    if (known) return known;
    const layer = tensor.sourceLayer;
    const node = layer.inboundNodes[tensor.nodeIndex] as unknown as GraphNode | undefined;
    if (!node || node.inputTensors.length === 0) {
      throw new GraftError('UNSUPPORTED_MODEL', `Tensor "${tensor.name}" of ${layer.getClassName()} layer "${layer.name}" is not computed from the model's input.`);
    }
    const layerInputs = node.inputTensors.map(resolveTensor);
    const outputs =
      layer instanceof tf.LayersModel ? emitContainer(builder, layer, layerInputs) : [emitLayer(builder, layer, layerInputs, node.outputTensors[0]!.shape)];
    node.outputTensors.forEach((t, i) => {
      const value = outputs[i];
      if (!value) throw new GraftError('UNSUPPORTED_MODEL', `Layer "${layer.name}" (${layer.getClassName()}) has ${node.outputTensors.length} outputs; ONNX export supports one.`);
      values.set(t.id, { ...value, shape: t.shape });
    });
    return values.get(tensor.id)!;
  };
  return container.outputs.map(resolveTensor);
}
