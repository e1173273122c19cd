import { GraftError } from '../core/errors.js';
import {
  cloneOnnxModel,
  encodeOnnxModel,
  findProducer,
  findValueInfo,
  graphOf,
  makeFloatInitializer,
  makeFloatValueInfo,
  makeNode,
  nodesOf,
  opsetVersion,
  pruneDeadNodes,
  valueElemType,
  valueShape,
  ONNX_FLOAT,
  type ModelProto,
} from './onnx-model.js';

import type { DenseLayerWeights } from '../core/dense-layer.js';

export type { DenseLayerWeights };

export interface AppendDenseHeadOptions {
  /** Name of the class-probability output. Defaults to `probabilities`. */
  readonly outputName?: 'probabilities';
}

/**
 * Builds the single prediction file: backbone + trained head. MatMul/Add/Relu/Softmax nodes are appended
 * after `featureOutput` (a float [N, D] tensor, see exposeFeatures). The graph's outputs become
 * `probabilities` [N, classes] and the feature tensor; the backbone's original outputs (ImageNet logits)
 * and the nodes only they needed are removed.
 *
 * A final `linear` layer gets a Softmax so that `probabilities` always holds probabilities. Only ops
 * valid since opset 7 are used and Softmax gets an explicit axis=1 (the default changed in opset 13), so
 * the model's opset is kept as it is.
 *
 * @returns the combined model's bytes.
 * @throws GraftError `INVALID_CONFIG` when the layers do not chain (dims, weight or bias lengths) or a
 *   hidden `softmax` / final `relu` is given; `UNSUPPORTED_MODEL` when `featureOutput` is not in the graph
 *   or the model's opset is older than 7.
 */
export function appendDenseHead(
  model: ModelProto,
  featureOutput: string,
  layers: readonly DenseLayerWeights[],
  options: AppendDenseHeadOptions = {},
): Uint8Array {
  return encodeOnnxModel(withDenseHead(model, featureOutput, layers, options));
}

/** {@link appendDenseHead}'s model before encoding (a clone: `model` is not changed), for more surgery before one encode. */
export function withDenseHead(
  model: ModelProto,
  featureOutput: string,
  layers: readonly DenseLayerWeights[],
  options: AppendDenseHeadOptions = {},
): ModelProto {
  const outputName = options.outputName ?? 'probabilities';
  validateLayers(layers);
  const combined = cloneOnnxModel(model);
  const graph = graphOf(combined);
  const opset = opsetVersion(combined);
  if (opset !== undefined && opset < 7) {
    throw new GraftError('UNSUPPORTED_MODEL', `The backbone uses ONNX opset ${opset}; Graft heads need opset 7 or newer (broadcasting Add).`, {
      hint: 'convert the backbone to a newer opset (e.g. with onnx.version_converter) and import it again',
    });
  }
  const featureInfo = findValueInfo(graph, featureOutput);
  if (!findProducer(graph, featureOutput) && !(graph.input ?? []).some((v) => v.name === featureOutput)) {
    throw new GraftError('UNSUPPORTED_MODEL', `The backbone has no tensor "${featureOutput}" to attach the head to.`, {
      hint: 'expose the feature output first (exposeFeatures) and pass its featureOutput',
    });
  }
  const featureType = valueElemType(featureInfo);
  if (featureType !== undefined && featureType !== ONNX_FLOAT) {
    throw new GraftError('UNSUPPORTED_MODEL', `Feature tensor "${featureOutput}" has ONNX type ${featureType}; the head needs float (1).`);
  }
  const declaredDim = valueShape(featureInfo)?.[1];
  if (declaredDim && declaredDim !== layers[0]!.inputDim) {
    throw new GraftError('INVALID_CONFIG', `The head's first layer takes ${layers[0]!.inputDim} features, but "${featureOutput}" has ${declaredDim}.`, {
      hint: 'train the head on features from this backbone',
    });
  }

  const nodes = nodesOf(graph);
  const initializers = graph.initializer ?? (graph.initializer = []);
  let current = featureOutput;
  layers.forEach((layer, index) => {
    const prefix = `graft_head_${index}`;
    const isLast = index === layers.length - 1;
    initializers.push(makeFloatInitializer(`${prefix}_kernel`, [layer.inputDim, layer.outputDim], layer.weight));
    nodes.push(makeNode('MatMul', [current, `${prefix}_kernel`], [`${prefix}_matmul`], { name: `${prefix}_matmul` }));
    current = `${prefix}_matmul`;
    if (layer.bias) {
      initializers.push(makeFloatInitializer(`${prefix}_bias`, [layer.outputDim], layer.bias));
      nodes.push(makeNode('Add', [current, `${prefix}_bias`], [`${prefix}_add`], { name: `${prefix}_add` }));
      current = `${prefix}_add`;
    }
    const activation = isLast ? 'softmax' : layer.activation;
    if (activation === 'linear') return;
    const out = isLast ? outputName : `${prefix}_${activation}`;
    nodes.push(
      activation === 'relu'
        ? makeNode('Relu', [current], [out], { name: `${prefix}_relu` })
        : makeNode('Softmax', [current], [out], { name: `${prefix}_softmax`, attributes: { axis: { int: 1 } } }),
    );
    current = out;
  });

  const classes = layers.at(-1)!.outputDim;
  graph.output = [makeFloatValueInfo(outputName, [null, classes]), makeFloatValueInfo(featureOutput, [null, layers[0]!.inputDim])];
  pruneDeadNodes(graph);
  return combined;
}

function validateLayers(layers: readonly DenseLayerWeights[]): void {
  if (layers.length === 0) throw new GraftError('INVALID_CONFIG', 'The head has no layers.');
  layers.forEach((layer, index) => {
    const where = `Head layer ${index}`;
    for (const [key, value] of [['inputDim', layer.inputDim], ['outputDim', layer.outputDim]] as const) {
      if (!Number.isInteger(value) || value < 1) throw new GraftError('INVALID_CONFIG', `${where}: ${key} must be a positive integer. Received: ${value}`);
    }
    if (layer.weight.length !== layer.inputDim * layer.outputDim) {
      throw new GraftError('INVALID_CONFIG', `${where}: weight must hold inputDim * outputDim = ${layer.inputDim * layer.outputDim} values. Received: ${layer.weight.length}`);
    }
    if (layer.bias && layer.bias.length !== layer.outputDim) {
      throw new GraftError('INVALID_CONFIG', `${where}: bias must hold outputDim = ${layer.outputDim} values. Received: ${layer.bias.length}`);
    }
    const next = layers[index + 1];
    if (next && next.inputDim !== layer.outputDim) {
      throw new GraftError('INVALID_CONFIG', `${where} outputs ${layer.outputDim} values but layer ${index + 1} takes ${next.inputDim}.`);
    }
    if (next && layer.activation === 'softmax') {
      throw new GraftError('INVALID_CONFIG', `${where}: softmax is only allowed on the last layer. Received activation: softmax`);
    }
    if (!next && layer.activation === 'relu') {
      throw new GraftError('INVALID_CONFIG', `${where} is the output layer; its activation must be softmax or linear (logits). Received: relu`);
    }
  });
}
