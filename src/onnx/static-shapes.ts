import { intsAttr, stringAttr } from './attributes.js';
import type { GraphSplit } from './graph-split.js';
import { findInitializer, graphInputs, initializerToNumbers, intAttribute, nodeInputs, nodeOutputs, opsetVersion, tensorDims, valueShape, type ModelProto, type NodeProto } from './onnx-model.js';

/** A static ONNX shape, null where a dimension is not known (the batch). */
export type Shape = (number | null)[];

/** Ops whose output has the shape of their (first non-constant) input. */
const SAME_SHAPE = new Set([
  'Relu', 'Clip', 'Sigmoid', 'Tanh', 'LeakyRelu', 'HardSigmoid', 'HardSwish', 'BatchNormalization', 'Identity', 'Dropout', 'Cast',
  'QuantizeLinear', 'DequantizeLinear', 'Add', 'Sub', 'Mul', 'Div', 'QLinearAdd', 'QLinearMul', 'Softmax',
]);

/**
 * Static shapes of the features' subgraph for the ops CNN backbones use, from the input's declared shape.
 * Many exports (the int8 MobileNetV2) record no value_info, and the cut's shape is worth showing.
 */
export function inferShapes(model: ModelProto, split: GraphSplit): Map<string, Shape> {
  const { graph, nodes } = split;
  const shapes = new Map<string, Shape>();
  const input = graphInputs(graph)[0];
  const declared = valueShape(input);
  if (!declared) return shapes;
  shapes.set(split.inputName, declared.map((d, i) => (i === 0 ? null : d)));
  const opset = opsetVersion(model) ?? 13;
  const ints = (name: string | undefined): number[] | undefined => {
    const t = name ? findInitializer(graph, name) : undefined;
    return t ? initializerToNumbers(t) : undefined;
  };
  for (const i of split.needed) {
    const node = nodes[i]!;
    const op = node.opType ?? '';
    const inputs = nodeInputs(node);
    const runtime = inputs.filter((name) => name && !split.constants.has(name));
    const x = shapes.get(runtime[0] ?? '');
    const out = nodeOutputs(node)[0] ?? '';
    let y: Shape | undefined;
    if (!x) continue;
    if (SAME_SHAPE.has(op)) {
      y = runtime.map((name) => shapes.get(name)).filter((s): s is Shape => s !== undefined).sort((a, b) => b.length - a.length)[0];
    } else if ((op === 'Conv' || op === 'QLinearConv') && x.length === 4) {
      const weight = findInitializer(graph, inputs[op === 'Conv' ? 1 : 3] ?? '');
      if (weight) {
        const [outChannels, , kH, kW] = tensorDims(weight);
        const spatial = windowOutput(node, x, [kH!, kW!]);
        if (spatial) y = [x[0]!, outChannels!, ...spatial];
      }
    } else if ((op === 'MaxPool' || op === 'AveragePool') && x.length === 4) {
      const kernel = intsAttr(node, 'kernel_shape');
      const spatial = kernel?.length === 2 ? windowOutput(node, x, kernel) : undefined;
      if (spatial) y = [x[0]!, x[1]!, ...spatial];
    } else if (op === 'GlobalAveragePool' || op === 'GlobalMaxPool') {
      y = [...x.slice(0, 2), ...x.slice(2).map(() => 1)];
    } else if (op === 'QLinearGlobalAveragePool' && x.length === 4) {
      y = intAttribute(node, 'channels_last', 0) === 1 ? [x[0]!, 1, 1, x[3]!] : [x[0]!, x[1]!, 1, 1];
    } else if (op === 'Pad') {
      const pads = opset < 11 ? intsAttr(node, 'pads') : ints(inputs[1]);
      if (pads?.length === 2 * x.length && !inputs[3]) y = x.map((d, a) => (d === null ? null : d + pads[a]! + pads[a + x.length]!));
    } else if (op === 'Transpose') {
      const perm = intsAttr(node, 'perm') ?? x.map((_d, a) => x.length - 1 - a);
      y = perm.map((a) => x[a] ?? null);
    } else if (op === 'Flatten') {
      const axis = intAttribute(node, 'axis', 1);
      const rest = x.slice(axis);
      if (axis === 1 && rest.every((d) => d !== null)) y = [x[0]!, rest.reduce<number>((a, b) => a * b!, 1)];
    }
    if (y) shapes.set(out, y);
  }
  return shapes;
}

/** Output H, W of a conv or pool window over NCHW `x` (pads, auto_pad, strides, dilations, ceil_mode). */
function windowOutput(node: NodeProto, x: Shape, kernel: readonly number[]): [number, number] | undefined {
  const strides = intsAttr(node, 'strides') ?? [1, 1];
  const dilations = intsAttr(node, 'dilations') ?? [1, 1];
  const autoPad = stringAttr(node, 'auto_pad', 'NOTSET');
  const pads = intsAttr(node, 'pads') ?? [0, 0, 0, 0];
  const isCeil = intAttribute(node, 'ceil_mode', 0) === 1;
  const out: number[] = [];
  for (let a = 0; a < 2; a++) {
    const size = x[2 + a];
    if (size === null || size === undefined) return undefined;
    const s = strides[a] ?? 1;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      out.push(Math.ceil(size / s));
      continue;
    }
    const pad = autoPad === 'VALID' ? 0 : (pads[a] ?? 0) + (pads[a + 2] ?? 0);
    const span = size + pad - ((dilations[a] ?? 1) * (kernel[a]! - 1) + 1);
    out.push((isCeil ? Math.ceil(span / s) : Math.floor(span / s)) + 1);
  }
  return [out[0]!, out[1]!];
}
