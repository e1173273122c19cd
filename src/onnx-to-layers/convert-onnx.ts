import { randomUUID } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../core/errors.js';
import {
  requestedOutputs,
  singleFloatInput,
  graphOf,
  nodesOf,
  nodeOpset,
  valueShape,
  type ModelProto,
  type NodeProto,
} from '../onnx/onnx-model.js';
import { neededNodes } from '../onnx/needed-nodes.js';
import { splitMultiScale } from '../onnx/multi-scale.js';
import { composeMultiScaleLayers } from './multi-scale-layers.js';
import { composeMirrorTtaLayers } from './mirror-tta-layers.js';
import type { OnnxLayersModel, OnnxToLayersOptions } from './layers-model.js';
import { ImportContext, ImportState } from '../onnx-to-tfjs/import-context.js';
import { findOperator } from '../onnx-to-tfjs/operators.js';
import * as ops from './layer-ops.js';
import * as quant from './layer-ops-quant.js';
import { BATCH, LayerBuilder, symbolic, type LayerValue, type SymbolicValue } from './layer-values.js';
import { NodeConversion } from './node-context.js';

/** ONNX operators (default domain) that {@link convertOnnxToLayers} maps to Keras layers. */
export const LAYER_OPERATORS: Readonly<Record<string, ops.LayerConverter>> = {
  Add: ops.binary('Add'),
  AveragePool: ops.convertAveragePool,
  BatchNormalization: ops.convertBatchNormalization,
  Cast: ops.convertCast,
  Clip: ops.convertClip,
  Concat: ops.convertConcat,
  Conv: ops.convertConv,
  DequantizeLinear: quant.convertDequantizeLinear,
  Div: ops.binary('Div'),
  Dropout: ops.convertPassThrough,
  Flatten: ops.convertFlatten,
  Gemm: ops.convertGemm,
  GlobalAveragePool: ops.globalPool('average'),
  GlobalMaxPool: ops.globalPool('max'),
  HardSigmoid: ops.convertHardSigmoid,
  HardSwish: ops.convertHardSwish,
  Identity: ops.convertPassThrough,
  LeakyRelu: ops.convertLeakyRelu,
  MatMul: ops.convertMatMul,
  MaxPool: ops.convertMaxPool,
  Mul: ops.binary('Mul'),
  Pad: ops.convertPad,
  QLinearConv: quant.convertQLinearConv,
  QLinearMatMul: quant.convertQLinearMatMul,
  QuantizeLinear: quant.convertQuantizeLinear,
  ReduceMax: ops.convertReduceMax,
  ReduceMean: ops.convertReduceMean,
  Relu: ops.convertRelu,
  Reshape: ops.convertReshape,
  Shape: ops.convertShape,
  Sigmoid: ops.convertSigmoid,
  Softmax: ops.convertSoftmax,
  Squeeze: ops.convertSqueeze,
  Sub: ops.binary('Sub'),
  Tanh: ops.convertTanh,
  Transpose: ops.convertTranspose,
  Unsqueeze: ops.convertUnsqueeze,
};

/** Operators of onnxruntime's `com.microsoft` domain (its quantizer's output) that map to layers. */
export const LAYER_MICROSOFT_OPERATORS: Readonly<Record<string, ops.LayerConverter>> = {
  QLinearAdd: quant.convertQLinearAdd,
  QLinearGlobalAveragePool: quant.convertQLinearGlobalAveragePool,
  QLinearMul: quant.convertQLinearMul,
};

const QUANTIZED_OPS = new Set(['QuantizeLinear', 'DequantizeLinear', 'QLinearConv', 'QLinearMatMul', 'QLinearAdd', 'QLinearMul', 'QLinearGlobalAveragePool', 'ConvInteger', 'MatMulInteger']);

export type { LayersOutputInfo, OnnxLayersModel, OnnxToLayersOptions } from './layers-model.js';

/**
 * Converts an ONNX CNN into a TF.js layers model (Keras layers, NHWC) that `saveLayersModelToDir` writes as
 * model.json + weights and `tf.loadLayersModel` reads back.
 *
 * Conv becomes Conv2D (group 1) or DepthwiseConv2D (group == channels), with ZeroPadding2D in front when the
 * pads are not TensorFlow's 'same'; BatchNormalization, Relu, Clip (ReLU(max_value)), Sigmoid, HardSigmoid,
 * HardSwish, Add, Mul, Concat, MaxPool, AveragePool, GlobalAveragePool, Gemm / MatMul (+ Add) as Dense,
 * Flatten, Reshape, Transpose, Pad and Softmax map to their layers; Dropout and Identity vanish; shape
 * arithmetic and constant subgraphs are folded at conversion with onnx-to-tfjs's operators. Quantized models
 * (QLinearConv, QLinearMatMul, QLinearAdd, QLinearGlobalAveragePool, Quantize/DequantizeLinear) become float
 * layers with dequantized weights and onnx-to-tfjs's 'float' semantics: each quantized range is kept as a
 * clamp, ReLU(max_value) when it starts at 0.
 *
 * An NCHW image input becomes an NHWC Keras input ([N, H, W, C]); see `inputPerm`. A model whose input is
 * already NHWC (its first op transposes to NCHW, as TF exports do) keeps its input layout.
 *
 * @throws GraftError `UNSUPPORTED_MODEL` naming the operator and node for anything without a layer mapping
 *   (e.g. grouped convolutions, LSTM), and for models with several inputs or a non-float input.
 * @example
 * const { model, inputShape } = convertOnnxToLayers(await readOnnxModel('mobilenetv2-12-int8.onnx'));
 * // inputShape [null, 224, 224, 3]; await saveLayersModelToDir(model, 'mobilenetv2-tfjs');
 */
