import { GraftError } from '../core/errors.js';
import { createSession } from '../runtime/ort-session.js';
import * as ort from 'onnxruntime-node';
import {
  ONNX_FLOAT,
  ONNX_INT8,
  ONNX_UINT8,
  cloneOnnxModel,
  encodeOnnxModel,
  findConsumers,
  findInitializer,
  findProducer,
  findValueInfo,
  graphInputs,
  graphOf,
  intAttribute,
  makeFloatValueInfo,
  makeNode,
  nodeInputs,
  nodeOutputs,
  nodesOf,
  renameTensor,
  tensorDims,
  valueElemType,
  valueShape,
  type GraphProto,
  type ModelProto,
  type NodeProto,
} from './onnx-model.js';

/** Name of the output Graft adds: the pooled feature vector, float [N, featureDim]. */
export const FEATURE_OUTPUT = 'graft_features';

const HINT = 'pass --feature-output <tensor name>';

export interface ExposeFeaturesOptions {
  /** Tensor to use as the feature vector, instead of searching for the classifier's input. */
  readonly output?: string;
  /** File name or path quoted in errors. Defaults to the graph's name. */
  readonly source?: string;
}

export interface ExposedFeatures {
  /** A copy of the model with the feature tensor as a graph output (the input model is not changed). */
  readonly model: ModelProto;
  /** Graph output holding float [N, featureDim] features. */
  readonly featureOutput: string;
  readonly featureDim: number;
  readonly inputName: string;
  /** Declared input shape; null for symbolic dims (the batch). */
  readonly inputShape: readonly (number | null)[];
}

/** Ops that read a final classifier's input: the last one in the graph is taken as the classifier. */
const CLASSIFIER_OPS = new Set(['Gemm', 'MatMul', 'QLinearMatMul']);
/**
 * Ops between the pooling and the classifier that change neither values nor element count (a Transpose only their
 * order: converters move a pooled [N,1,1,C] map between layouts with one, and a head is trained on the result anyway).
 */
const PASSTHROUGH_OPS = new Set(['Flatten', 'Reshape', 'Squeeze', 'Unsqueeze', 'Identity', 'Dropout', 'Cast', 'DequantizeLinear', 'QuantizeLinear', 'Transpose']);
const POOL_OPS = new Set(['GlobalAveragePool', 'QLinearGlobalAveragePool', 'ReduceMean', 'AveragePool', 'QLinearAveragePool', 'GlobalMaxPool']);

/**
 * Makes a classifier's pooled embedding available as a graph output, since onnxruntime only returns
 * declared outputs.
 *
 * The feature tensor is, in order of preference: `options.output`; an existing 2-D float output that is
 * not the classifier's logits (a backbone-only model); or the tensor feeding the last
 * Gemm/MatMul/QLinearMatMul, walked back through reshapes and (de)quantization to the pooling that made it, or
 * through a small float dense head (one or two hidden Dense layers) to the pooling beneath it.
 * A quantized tensor gets a DequantizeLinear with its own scale and zero point; everything is flattened
 * to [N, D] as `graft_features`.
 *
 * @example
 * const { model, featureOutput, featureDim } = await exposeFeatures(await readOnnxModel('mobilenetv2-12-int8.onnx'));
 * // featureOutput === 'graft_features', featureDim === 1280
 * @throws GraftError `UNSUPPORTED_MODEL` when no classifier or usable output is found (hint: --feature-output),
 *   `INVALID_CONFIG` when `options.output` names no tensor of the graph.
 */
