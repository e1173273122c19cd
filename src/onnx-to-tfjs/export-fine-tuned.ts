import type * as tf from '@tensorflow/tfjs';
import { GraftError } from '../core/errors.js';
import type { DenseLayerWeights } from '../core/dense-layer.js';
import { MICROSOFT_OPERATORS, ONNX_OPERATORS } from './operators.js';
import { appendDenseHead } from '../onnx/append-head.js';
import type { ResolvedCut } from '../onnx/cut-points.js';
import { analyseGraph, prefixNodeIndices, suffixNodeIndices } from '../onnx/graph-split.js';
import {
  cloneOnnxModel,
  findInitializer,
  graphOf,
  initializerToFloat32,
  initializerToNumbers,
  intAttribute,
  makeFloatInitializer,
  makeFloatValueInfo,
  makeInt64Initializer,
  makeNode,
  nodeInputs,
  nodeOutputs,
  opsetVersion,
  tensorDims,
  ONNX_FLOAT,
  ONNX_INT8,
  ONNX_UINT8,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from '../onnx/onnx-model.js';
import { CUT_OUTPUT } from '../onnx/prefix-model.js';

/** Inputs of {@link exportFineTunedOnnx}. */
export interface ExportFineTunedOptions {
  /** The backbone the cut was resolved on, with its feature output (BackboneHandle.onnxBytes()). */
  readonly model: ModelProto;
  readonly cut: ResolvedCut;
  readonly featureOutput: string;
  /**
   * The trained suffix's weights: `OnnxTfjsGraph.variables` of `importOnnxToTfjs(model, { input: cut.tensor,
   * outputs: [featureOutput] })`, keyed by ONNX initializer name, conv weights in tfjs layout.
   */
  readonly variables: ReadonlyMap<string, tf.Tensor>;
  /** The head trained on the suffix's features. */
  readonly head: readonly DenseLayerWeights[];
}

/**
 * Writes a fine-tuned classifier as ONE ONNX file: input -> the original prefix (unchanged, int8 if it was)
 * -> [DequantizeLinear of a quantized cut] -> the suffix as float ops carrying the trained weights ->
 * features -> the Dense head (appendDenseHead) -> `probabilities`, with the features kept as a second output.
 *
 * The suffix is written with exactly the tfjs importer's semantics (its default 'float' mode), so the file
 * computes what was trained: QLinearConv -> Conv (+ bias) then Clip to the output's representable range,
 * QLinearAdd/QLinearMul -> Add/Mul + Clip, QLinearGlobalAveragePool -> GlobalAveragePool + Clip,
 * QLinearMatMul -> MatMul + Clip, QuantizeLinear -> Clip, DequantizeLinear -> Identity (activations are
 * already real). Re-quantizing the trained weights would throw away the fine-tuning's small updates;
 * the frozen prefix, which never changed, keeps its int8 speed.
 *
 * @throws GraftError `UNSUPPORTED_MODEL` naming the op and node for an op the rewrite does not know;
 *   `INVALID_CONFIG` when `variables` lacks a suffix weight, has the wrong size, or holds weights of no
 *   suffix node (variables of a graph imported at another cut); what appendDenseHead throws.
 */
export function exportFineTunedOnnx(options: ExportFineTunedOptions): Uint8Array {
  const { cut, featureOutput, variables, head } = options;
  const model = cloneOnnxModel(options.model);
  const graph = graphOf(model);
  const split = analyseGraph(model, featureOutput);
  const prefix = [...prefixNodeIndices(split, cut.tensor)].sort((a, b) => a - b);
  const suffix = suffixNodeIndices(split, cut.tensor);
  if (!cut.isInput && prefix.length === 0) {
    throw new GraftError('INVALID_CONFIG', `The model has no tensor "${cut.tensor}" to cut at.`, { hint: 'resolve the cut on the same model you export' });
  }
  const writer = new SuffixWriter(model, graph, variables, split.constants, new Set(prefix.flatMap((i) => nodeInputs(split.nodes[i]!))));

  const nodes: NodeProto[] = prefix.map((i) => split.nodes[i]!);
  // The suffix reads the cut's real values; a quantized cut is dequantized once, as the prefix model does.
  const cutFloat = cut.isQuantized ? writer.fresh(CUT_OUTPUT) : cut.tensor;
  if (cut.isQuantized) {
    if (!cut.scale) throw new GraftError('INVALID_CONFIG', `The cut "${cut.tensor}" is quantized but its scale is unknown.`, { hint: 'resolve the cut with resolveUnfreeze' });
    const inputs = cut.zeroPoint ? [cut.tensor, cut.scale, cut.zeroPoint] : [cut.tensor, cut.scale];
    nodes.push(makeNode('DequantizeLinear', inputs, [cutFloat], { name: `${cutFloat}_dequantize` }));
  }
  for (const i of suffix) {
    const node = split.nodes[i]!;
    const renamed = { ...node, input: nodeInputs(node).map((name) => (name === cut.tensor ? cutFloat : name)) };
    nodes.push(...writer.rewrite(renamed));
  }
  writer.checkAllUsed();

  graph.node = nodes;
  graph.initializer = [...(graph.initializer ?? []), ...writer.newInitializers];
  // Suffix tensors change type (uint8 -> float): drop what value_info said about them.
  const suffixTensors = new Set(suffix.flatMap((i) => nodeOutputs(split.nodes[i]!)));
  graph.valueInfo = (graph.valueInfo ?? []).filter((v) => !suffixTensors.has(v.name ?? ''));
  const declared = (graph.output ?? []).find((o) => o.name === featureOutput);
  graph.output = [declared ?? makeFloatValueInfo(featureOutput, [null, head[0]?.inputDim ?? null])];
  return appendDenseHead(model, featureOutput, head);
}

/** Where a variable sits in an ONNX node: conv weights are stored in tfjs layout, everything else as in ONNX. */
type Layout = 'conv' | 'onnx';

/** Rewrites suffix nodes into float nodes carrying the trained weights. */
class SuffixWriter {
  readonly newInitializers: TensorProto[] = [];
  private readonly names = new Set<string>();
  private readonly written = new Map<string, string>();
  private readonly used = new Set<string>();
  private readonly opset: number;

  constructor(
    model: ModelProto,
    private readonly graph: GraphProto,
    private readonly variables: ReadonlyMap<string, tf.Tensor>,
    private readonly constants: ReadonlySet<string>,
    /** Tensors the prefix reads: a weight shared with the prefix gets a new name instead of being replaced. */
    private readonly prefixReads: ReadonlySet<string>,
  ) {
    this.opset = opsetVersion(model) ?? 13;
    for (const t of graph.initializer ?? []) this.names.add(t.name ?? '');
    for (const v of graph.input ?? []) this.names.add(v.name ?? '');
    for (const n of graph.node ?? []) for (const name of [...nodeInputs(n), ...nodeOutputs(n)]) this.names.add(name);
  }

  /** A tensor name not used in the graph yet, based on `base`. */
  fresh(base: string): string {
    let name = base;
    for (let k = 1; this.names.has(name); k++) name = `${base}_${k}`;
    this.names.add(name);
    return name;
  }

  rewrite(node: NodeProto): NodeProto[] {
    const op = node.opType ?? '';
    const domain = node.domain === 'ai.onnx' ? '' : (node.domain ?? '');
    const inputs = nodeInputs(node);
    const label = `${op} node "${node.name || nodeOutputs(node)[0] || '?'}"`;
    const isKnown = domain === '' ? Object.hasOwn(ONNX_OPERATORS, op) : domain === 'com.microsoft' && Object.hasOwn(MICROSOFT_OPERATORS, op);
    if (!isKnown) {
      throw new GraftError('UNSUPPORTED_MODEL', `Cannot export the fine-tuned ${label}${domain ? ` (domain "${domain}")` : ''}: operator "${op}" has no float rewrite.`, {
        hint: 'fine-tune from a later cut (--unfreeze last:<N> or from:<tensor>) so that this node stays frozen',
      });
    }
    // Constants (folded at import): weights become initializers where they are read; the rest stays as it was.
    if (inputs.every((name) => name === '' || this.constants.has(name))) return [node];
    const y = nodeOutputs(node)[0]!;
    const name = node.name || y;
    switch (`${domain}:${op}`) {
      case ':QuantizeLinear':
        return [this.clip(inputs[0]!, y, name, node, 1, 2)];
      case ':DequantizeLinear':
        return [makeNode('Identity', [inputs[0]!], [y], { name })];
      case ':QLinearConv': {
        const raw = this.fresh(`${y}_unclipped`);
        const conv = makeNode('Conv', [inputs[0]!, this.weight(inputs[3]!, 'conv', node, label), ...(inputs[8] ? [this.weight(inputs[8], 'onnx', node, label)] : [])], [raw], { name });
        conv.attribute = (node.attribute ?? []).map((a) => ({ ...a }));
        return [conv, this.clip(raw, y, `${name}_clip`, node, 6, 7)];
      }
      case ':QLinearMatMul': {
        const raw = this.fresh(`${y}_unclipped`);
        return [makeNode('MatMul', [this.operand(inputs[0]!, node, label), this.operand(inputs[3]!, node, label)], [raw], { name }), this.clip(raw, y, `${name}_clip`, node, 6, 7)];
      }
      case 'com.microsoft:QLinearAdd':
      case 'com.microsoft:QLinearMul': {
        const raw = this.fresh(`${y}_unclipped`);
        const math = makeNode(op === 'QLinearAdd' ? 'Add' : 'Mul', [this.operand(inputs[0]!, node, label), this.operand(inputs[3]!, node, label)], [raw], { name });
        return [math, this.clip(raw, y, `${name}_clip`, node, 6, 7)];
      }
      case 'com.microsoft:QLinearGlobalAveragePool': {
        const raw = this.fresh(`${y}_unclipped`);
        // channels_last=1 averages axes 1, 2 of an NHWC tensor, as the importer does.
        const pool = intAttribute(node, 'channels_last', 0) === 1 ? this.reduceMean(inputs[0]!, raw, name) : makeNode('GlobalAveragePool', [inputs[0]!], [raw], { name });
        return [pool, this.clip(raw, y, `${name}_clip`, node, 3, 4)];
      }
      default:
        if (domain !== '' || op.startsWith('QLinear') || op === 'QuantizeLinear') {
          throw new GraftError('UNSUPPORTED_MODEL', `Cannot export the fine-tuned ${label}: the float rewrite of "${op}" is not implemented.`, {
            hint: 'fine-tune from a later cut (--unfreeze last:<N> or from:<tensor>) so that this node stays frozen',
          });
        }
        // A float op: the same node with its weights replaced by the trained values.
        return [{ ...node, input: inputs.map((input, i) => (this.variables.has(input) ? this.weight(input, op === 'Conv' && i === 1 ? 'conv' : 'onnx', node, label) : input)) }];
    }
  }

  /** Every variable must have been written: a leftover means the variables come from another cut or model. */
  checkAllUsed(): void {
    const unused = [...this.variables.keys()].filter((key) => !this.used.has(key));
    if (unused.length > 0) {
      throw new GraftError('INVALID_CONFIG', `${unused.length} trained weights belong to no node after the cut (e.g. ${unused.slice(0, 4).map((k) => `"${k}"`).join(', ')}).`, {
        hint: 'pass the variables of the suffix imported at this cut: importOnnxToTfjs(model, { input: cut.tensor, outputs: [featureOutput] })',
      });
    }
  }

  /** A runtime operand passes through; a constant one is a trained weight. */
  private operand(name: string, node: NodeProto, label: string): string {
    return this.constants.has(name) ? this.weight(name, 'onnx', node, label) : name;
  }

  /** The initializer holding the trained value of weight `key`, in ONNX layout (written once per weight). */
  private weight(key: string, layout: Layout, node: NodeProto, label: string): string {
    const done = this.written.get(`${layout}:${key}`);
    if (done) return done;
    const variable = this.variables.get(key);
    if (!variable) {
      throw new GraftError('INVALID_CONFIG', `No trained value for weight "${key}" of ${label}.`, {
        hint: 'pass the variables of the suffix imported at this cut: importOnnxToTfjs(model, { input: cut.tensor, outputs: [featureOutput] })',
      });
    }
    const original = findInitializer(this.graph, key);
    const values = Float32Array.from(variable.dataSync());
    let dims: number[];
    let data: Float32Array;
    if (layout === 'conv') [dims, data] = convToOnnx(values, variable.shape, intAttribute(node, 'group', 1), original ? tensorDims(original) : undefined, label);
    else [dims, data] = [original ? tensorDims(original) : [...variable.shape], values];
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== data.length) {
      throw new GraftError('INVALID_CONFIG', `Trained weight "${key}" of ${label} holds ${data.length} values; the model's weight has shape [${dims.join(', ')}] (${count}).`, {
        hint: 'pass the variables of the suffix imported from this model',
      });
    }
    // Replace a float weight in place (same name); a quantized one, or one the frozen prefix also reads, gets a new name.
    const isReplaceable = original !== undefined && original.dataType === ONNX_FLOAT && !this.prefixReads.has(key);
    const name = isReplaceable ? key : this.fresh(`${key}_trained`);
    if (isReplaceable) this.graph.initializer = (this.graph.initializer ?? []).filter((t) => t.name !== key);
    this.newInitializers.push(makeFloatInitializer(name, dims, data));
    this.written.set(`${layout}:${key}`, name);
    this.used.add(key);
    return name;
  }

  /** Clip `x` to the range of the quantized type whose scale and zero point are the node's inputs `scaleAt`, `zeroPointAt`. */
  private clip(x: string, y: string, name: string, node: NodeProto, scaleAt: number, zeroPointAt: number): NodeProto {
    const [lo, hi] = quantRange(this.graph, node, scaleAt, zeroPointAt);
    if (this.opset < 11) {
      return makeNode('Clip', [x], [y], { name, attributes: { min: { float: lo }, max: { float: hi } } });
    }
    const min = this.fresh(`${y}_clip_min`);
    const max = this.fresh(`${y}_clip_max`);
    this.newInitializers.push(makeFloatInitializer(min, [], Float32Array.of(lo)), makeFloatInitializer(max, [], Float32Array.of(hi)));
    return makeNode('Clip', [x, min, max], [y], { name });
  }

  private reduceMean(x: string, y: string, name: string): NodeProto {
    if (this.opset < 18) return makeNode('ReduceMean', [x], [y], { name, attributes: { axes: { ints: [1, 2] }, keepdims: { int: 1 } } });
    const axes = this.fresh(`${y}_axes`);
    this.newInitializers.push(makeInt64Initializer(axes, [2], [1, 2]));
    return makeNode('ReduceMean', [x, axes], [y], { name, attributes: { keepdims: { int: 1 } } });
  }
}

