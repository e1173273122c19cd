import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../core/errors.js';
import { OnnxGraphBuilder, type OnnxValue } from '../onnx/graph-builder.js';
import { attrShape, dataInputs, parseNodeInput, type GraphModelJson, type GraphNodeDef } from '../readers/tfjs-graph/graph-model-json.js';
import { emitGraphOp } from './graph-ops-to-onnx.js';
import { ConstInitializers, unsupported, type Operand } from './graph-operand.js';
import { manifestByteLength } from '../readers/tfjs-graph/load-graph-model.js';

/** Options of {@link exportGraphModelToOnnx}. */
export interface ExportGraphModelOptions {
  /** The graph node whose output becomes the ONNX output (flattened to [N, D]), e.g. from {@link graphFeatureNode}. */
  readonly outputNode: string;
  /** [H, W, C] of the image input; the graph's padding is computed from it. */
  readonly inputShape: readonly [number, number, number];
  /** Name of the ONNX input ([N, H, W, C] NHWC float, as the graph takes it). Defaults to `'input'`. */
  readonly inputName?: string;
  /** Name of the ONNX output ([N, D]). Defaults to `'graft_features'`. */
  readonly featureOutputName?: string;
}

const OPTION_KEYS = ['outputNode', 'inputShape', 'inputName', 'featureOutputName'];
const PASS_THROUGH_OPS = new Set(['Identity', 'StopGradient', 'Snapshot']);

/**
 * Exports a TF.js graph model (up to `outputNode`) to ONNX (opset 13) for onnxruntime.
 *
 * Only the nodes `outputNode` depends on are converted. The ONNX graph takes `input` [N, H, W, C] NHWC
 * as the TF graph does, transposes to NCHW once before the first convolution, and returns
 * `graft_features` [N, D] (the node's output flattened in TF's NHWC order). Weights are dequantized
 * exactly as tfjs does (tf.io.decodeWeights), so the export matches tfjs to float rounding.
 *
 * Supported ops: see {@link SUPPORTED_GRAPH_OPS} (Conv2D, DepthwiseConv2dNative and their fused forms
 * with BiasAdd + Relu/Relu6, BiasAdd, Add/AddV2, Sub, Mul, Mean, MatMul/_FusedMatMul, Reshape, Pad,
 * Squeeze, AvgPool, MaxPool, Softmax, ConcatV2, Identity, ...).
 *
 * @param modelJson - the parsed model.json (new or old graph format).
 * @param weights - every weight group's shards concatenated in manifest order.
 * @throws GraftError `UNSUPPORTED_MODEL` naming the op and node for an op it cannot convert;
 *   `INVALID_CONFIG` when `outputNode` is not in the graph or `inputShape` disagrees with the Placeholder;
 *   `INVALID_MODEL_DIR` when the weights do not match the manifest.
 * @example
 * const { modelJson, weightBytes } = await loadNsfwjsMobileNetV2Mid();
 * const onnx = exportGraphModelToOnnx(modelJson, weightBytes, { outputNode: graphFeatureNode(modelJson), inputShape: [224, 224, 3] });
 */
