import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../core/errors.js';
import {
  encodeOnnxModel,
  makeFloatInitializer,
  makeFloatValueInfo,
  makeInt64Initializer,
  makeNode,
  type AttributeValue,
  type NodeProto,
  type TensorProto,
} from './onnx/onnx-model.js';
import { emitLayer } from './tfjs-to-onnx-layers.js';

/** Options of {@link exportLayersModelToOnnx}. */
export interface ExportLayersModelOptions {
  /** Name of the graph input ([N, H, W, C] NHWC float). Defaults to `'input'`. */
  readonly inputName?: string;
  /** Name of the graph output ([N, D], the model's output flattened). Defaults to `'graft_features'`. */
  readonly featureOutputName?: string;
}

/**
 * A value flowing through the graph being built: its ONNX name, its Keras shape (batch first,
 * channels last, batch `null`) and whether it is stored NCHW. Rank-4 values are kept NCHW between
 * convolutions because that is what ONNX Conv/Pool expect; everything else is stored as Keras has it.
 */
export interface OnnxValue {
  readonly name: string;
  readonly shape: readonly (number | null)[];
  readonly isNchw: boolean;
}

/** Collects nodes and initializers, hands out unique tensor names and converts layouts once per value. */
export class OnnxGraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly usedNames = new Set<string>();
  private readonly layoutCache = new Map<string, OnnxValue>();

  /**
   * Ends the graph: flattens `output` (back in Keras/TF NHWC order) to [N, D] as `outputName` and encodes the
   * model at opset 13. Both exporters (layers and graph models) finish this way.
   */
  encode(output: OnnxValue, io: { graphName: string; inputName: string; inputDims: readonly (number | null)[]; outputName: string }): Uint8Array {
    const keras = this.toKeras(output);
    this.nodes.push(makeNode('Flatten', [keras.name], [io.outputName], { attributes: { axis: { int: 1 } } }));
    const featureDim = keras.shape.slice(1).reduce<number>((a, b) => a * (b ?? Number.NaN), 1);
    return encodeOnnxModel({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 13 }],
      producerName: 'graft',
      producerVersion: '0.1.0',
      graph: {
        name: io.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: [makeFloatValueInfo(io.inputName, io.inputDims)],
        output: [makeFloatValueInfo(io.outputName, [null, Number.isFinite(featureDim) ? featureDim : null])],
      },
    });
  }

  /** `base`, or `base_1`, `base_2`... so two layers or two calls of one model never collide. */
  uniqueName(base: string): string {
    let name = base;
    for (let i = 1; this.usedNames.has(name); i++) name = `${base}_${i}`;
    this.usedNames.add(name);
    return name;
  }

  node(opType: string, inputs: readonly string[], outputBase: string, attributes?: Readonly<Record<string, AttributeValue>>): string {
    const output = this.uniqueName(outputBase);
    this.nodes.push(makeNode(opType, inputs, [output], attributes === undefined ? {} : { attributes }));
    return output;
  }

  floatConst(base: string, dims: readonly number[], data: Float32Array): string {
    const name = this.uniqueName(base);
    this.initializers.push(makeFloatInitializer(name, dims, data));
    return name;
  }

  int64Const(base: string, data: readonly number[]): string {
    const name = this.uniqueName(base);
    this.initializers.push(makeInt64Initializer(name, [data.length], data));
    return name;
  }

  /** The value stored NCHW (a Transpose [0,3,1,2] when it is NHWC); rank-4 values only. */
  toNchw(value: OnnxValue): OnnxValue {
    if (value.isNchw || value.shape.length !== 4) return value;
    return this.converted(value, true, [0, 3, 1, 2]);
  }

  /** The value stored in Keras (NHWC) order, e.g. before Flatten, Reshape or Dense. */
  toKeras(value: OnnxValue): OnnxValue {
    if (!value.isNchw) return value;
    return this.converted(value, false, [0, 2, 3, 1]);
  }

  private converted(value: OnnxValue, isNchw: boolean, perm: number[]): OnnxValue {
    const key = `${value.name}|${isNchw}`;
    const cached = this.layoutCache.get(key);
    if (cached) return cached;
    const name = this.node('Transpose', [value.name], `${value.name}_${isNchw ? 'nchw' : 'nhwc'}`, { perm: { ints: perm } });
    const result: OnnxValue = { name, shape: value.shape, isNchw };
    this.layoutCache.set(key, result);
    return result;
  }
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
 * flattened in Keras' NHWC order). Keras semantics are kept exactly: TF's asymmetric 'same' padding
 * becomes explicit pads computed from the static shapes, BatchNormalization uses the layer's epsilon,
 * Flatten/Reshape see NHWC order. Nested Sequential/Functional models are inlined.
 *
 * Supported layers: InputLayer, Conv2D, DepthwiseConv2D, SeparableConv2D, BatchNormalization, ReLU,
 * LeakyReLU, ELU, Activation (linear, relu, relu6, sigmoid, tanh, elu, selu, softplus, softsign, swish,
 * hardSigmoid, hard_swish, softmax), Add, Multiply, Maximum, Minimum, Concatenate, ZeroPadding2D,
 * AveragePooling2D, MaxPooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, UpSampling2D (nearest,
 * bilinear), Rescaling, Flatten, Reshape, Permute, Dense, Dropout (see SUPPORTED_LAYER_CLASSES).
 *
 * @throws GraftError `UNSUPPORTED_MODEL` naming the layer class and name for anything else, and for
 *   models with several inputs/outputs or without a static input height/width.
 * @example
 * const bytes = exportLayersModelToOnnx(truncateAt(model, 'flatten_1'));
 * const session = await InferenceSession.create(bytes);
 */
export function exportLayersModelToOnnx(model: tf.LayersModel, options: ExportLayersModelOptions = {}): Uint8Array {
  const inputName = options.inputName ?? 'input';
  const outputName = options.featureOutputName ?? 'graft_features';
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new GraftError('UNSUPPORTED_MODEL', `Model "${model.name}" has ${model.inputs.length} inputs and ${model.outputs.length} outputs; ONNX export supports one of each.`, {
      hint: 'truncate the model at its feature layer first (truncateAt)',
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
  const input: OnnxValue = { name: inputName, shape: inputShape, isNchw: false };
  // Convert up front so the one NHWC->NCHW Transpose sits at the top of the graph.
  const [output] = emitContainer(builder, model, [inputShape.length === 4 ? builder.toNchw(input) : input]);
  return builder.encode(output!, { graphName: model.name, inputName, inputDims: inputShape.map((d, i) => (i === 0 ? null : d)), outputName });
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