/**
 * The real range of a quantized activation, [(qMin - zp) * scale, (qMax - zp) * scale]: what the importer
 * clamps to (ops-quant.ts), since quantizers fold Relu/Relu6 into it.
 */
function quantRange(graph: GraphProto, node: NodeProto, scaleAt: number, zeroPointAt: number): [number, number] {
  const inputs = nodeInputs(node);
  const label = `${node.opType} node "${node.name || nodeOutputs(node)[0]}"`;
  const scale = findInitializer(graph, inputs[scaleAt] ?? '');
  if (!scale) throw new GraftError('UNSUPPORTED_MODEL', `Cannot export the fine-tuned ${label}: its output scale "${inputs[scaleAt] ?? ''}" is not an initializer.`);
  const scales = initializerToFloat32(scale);
  if (scales.length !== 1) throw new GraftError('UNSUPPORTED_MODEL', `Cannot export the fine-tuned ${label}: per-axis quantization of activations is not supported.`);
  const zeroPointTensor = inputs[zeroPointAt] ? findInitializer(graph, inputs[zeroPointAt]) : undefined;
  if (inputs[zeroPointAt] && !zeroPointTensor) throw new GraftError('UNSUPPORTED_MODEL', `Cannot export the fine-tuned ${label}: its zero point "${inputs[zeroPointAt]}" is not an initializer.`);
  const dataType = zeroPointTensor?.dataType ?? ONNX_UINT8;
  if (dataType !== ONNX_UINT8 && dataType !== ONNX_INT8) throw new GraftError('UNSUPPORTED_MODEL', `Cannot export the fine-tuned ${label}: quantized type ${dataType} is not supported (uint8 and int8 are).`);
  const [qMin, qMax] = dataType === ONNX_UINT8 ? [0, 255] : [-128, 127];
  const zeroPoint = zeroPointTensor ? initializerToNumbers(zeroPointTensor)[0] ?? 0 : 0;
  const s = scales[0]!;
  return [(qMin - zeroPoint) * s, (qMax - zeroPoint) * s];
}

