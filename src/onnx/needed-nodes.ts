import type { NodeProto } from './onnx-model.js';

/**
 * Nodes the requested outputs depend on, in graph order; fills `tensors` with every tensor they read. The `start`
 * tensor is fed from outside: its producer (and what only it needs) is left out. Both tfjs imports use this.
 */
export function neededNodes(nodes: readonly NodeProto[], outputs: readonly string[], tensors: Set<string>, start: string): NodeProto[] {
  for (const name of outputs) tensors.add(name);
  const kept: NodeProto[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i]!;
    if (!(node.output ?? []).some((name) => name !== start && tensors.has(name))) continue;
    kept.push(node);
    for (const name of node.input ?? []) if (name) tensors.add(name);
  }
  return kept.reverse();
}