export function convertOnnxToLayers(onnxModel: ModelProto, options: OnnxToLayersOptions = {}): OnnxLayersModel {
  // Graft's mirror test-time augmentation doubles the batch (a Slice of step -1), which layers cannot: see composeMirrorTtaLayers.
  const mirrored = composeMirrorTtaLayers(onnxModel, options, convertOnnxToLayers);
  if (mirrored) return mirrored;
  // Graft's two-scale features batch two views of each image together, which Keras layers cannot: see composeMultiScaleLayers.
  const parts = options.inputShape ? undefined : splitMultiScale(onnxModel);
  if (parts) return composeMultiScaleLayers(parts, options, convertOnnxToLayers);
  const source = options.source ?? 'the ONNX model';
  const graph = graphOf(onnxModel);
  const input = singleFloatInput(graph, source, 'the conversion to TF.js layers');
  const inputName = input.name ?? '';
  const onnxInputShape = inputDims(valueShape(input), options.inputShape, source, inputName);
  const nodes = nodesOf(graph);
  const outputNames = requestedOutputs(graph, options.outputs, source);

  const state = new ImportState(false, graph.initializer ?? [], `onnx-layers-${randomUUID()}`);
  const needed = neededNodes(nodes, outputNames, state.needed, inputName);
  const consumers = new Map<string, NodeProto[]>();
  for (const node of needed) for (const name of node.input ?? []) if (name) consumers.set(name, [...(consumers.get(name) ?? []), node]);
  // An input whose every reader transposes it NHWC -> NCHW is NHWC already (TF exports): keep it. So is one shaped
  // [N, H, W, C] with C a channel count (1, 3 or 4) where H is not (a TF graph that scales its input first, Mul then
  // Transpose). Otherwise an image input is NCHW and the Keras input is NHWC.
  const readers = consumers.get(inputName) ?? [];
  const isChannels = (n: number | undefined): boolean => n === 1 || n === 3 || n === 4;
  const isNhwcInput =
    onnxInputShape.length === 4 &&
    ((readers.length > 0 && readers.every((n) => n.opType === 'Transpose' && JSON.stringify(n.attribute?.find((a) => a.name === 'perm')?.ints?.map(Number)) === '[0,3,1,2]')) ||
      (isChannels(onnxInputShape[3]) && !isChannels(onnxInputShape[1])));
  const isConverted = onnxInputShape.length === 4 && !isNhwcInput;
  const inputPerm = isConverted ? [0, 2, 3, 1] : [...onnxInputShape.keys()];
  const kerasInputShape = inputPerm.map((a) => onnxInputShape[a]!);

  const builder = new LayerBuilder();
  const values = new Map<string, SymbolicValue>();
  const fused = new Map<NodeProto, LayerValue>();
  const kerasInput = tf.input({ shape: kerasInputShape.slice(1), name: builder.name(inputName || 'input') });
  values.set(inputName, symbolic(kerasInput, [BATCH, ...onnxInputShape.slice(1)], isConverted ? 'nhwc' : 'onnx'));
  const outputSet = new Set(outputNames);
  let model: tf.LayersModel | undefined;
  try {
    for (const node of needed) {
      const outputs = node.output ?? [];
      const done = fused.get(node);
      if (done) {
        store(outputs[0] ?? '', done);
        continue;
      }
      const inputValues = (node.input ?? []).map((name) => (name === '' ? undefined : lookup(name, node)));
      const domain = node.domain ?? '';
      const ctx = new ImportContext(node, nodeOpset(onnxModel, node), state);
      let results: LayerValue[];
      if (inputValues.every((v) => v === undefined || v.kind === 'host')) {
        results = fold(node, ctx, inputValues as (LayerValue | undefined)[], source);
      } else {
        const table = domain === '' || domain === 'ai.onnx' ? LAYER_OPERATORS : domain === 'com.microsoft' ? LAYER_MICROSOFT_OPERATORS : {};
        const converter = Object.hasOwn(table, node.opType ?? '') ? table[node.opType ?? ''] : undefined;
        if (!converter) throw unsupported(ctx.label, domain, node.opType ?? '', source);
        const nc = new NodeConversion(ctx, inputValues, builder, source, consumers, outputSet, (n, v) => fused.set(n, v), (name) => state.constant(name));
        results = converter(nc);
      }
      results.forEach((value, i) => store(outputs[i] ?? '', value));
    }
    const outputValues = outputNames.map((name) => {
      const value = values.get(name);
      if (!value) throw new GraftError('UNSUPPORTED_MODEL', `Output "${name}" of "${source}" does not depend on the input (it is a constant); a layers model cannot output it.`);
      return value;
    });
    model = tf.model({ inputs: kerasInput, outputs: outputValues.map((v) => v.tensor), name: builder.name(graph.name || 'onnx_model') });
    return {
      model,
      inputName,
      onnxInputShape: onnxInputShape.map((d, i) => (i === 0 ? null : d)),
      inputShape: kerasInputShape.map((d, i) => (i === 0 ? null : d)),
      inputPerm,
      outputs: outputValues.map((v, i) => ({
        name: outputNames[i]!,
        onnxShape: v.shape.map((d, j) => (j === 0 ? null : d)),
        shape: v.tensor.shape,
        perm: v.layout === 'nhwc' ? [0, 2, 3, 1] : [...v.shape.keys()],
      })),
      isQuantized: needed.some((n) => QUANTIZED_OPS.has(n.opType ?? '')),
      layerCount: builder.layerCount,
    };
  } catch (error) {
    builder.disposeLayers();
    throw error;
  } finally {
    builder.dispose();
    for (const variable of state.variables.values()) variable.dispose();
  }

  function lookup(name: string, node: NodeProto): LayerValue {
    const value = values.get(name) ?? state.constant(name);
    if (!value) throw new GraftError('UNSUPPORTED_MODEL', `${node.opType} node "${node.name}" of "${source}" reads "${name}", which no earlier node produces (the graph is not topologically sorted).`);
    return value;
  }

  function store(name: string, value: LayerValue): void {
    if (name === '') return;
    if (value.kind === 'host') state.constants.set(name, value);
    else values.set(name, value);
  }
}