export async function exposeFeatures(input: ModelProto, options: ExposeFeaturesOptions = {}): Promise<ExposedFeatures> {
  const model = cloneOnnxModel(input);
  const graph = graphOf(model);
  const source = options.source ?? `ONNX model "${graph.name || 'unnamed'}"`;
  const modelInput = graphInputs(graph)[0];
  if (!modelInput?.name) {
    throw new GraftError('UNSUPPORTED_MODEL', `"${source}" has no graph input to feed images to.`);
  }
  const inputName = modelInput.name;
  const inputShape = valueShape(modelInput) ?? [];
  const done = async (featureOutput: string, knownDim: number | undefined): Promise<ExposedFeatures> => {
    const featureDim = knownDim ?? (await measureFeatureDim(model, inputName, inputShape, featureOutput, source));
    if (featureOutput === FEATURE_OUTPUT) {
      // Record D in the declared shape, so appendDenseHead and readers of the file can check it.
      graph.output = (graph.output ?? []).map((o) => (o.name === FEATURE_OUTPUT ? makeFloatValueInfo(FEATURE_OUTPUT, [null, featureDim]) : o));
    }
    return { model, featureOutput, featureDim, inputName, inputShape };
  };

  if (options.output !== undefined) {
    const tensor = options.output;
    if (!findProducer(graph, tensor) && !(graph.input ?? []).some((v) => v.name === tensor)) {
      const nearEnd = nodesOf(graph).slice(-8).flatMap(nodeOutputs);
      throw new GraftError('INVALID_CONFIG', `"${source}" has no tensor named "${tensor}". Tensors near the end of the graph: ${nearEnd.join(', ')}.`, { hint: HINT });
    }
    const info = findValueInfo(graph, tensor);
    if (isGraphOutput(graph, tensor) && is2dFloat(info)) return done(tensor, valueShape(info)?.[1] ?? undefined);
    appendFeatureNodes(graph, tensor, undefined, source);
    return done(FEATURE_OUTPUT, undefined);
  }

  const classifier = nodesOf(graph).filter((node) => CLASSIFIER_OPS.has(node.opType ?? '') || isPooledConv(graph, node)).at(-1);
  const logits = classifier ? downstreamTensors(graph, classifier) : new Set<string>();
  const existing = (graph.output ?? []).find((o) => is2dFloat(o) && !logits.has(o.name ?? ''));
  if (existing?.name) return done(existing.name, valueShape(existing)?.[1] ?? undefined);

  // A feature model whose one output is still the pooled map, [N, C, 1, 1] (or [N, 1, 1, C]): its vector, flattened.
  const pooledMap = classifier ? undefined : (graph.output ?? []).find((o) => isPooledMap(o));
  if (pooledMap?.name) {
    appendFeatureNodes(graph, pooledMap.name, undefined, source);
    return done(FEATURE_OUTPUT, undefined);
  }
  if (!classifier) {
    const outputs = (graph.output ?? []).map((o) => `${o.name} [${valueShape(o)?.map((d) => d ?? 'N').join(', ') ?? '?'}]`);
    throw new GraftError(
      'UNSUPPORTED_MODEL',
      `Cannot find the feature vector in "${source}": it has no classifier (Gemm, MatMul, QLinearMatMul, or a 1x1 Conv on a pooled tensor) and no 2-D float output (outputs: ${outputs.join(', ')}).`,
      { hint: HINT },
    );
  }
  const classifierInput = nodeInputs(classifier).find((name) => name && !findInitializer(graph, name)) ?? nodeInputs(classifier)[0]!;
  const { tensor, quant, pooled } = walkBackToPool(graph, classifierInput, initialQuant(classifier));
  const beneath = pooled ? undefined : poolBeneathDenseHead(graph, classifierInput);
  if (beneath) {
    appendFeatureNodes(graph, beneath, undefined, source);
    return done(FEATURE_OUTPUT, undefined);
  }
  appendFeatureNodes(graph, tensor, quant, source);
  return done(FEATURE_OUTPUT, classifierInputDim(graph, classifier));
}

/** Activations a dense head's hidden layers end in (Keras's Dense(activation=...), Clip for ReLU6). */
const HIDDEN_ACTIVATIONS = new Set(['Relu', 'LeakyRelu', 'Elu', 'Selu', 'Sigmoid', 'Tanh', 'HardSigmoid', 'Clip', 'Softplus', 'Gelu']);
/** A pooled embedding is looked for under at most this many hidden layers. */
const MOST_HIDDEN_LAYERS = 2;

