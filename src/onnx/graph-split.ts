import { GraftError } from '../core/errors.js';
import { graphInputs, graphOf, nodeInputs, nodeOutputs, nodesOf, type GraphProto, type ModelProto, type NodeProto } from './onnx-model.js';

/** @internal What the cut-point search and the exporters need to know about a graph. */
export interface GraphSplit {
  readonly graph: GraphProto;
  readonly nodes: readonly NodeProto[];
  readonly inputName: string;
  /** Indices of the nodes the features need, ascending. */
  readonly needed: readonly number[];
  /** Every tensor a needed node reads or writes, and the features. */
  readonly neededTensors: ReadonlySet<string>;
  /** Producer index of every node output. */
  readonly producer: ReadonlyMap<string, number>;
  /** Initializers and outputs of nodes whose inputs are all constant (folded at import). */
  readonly constants: ReadonlySet<string>;
}

/**
 * @internal Needed nodes, producers and constants of the subgraph that computes `featureOutput`.
 * @throws GraftError `INVALID_CONFIG` when `featureOutput` is not a tensor of the graph, `UNSUPPORTED_MODEL`
 *   when the graph has no input.
 */
export function analyseGraph(model: ModelProto, featureOutput: string): GraphSplit {
  const graph = graphOf(model);
  const nodes = nodesOf(graph);
  const inputName = graphInputs(graph)[0]?.name;
  if (!inputName) throw new GraftError('UNSUPPORTED_MODEL', 'The ONNX model has no graph input to feed images to.');
  const producer = new Map<string, number>();
  nodes.forEach((node, i) => nodeOutputs(node).forEach((out) => out && producer.set(out, i)));
  if (featureOutput !== inputName && !producer.has(featureOutput)) {
    throw new GraftError('INVALID_CONFIG', `The model has no tensor "${featureOutput}" to take features from.`, {
      hint: "pass the backbone's feature output (BackboneHandle.onnxFeatureOutput, or exposeFeatures' featureOutput)",
    });
  }
  const neededTensors = new Set([featureOutput]);
  const needed: number[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    if (!nodeOutputs(nodes[i]!).some((out) => neededTensors.has(out))) continue;
    needed.push(i);
    for (const name of [...nodeInputs(nodes[i]!), ...nodeOutputs(nodes[i]!)]) if (name) neededTensors.add(name);
  }
  needed.reverse();
  const constants = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  for (const node of nodes) {
    if (nodeInputs(node).every((name) => name === '' || constants.has(name))) for (const out of nodeOutputs(node)) constants.add(out);
  }
  return { graph, nodes, inputName, needed, neededTensors, producer, constants };
}

/** @internal Indices of the nodes the features need that the cut tensor does not: what runs after the cut. */
export function suffixNodeIndices(split: GraphSplit, cut: string): number[] {
  const prefix = prefixNodeIndices(split, cut);
  return split.needed.filter((i) => !prefix.has(i));
}

/** @internal Indices of the nodes the cut tensor needs (empty for the graph input). */
export function prefixNodeIndices(split: GraphSplit, cut: string): Set<number> {
  const wanted = new Set([cut]);
  const found = new Set<number>();
  for (let i = split.nodes.length - 1; i >= 0; i--) {
    const node = split.nodes[i]!;
    if (!nodeOutputs(node).some((out) => wanted.has(out))) continue;
    found.add(i);
    for (const name of nodeInputs(node)) if (name) wanted.add(name);
  }
  return found;
}
