import { int64ToNumber, type AttributeProto, type NodeProto } from './onnx-model.js';

/** Typed reads of a node's attributes, each with the ONNX default as `fallback`. */
function find(node: NodeProto, name: string): AttributeProto | undefined {
  return (node.attribute ?? []).find((a) => a.name === name);
}

export function hasAttribute(node: NodeProto, name: string): boolean {
  return find(node, name) !== undefined;
}

export function intAttr(node: NodeProto, name: string, fallback: number): number {
  const a = find(node, name);
  return a ? int64ToNumber(a.i) : fallback;
}

export function intsAttr(node: NodeProto, name: string): number[] | undefined {
  const a = find(node, name);
  return a ? (a.ints ?? []).map((v) => int64ToNumber(v)) : undefined;
}

export function floatAttr(node: NodeProto, name: string, fallback: number): number {
  const a = find(node, name);
  return a && a.f !== null && a.f !== undefined ? a.f : fallback;
}

export function floatsAttr(node: NodeProto, name: string): number[] | undefined {
  const a = find(node, name);
  return a ? [...(a.floats ?? [])] : undefined;
}

export function stringAttr(node: NodeProto, name: string, fallback: string): string {
  const a = find(node, name);
  return a?.s ? new TextDecoder().decode(a.s) : fallback;
}

export function tensorAttr(node: NodeProto, name: string): AttributeProto['t'] {
  return find(node, name)?.t;
}