/**
 * The pooled tensor under a small dense head (Dense, activation, then the classifier), as a Teachable Machine model
 * (MobileNetV2's 1280 pooled features, Dense(100, relu), Dense(N, softmax)) or Keras's Dense(1024, relu) head has it
 * once converted to ONNX. The hidden layer was trained on the source's few classes; the pooled features are the
 * backbone's, which Graft reads from the same model given as .h5 or TF.js. Undefined when float Dense layers
 * (MatMul or Gemm, bias, activation) do not lead down to a pooling.
 */
function poolBeneathDenseHead(graph: GraphProto, start: string): string | undefined {
  let tensor = start;
  for (let layer = 0; layer < MOST_HIDDEN_LAYERS; layer++) {
    let producer = producerPast(graph, tensor, PASSTHROUGH_OPS);
    if (!producer || !HIDDEN_ACTIVATIONS.has(producer.opType ?? '')) return undefined;
    producer = producerPast(graph, nodeInputs(producer)[0]!, PASSTHROUGH_OPS);
    if (producer?.opType === 'Add') {
      const data = nodeInputs(producer).filter((name) => !findInitializer(graph, name));
      if (data.length !== 1) return undefined;
      producer = producerPast(graph, data[0]!, PASSTHROUGH_OPS);
    }
    if (producer?.opType !== 'MatMul' && producer?.opType !== 'Gemm') return undefined;
    const inputs = nodeInputs(producer);
    if (!findInitializer(graph, inputs[1] ?? '')) return undefined;
    const walked = walkBackToPool(graph, inputs[0]!, undefined);
    if (walked.pooled) return walked.tensor;
    tensor = inputs[0]!;
  }
  return undefined;
}

/** The node producing `tensor`, past any ops in `skip`. */
function producerPast(graph: GraphProto, tensor: string, skip: ReadonlySet<string>): NodeProto | undefined {
  for (let steps = 0; steps < 16; steps++) {
    const producer = findProducer(graph, tensor);
    if (!producer || !skip.has(producer.opType ?? '')) return producer;
    tensor = nodeInputs(producer)[0]!;
  }
  return undefined;
}

/** Scale and zero-point tensor names of a quantized tensor. */
interface QuantParams {
  readonly scale: string;
  readonly zeroPoint: string;
}

function initialQuant(classifier: NodeProto): QuantParams | undefined {
  const inputs = nodeInputs(classifier);
  // QLinearMatMul / QLinearConv(x, x_scale, x_zero_point, w, ...): the classifier's input is quantized with x_*.
  const quantized = classifier.opType === 'QLinearMatMul' || classifier.opType === 'QLinearConv';
  return quantized ? { scale: inputs[1]!, zeroPoint: inputs[2]! } : undefined;
}

/**
 * A classifier written as a 1x1 convolution of the globally pooled map, as TF-Slim's MobileNet V1 (`Conv2d_1c_1x1`),
 * Keras's MobileNet (`conv_preds`) and models converted from them have it: without this rule their logits, the only
 * 2-D output, were taken for the features.
 */
function isPooledConv(graph: GraphProto, node: NodeProto): boolean {
  if (node.opType !== 'Conv' && node.opType !== 'QLinearConv') return false;
  const weight = findInitializer(graph, nodeInputs(node)[node.opType === 'Conv' ? 1 : 3] ?? '');
  const dims = weight ? tensorDims(weight) : [];
  const isOneByOne = dims.length === 4 && dims[2] === 1 && dims[3] === 1;
  return isOneByOne && walkBackToPool(graph, nodeInputs(node)[0]!, undefined).pooled && leadsToOutput(graph, nodeOutputs(node)[0]!);
}

/** Ops a classifier's logits may pass through to the graph output. */
const LOGIT_OPS = new Set([...PASSTHROUGH_OPS, 'Softmax', 'LogSoftmax', 'Sigmoid']);