/** Runs a node whose inputs are all constants with the onnx-to-tfjs operator, at conversion. */
function fold(node: NodeProto, ctx: ImportContext, inputs: readonly (LayerValue | undefined)[], source: string): LayerValue[] {
  const importer = findOperator(node.domain ?? '', node.opType ?? '');
  if (!importer) throw unsupported(ctx.label, node.domain ?? '', node.opType ?? '', source);
  const results = importer(ctx)(inputs as Parameters<ReturnType<typeof importer>>[0], { isTraining: false });
  if (results.some((v) => v.kind !== 'host')) {
    for (const v of results) if (v.kind === 'device') v.tensor.dispose();
    throw new GraftError('UNSUPPORTED_MODEL', `${ctx.label} of "${source}" computes a tensor from constants only that is not shape or weight data; a layers model cannot hold it.`);
  }
  return results as LayerValue[];
}

function unsupported(label: string, domain: string, opType: string, source: string): GraftError {
  const where = domain === '' ? '' : ` in domain "${domain}"`;
  return new GraftError('UNSUPPORTED_MODEL', `Cannot convert ${label}${where} of "${source}" to a TF.js layers model: operator "${opType}" has no Keras layer mapping.`, {
    hint: `supported: ${[...Object.keys(LAYER_OPERATORS), ...Object.keys(LAYER_MICROSOFT_OPERATORS)].join(', ')}; importOnnxToTfjs runs more operators (as tfjs ops), or run the model with onnxruntime`,
  });
}

/** The input's ONNX dims with {@link BATCH} first; symbolic non-batch dims come from `override`. */
function inputDims(declared: readonly (number | null)[] | undefined, override: readonly number[] | undefined, source: string, name: string): number[] {
  if (override) return [BATCH, ...override];
  if (!declared || declared.length === 0) {
    throw new GraftError('UNSUPPORTED_MODEL', `"${source}" does not record the shape of input "${name}".`, {
      hint: 'give convertOnnxToLayers an inputShape without the batch, e.g. [3, 224, 224], or fix the input dims in the ONNX file',
    });
  }
  if (declared.slice(1).some((d) => d === null)) {
    throw new GraftError('UNSUPPORTED_MODEL', `Input "${name}" of "${source}" has symbolic dims [${declared.map((d) => d ?? '?').join(', ')}]; Keras layers need static image sizes.`, {
      hint: 'give convertOnnxToLayers an inputShape without the batch, e.g. [3, 224, 224], or fix the input dims in the ONNX file',
    });
  }
  return [BATCH, ...(declared.slice(1) as number[])];
}

/**
 * ONNX-layout data as the converted model lays it out: transposed by `perm` (e.g. an NCHW batch to NHWC for
 * the model input, or an ONNX output to compare with the model's NHWC output).
 */
export function toKerasLayout(data: Float32Array, onnxDims: readonly number[], perm: readonly number[]): Float32Array {
  if (perm.every((a, i) => a === i)) return data;
  return tf.tidy(() => tf.transpose(tf.tensor(data, [...onnxDims]), [...perm]).dataSync() as Float32Array);
}
