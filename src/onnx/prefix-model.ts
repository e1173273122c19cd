import { GraftError } from '../core/errors.js';
import type { ResolvedCut } from './cut-points.js';
import {
  cloneOnnxModel,
  encodeOnnxModel,
  findProducer,
  graphInputs,
  graphOf,
  makeNode,
  nodesOf,
  onnx,
  pruneDeadNodes,
  ONNX_FLOAT,
  type ModelProto,
} from './onnx-model.js';

/** Name of the prefix model's only output: the cut tensor's real (float) values. */
export const CUT_OUTPUT = 'graft_cut';

/** The frozen part of a backbone as its own ONNX model. */
export interface PrefixModel {
  /** ONNX bytes; the same model and cut always give the same bytes (their sha256 keys the activation cache). */
  readonly bytes: Uint8Array;
  /** Its float output, {@link CUT_OUTPUT}, in ONNX layout (NCHW for image tensors). */
  readonly output: string;
}

/**
 * The frozen prefix for fine-tuning: the model's input, only the nodes the cut tensor needs, and one float
 * output `graft_cut`. A quantized cut gets a DequantizeLinear with its own scale and zero point, so the
 * cache holds real values, which is what the tfjs suffix takes (importOnnxToTfjs's `input` option); a float
 * cut gets an Identity, so the output name never depends on the model.
 *
 * Deterministic: nothing time- or run-dependent is written, so the bytes' hash identifies the prefix (its
 * weights and the cut) and a changed backbone or cut is never served stale activations.
 *
 * @throws GraftError `INVALID_CONFIG` when the cut tensor is not in the model (a cut resolved on another
 *   model), or a quantized cut has no scale.
 */
export function buildPrefixModel(model: ModelProto, cut: ResolvedCut): PrefixModel {
  const prefix = cloneOnnxModel(model);
  const graph = graphOf(prefix);
  const isInput = graphInputs(graph).some((v) => v.name === cut.tensor);
  if (!isInput && !findProducer(graph, cut.tensor)) {
    throw new GraftError('INVALID_CONFIG', `The model has no tensor "${cut.tensor}" to cut at.`, {
      hint: 'resolve the cut (resolveUnfreeze) on the same model you build the prefix from',
    });
  }
  if (findProducer(graph, CUT_OUTPUT)) {
    throw new GraftError('UNSUPPORTED_MODEL', `The model already has a tensor named "${CUT_OUTPUT}"; Graft reserves that name for the cut output.`);
  }
  if (cut.isQuantized) {
    if (!cut.scale) throw new GraftError('INVALID_CONFIG', `The cut "${cut.tensor}" is quantized but its scale is unknown.`, { hint: 'resolve the cut with resolveUnfreeze' });
    const inputs = cut.zeroPoint ? [cut.tensor, cut.scale, cut.zeroPoint] : [cut.tensor, cut.scale];
    nodesOf(graph).push(makeNode('DequantizeLinear', inputs, [CUT_OUTPUT], { name: `${CUT_OUTPUT}_dequantize` }));
  } else {
    nodesOf(graph).push(makeNode('Identity', [cut.tensor], [CUT_OUTPUT], { name: `${CUT_OUTPUT}_identity` }));
  }
  graph.output = [cutValueInfo(cut.shape)];
  pruneDeadNodes(graph);
  return { bytes: encodeOnnxModel(prefix), output: CUT_OUTPUT };
}

/** A float value_info for the cut with its known shape (symbolic batch), or with no shape when unknown. */
function cutValueInfo(shape: readonly (number | null)[] | undefined) {
  const dims = shape?.map((d, i) => (i === 0 || d === null ? { dimParam: i === 0 ? 'N' : `d${i}` } : { dimValue: d }));
  return onnx.ValueInfoProto.create({
    name: CUT_OUTPUT,
    type: { tensorType: { elemType: ONNX_FLOAT, ...(dims ? { shape: { dim: dims } } : {}) } },
  });
}