/**
 * Whether `tensor` reaches a graph output through nothing but a bias, reshapes and a final activation. A
 * squeeze-and-excitation block (pool, 1x1 Conv, ReLU, 1x1 Conv, gate) also convolves a pooled tensor; its output goes on
 * into the network, so it is not taken for the classifier.
 */
function leadsToOutput(graph: GraphProto, tensor: string): boolean {
  for (let steps = 0; steps < 16; steps++) {
    if (isGraphOutput(graph, tensor)) return true;
    const consumers = findConsumers(graph, tensor);
    if (consumers.length !== 1) return false;
    const next = consumers[0]!;
    const op = next.opType ?? '';
    const isBias = op === 'Add' && nodeInputs(next).some((name) => name !== tensor && findInitializer(graph, name));
    if (!LOGIT_OPS.has(op) && !isBias) return false;
    tensor = nodeOutputs(next)[0]!;
  }
  return false;
}

/**
 * From the classifier's input back through shape-only ops to the pooling output. Tracks whether the
 * tensor at each step is quantized and with which parameters. Stops where the chain ends; if no pooling
 * was reached, the classifier's own input is used.
 */
function walkBackToPool(
  graph: GraphProto,
  start: string,
  startQuant: QuantParams | undefined,
): { tensor: string; quant: QuantParams | undefined; pooled: boolean } {
  let tensor = start;
  let quant = startQuant;
  for (let steps = 0; steps < 32; steps++) {
    const producer = findProducer(graph, tensor);
    if (!producer) break;
    const op = producer.opType ?? '';
    if (POOL_OPS.has(op)) return { tensor, quant, pooled: true };
    if (!PASSTHROUGH_OPS.has(op)) break;
    const inputs = nodeInputs(producer);
    if (op === 'DequantizeLinear') quant = { scale: inputs[1]!, zeroPoint: inputs[2]! };
    else if (op === 'QuantizeLinear') quant = undefined;
    tensor = inputs[0]!;
  }
  return { tensor: start, quant: startQuant, pooled: false };
}

/** Adds [DequantizeLinear ->] Flatten -> `graft_features` and declares it as an output. */
function appendFeatureNodes(graph: GraphProto, chosen: string, knownQuant: QuantParams | undefined, source: string): void {
  // A file `graft convert` wrote names its own output `graft_features` (a classifier's logits, say): renamed out of the
  // way, or the graph would define the name twice.
  const renamed = tensorNames(graph).has(FEATURE_OUTPUT) ? renameTensorEverywhere(graph, FEATURE_OUTPUT, freeName(graph, `${FEATURE_OUTPUT}_source`)) : undefined;
  const tensor = chosen === FEATURE_OUTPUT && renamed ? renamed : chosen;
  let floatTensor = tensor;
  const quant = knownQuant ?? (isQuantized(graph, tensor) ? findQuantParams(graph, tensor, new Set()) : undefined);
  if (isQuantized(graph, tensor) || knownQuant) {
    if (!quant) {
      throw new GraftError('UNSUPPORTED_MODEL', `Tensor "${tensor}" in "${source}" is quantized, but its scale and zero point were not found.`, { hint: `${HINT} (a float tensor)` });
    }
    floatTensor = `${FEATURE_OUTPUT}_dequantized`;
    nodesOf(graph).push(makeNode('DequantizeLinear', [tensor, quant.scale, quant.zeroPoint], [floatTensor], { name: 'graft_features_dequantize' }));
  }
  nodesOf(graph).push(makeNode('Flatten', [floatTensor], [FEATURE_OUTPUT], { name: 'graft_features_flatten', attributes: { axis: { int: 1 } } }));
  (graph.output ?? (graph.output = [])).push(makeFloatValueInfo(FEATURE_OUTPUT, [null, null]));
}