/**
 * A conv weight from tfjs layout back to ONNX [O, I/group, kH, kW]: plain and grouped weights are
 * [kH, kW, I/group, O], depthwise ones [kH, kW, C, multiplier] (see convKernel in onnx-to-tfjs/conv.ts).
 */
function convToOnnx(values: Float32Array, shape: readonly number[], group: number, originalDims: number[] | undefined, label: string): [number[], Float32Array] {
  if (shape.length !== 4) throw new GraftError('INVALID_CONFIG', `The trained weight of ${label} has shape [${shape.join(', ')}]; a 2-D convolution's is rank 4.`);
  const [kH, kW, a, b] = shape as [number, number, number, number];
  const isDepthwise = originalDims ? group > 1 && originalDims[1] === 1 && originalDims[0]! % group === 0 : group > 1 && a === group;
  const out = new Float32Array(values.length);
  if (isDepthwise) {
    // [kH, kW, C, M] -> [C * M, 1, kH, kW]
    for (let h = 0; h < kH; h++) for (let w = 0; w < kW; w++) for (let c = 0; c < a; c++) for (let m = 0; m < b; m++) {
      out[((c * b + m) * kH + h) * kW + w] = values[((h * kW + w) * a + c) * b + m]!;
    }
    return [[a * b, 1, kH, kW], out];
  }
  // [kH, kW, I, O] -> [O, I, kH, kW]
  for (let h = 0; h < kH; h++) for (let w = 0; w < kW; w++) for (let i = 0; i < a; i++) for (let o = 0; o < b; o++) {
    out[((o * a + i) * kH + h) * kW + w] = values[((h * kW + w) * a + i) * b + o]!;
  }
  return [[b, a, kH, kW], out];
}
