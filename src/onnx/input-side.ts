import { graphInputs, graphOf, makeFloatValueInfo, valueShape, type ModelProto } from './onnx-model.js';

/**
 * `model` (changed in place) declaring square images of `side` pixels on its image input, where it declared another
 * fixed side: onnxruntime refuses any other size of a declared one ("Got invalid dimensions"), though a convolutional
 * backbone with global pooling runs at any (the two-scale wrapper already feeds its own sizes this way). The
 * intermediate shapes recorded for the old size are dropped; onnxruntime infers them again. A model whose layers do
 * need the old size (a Flatten before a fixed Gemm) then fails at its first image, naming the layer. Unchanged when
 * the input is not a 4-D image input with fixed spatial dims, or already has that side.
 */
export function withInputSide(model: ModelProto, side: number): ModelProto {
  const graph = graphOf(model);
  const input = graphInputs(graph)[0];
  const shape = valueShape(input);
  if (!input?.name || shape?.length !== 4) return model;
  const [batch, a, b, c] = shape;
  const layout = a === 3 ? 'nchw' : c === 3 ? 'nhwc' : undefined;
  const [h, w] = layout === 'nchw' ? [b, c] : [a, b];
  if (layout === undefined || h === null || w === null || (h === side && w === side)) return model;
  const name = input.name;
  graph.input = (graph.input ?? []).map((v) => (v.name === name ? makeFloatValueInfo(name, layout === 'nchw' ? [batch ?? null, 3, side, side] : [batch ?? null, side, side, 3]) : v));
  graph.valueInfo = [];
  return model;
}