/** Every tensor name the graph uses: inputs, outputs, initializers, value infos and node outputs. */
function tensorNames(graph: GraphProto): Set<string> {
  const named = [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? []), ...(graph.initializer ?? [])].map((v) => v.name ?? '');
  return new Set([...named, ...nodesOf(graph).flatMap(nodeOutputs)]);
}

/** `base`, or `base_2`, `base_3`... : the first the graph does not use. */
function freeName(graph: GraphProto, base: string): string {
  const taken = tensorNames(graph);
  let name = base;
  for (let i = 2; taken.has(name); i++) name = `${base}_${i}`;
  return name;
}

/** Renames tensor `from` to `to` everywhere in the graph (its producer, its consumers, inputs, outputs, value infos); returns `to`. */
function renameTensorEverywhere(graph: GraphProto, from: string, to: string): string {
  renameTensor(graph, from, to);
  for (const value of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])]) if (value.name === from) value.name = to;
  return to;
}

/** Quantized: recorded as (u)int8, or made by a quantizing op, directly or through shape-only ops. */
function isQuantized(graph: GraphProto, tensor: string, depth = 0): boolean {
  const elemType = valueElemType(findValueInfo(graph, tensor));
  if (elemType !== undefined) return elemType === ONNX_UINT8 || elemType === ONNX_INT8;
  const producer = findProducer(graph, tensor);
  const op = producer?.opType ?? '';
  if (op.startsWith('QLinear') || op === 'QuantizeLinear') return true;
  if (producer && depth < 32 && PASSTHROUGH_OPS.has(op) && op !== 'DequantizeLinear' && op !== 'Cast') {
    return isQuantized(graph, nodeInputs(producer)[0]!, depth + 1);
  }
  return false;
}

/**
 * A quantized tensor's scale and zero point. Every QLinear op and DequantizeLinear take each quantized
 * input as a (tensor, scale, zero point) triple starting at an index divisible by 3, so a consumer names
 * them; otherwise the producer's output parameters are used. Shape-only ops keep the parameters, so the
 * search continues through them in both directions.
 */
function findQuantParams(graph: GraphProto, tensor: string, seen: Set<string>): QuantParams | undefined {
  if (seen.has(tensor)) return undefined;
  seen.add(tensor);
  for (const consumer of findConsumers(graph, tensor)) {
    const op = consumer.opType ?? '';
    const inputs = nodeInputs(consumer);
    if ((op.startsWith('QLinear') && op !== 'QLinearConcat') || op === 'DequantizeLinear') {
      const index = inputs.indexOf(tensor);
      if (index % 3 === 0 && inputs[index + 2]) return { scale: inputs[index + 1]!, zeroPoint: inputs[index + 2]! };
    }
  }
  const producer = findProducer(graph, tensor);
  const op = producer?.opType ?? '';
  const inputs = producer ? nodeInputs(producer) : [];
  // Output scale/zero point positions of the producers Graft meets before a classifier.
  const outputParams: Record<string, [number, number]> = {
    QuantizeLinear: [1, 2],
    QLinearGlobalAveragePool: [3, 4],
    QLinearAveragePool: [3, 4],
    QLinearConv: [6, 7],
    QLinearMatMul: [6, 7],
    QLinearAdd: [6, 7],
    QLinearMul: [6, 7],
  };
  const at = outputParams[op];
  if (at && inputs[at[1]]) return { scale: inputs[at[0]]!, zeroPoint: inputs[at[1]]! };
  if (producer && PASSTHROUGH_OPS.has(op)) {
    const found = findQuantParams(graph, inputs[0]!, seen);
    if (found) return found;
  }
  for (const consumer of findConsumers(graph, tensor)) {
    if (PASSTHROUGH_OPS.has(consumer.opType ?? '') && consumer.opType !== 'DequantizeLinear') {
      const found = findQuantParams(graph, nodeOutputs(consumer)[0]!, seen);
      if (found) return found;
    }
  }
  return undefined;
}