export function exportGraphModelToOnnx(modelJson: GraphModelJson, weights: Uint8Array, options: ExportGraphModelOptions): Uint8Array {
  checkOptions(options);
  const inputName = options.inputName ?? 'input';
  const outputName = options.featureOutputName ?? 'graft_features';
  const nodes = new Map(modelJson.modelTopology.node.map((n) => [n.name, n]));
  const outputNode = parseNodeInput(options.outputNode)?.node ?? options.outputNode;
  if (!nodes.has(outputNode)) {
    throw new GraftError('INVALID_CONFIG', `The graph has no node named "${options.outputNode}".`, {
      hint: 'pass the name of a node in model.json, e.g. the one graphFeatureNode(modelJson) returns',
    });
  }
  const constData = decodeConsts(modelJson, weights);
  const builder = new OnnxGraphBuilder();
  builder.uniqueName(inputName);
  const consts = new ConstInitializers(builder);
  const input: OnnxValue = { name: inputName, shape: [null, ...options.inputShape], isNchw: false };
  const resolved = new Map<string, Operand>();
  const inProgress = new Set<string>();
  let placeholder: string | undefined;

  const resolveNode = (name: string): Operand => {
    const known = resolved.get(name);
    if (known) return known;
    const node = nodes.get(name);
    if (!node) throw new GraftError('UNSUPPORTED_MODEL', `A graph node reads "${name}", which the graph does not define.`, { hint: 'model.json is damaged' });
    if (inProgress.has(name)) throw unsupported(node, 'the graph has a cycle through this node (control flow is not supported)');
    inProgress.add(name);
    let result: Operand;
    if (node.op === 'Const') {
      const c = constData.get(name);
      if (!c) throw unsupported(node, 'its value is not in the weights manifest');
      result = { kind: 'const', name, shape: c.shape, data: c.data };
    } else if (node.op === 'Placeholder') {
      if (placeholder !== undefined && placeholder !== name) throw unsupported(node, `a second graph input (the first is "${placeholder}"); the exporter supports one`);
      placeholder = name;
      checkPlaceholder(node, options.inputShape);
      result = { kind: 'value', value: input };
    } else {
      const inputs = dataInputs(node).map((i) => {
        if (i.index !== 0) throw unsupported(node, `it reads output ${i.index} of "${i.node}"; only single-output ops are supported`);
        return resolveNode(i.node);
      });
      if (PASS_THROUGH_OPS.has(node.op)) {
        if (!inputs[0]) throw unsupported(node, 'no input');
        result = inputs[0];
      } else {
        result = { kind: 'value', value: emitGraphOp({ builder, consts }, node, inputs) };
      }
    }
    inProgress.delete(name);
    resolved.set(name, result);
    return result;
  };

  const output = resolveNode(outputNode);
  if (output.kind !== 'value') throw unsupported(nodes.get(outputNode)!, 'it is a constant, not computed from the input');
  if (placeholder === undefined) throw unsupported(nodes.get(outputNode)!, 'it does not depend on the graph input');
  return builder.encode([{ value: output.value, name: outputName }], { graphName: 'tfjs_graph_model', inputName, inputDims: [null, ...options.inputShape] });
}

/** Every weight as float32/int32 data, dequantized by tfjs itself so values match what tfjs runs. */
function decodeConsts(modelJson: GraphModelJson, weights: Uint8Array): Map<string, { shape: number[]; data: Float32Array | Int32Array }> {
  const expected = manifestByteLength(modelJson, 'model.json');
  if (weights.byteLength !== expected) {
    throw new GraftError('INVALID_MODEL_DIR', `The weights hold ${weights.byteLength} bytes but the manifest describes ${expected}.`, {
      hint: 'a shard is truncated or belongs to another model; read the folder with readGraphModelDir',
    });
  }
  const specs = modelJson.weightsManifest.flatMap((g) => g.weights);
  const tensors = tf.io.decodeWeights(weights.slice().buffer, specs);
  const out = new Map<string, { shape: number[]; data: Float32Array | Int32Array }>();
  try {
    for (const [name, tensor] of Object.entries(tensors)) {
      const data = tensor.dataSync();
      if (!(data instanceof Float32Array) && !(data instanceof Int32Array)) continue; // bool/string weights: not used by supported ops
      out.set(name, { shape: tensor.shape, data });
    }
  } finally {
    tf.dispose(tensors);
  }
  return out;
}

function checkPlaceholder(node: GraphNodeDef, inputShape: readonly number[]): void {
  const declared = attrShape(node, 'shape');
  if (!declared) return;
  const mismatch = declared.length !== 4 || declared.slice(1).some((d, i) => d !== -1 && d !== inputShape[i]);
  if (mismatch) {
    throw new GraftError('INVALID_CONFIG', `Graph input "${node.name}" is declared [${declared.join(', ')}], but inputShape is [${inputShape.join(', ')}].`, {
      hint: 'pass inputShape [H, W, C] matching the Placeholder (batch excluded)',
    });
  }
}

function checkOptions(options: ExportGraphModelOptions): void {
  const unknown = Object.keys(options).filter((k) => !OPTION_KEYS.includes(k));
  if (unknown.length > 0) throw new TypeError(`Unknown option(s) ${unknown.join(', ')}. Known: ${OPTION_KEYS.join(', ')}`);
  if (typeof options.outputNode !== 'string' || options.outputNode === '') throw new TypeError("'outputNode' must be a node name");
  const shape = options.inputShape as readonly unknown[];
  if (!Array.isArray(shape) || shape.length !== 3 || !shape.every((d) => Number.isInteger(d) && (d as number) > 0)) {
    throw new RangeError(`'inputShape' must be [H, W, C] with positive integers. Received: ${JSON.stringify(shape)}`);
  }
}