/** The classifier's input width K from its weight's shape, through a DequantizeLinear/Identity if need be. */
function classifierInputDim(graph: GraphProto, classifier: NodeProto): number | undefined {
  const inputs = nodeInputs(classifier);
  const op = classifier.opType;
  let weightName =
    op === 'QLinearMatMul' || op === 'QLinearConv' ? inputs[3] : op === 'Gemm' || op === 'Conv' ? inputs[1] : inputs.find((n) => findInitializer(graph, n)) ?? inputs[1];
  for (let steps = 0; weightName && !findInitializer(graph, weightName) && steps < 4; steps++) {
    const producer = findProducer(graph, weightName);
    if (!producer || !['DequantizeLinear', 'Identity', 'Cast'].includes(producer.opType ?? '')) return undefined;
    weightName = nodeInputs(producer)[0];
  }
  const weight = weightName ? findInitializer(graph, weightName) : undefined;
  if (!weight) return undefined;
  const dims = tensorDims(weight);
  // A 1x1 Conv's weight is [N, K, 1, 1].
  if (op === 'Conv' || op === 'QLinearConv') return dims.length === 4 ? dims[1] : undefined;
  if (dims.length !== 2) return undefined;
  // Gemm with transB=1 stores B as [N, K] (PyTorch Linear); MatMul weights are [K, N].
  const isTransposed = op === 'Gemm' && intAttribute(classifier, 'transB', 0) === 1;
  return isTransposed ? dims[1] : dims[0];
}

/** All tensors computed from `node`'s outputs. */
function downstreamTensors(graph: GraphProto, node: NodeProto): Set<string> {
  const reached = new Set(nodeOutputs(node));
  for (const other of nodesOf(graph)) {
    if (nodeInputs(other).some((name) => reached.has(name))) for (const out of nodeOutputs(other)) reached.add(out);
  }
  return reached;
}

function isGraphOutput(graph: GraphProto, tensor: string): boolean {
  return (graph.output ?? []).some((o) => o.name === tensor);
}

/** A float [N, C, 1, 1] or [N, 1, 1, C] output (C > 1): a globally pooled map not yet flattened. */
function isPooledMap(value: Parameters<typeof valueShape>[0]): boolean {
  const shape = valueShape(value);
  if (valueElemType(value) !== ONNX_FLOAT || shape?.length !== 4) return false;
  const [, a, b, c] = shape;
  return (b === 1 && c === 1 && (a ?? 0) > 1) || (a === 1 && b === 1 && (c ?? 0) > 1);
}

function is2dFloat(value: Parameters<typeof valueShape>[0]): boolean {
  return valueElemType(value) === ONNX_FLOAT && valueShape(value)?.length === 2;
}

/** Fallback when no weight or value_info says D: run one all-zero image and read the output's size. */
async function measureFeatureDim(
  model: ModelProto,
  inputName: string,
  inputShape: readonly (number | null)[],
  featureOutput: string,
  source: string,
): Promise<number> {
  if (!isGraphOutput(graphOf(model), featureOutput)) {
    (graphOf(model).output ?? []).push(makeFloatValueInfo(featureOutput, [null, null]));
  }
  const dims = inputShape.map((d, i) => (i === 0 ? 1 : d));
  if (dims.length === 0 || dims.some((d) => d === null)) {
    throw new GraftError(
      'UNSUPPORTED_MODEL',
      `Cannot work out the feature size of "${source}": input "${inputName}" has shape [${inputShape.map((d) => d ?? '?').join(', ')}] with unknown image dims.`,
      { hint: 'pass --input-size, or a model with a fixed input shape' },
    );
  }
  const session = await createSession(encodeOnnxModel(model), { source, intraOpNumThreads: 1 });
  try {
    const shape = dims as number[];
    const zeros = new Float32Array(shape.reduce((a, b) => a * b, 1));
    const results = await session.run({ [inputName]: new ort.Tensor('float32', zeros, shape) }, [featureOutput]);
    const size = results[featureOutput]?.size ?? 0;
    for (const value of Object.values(results)) value.dispose();
    return size;
  } finally {
    await session.release();
  }
}
