import { readFile } from 'node:fs/promises';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { GraftError } from '../core/errors.js';
import { inlineExternalData } from './external-data.js';

/**
 * Reading, writing and small typed edits of ONNX `ModelProto`s.
 *
 * Graft edits graphs in two places (exposing a feature output, appending a trained head), both with the
 * same handful of operations, so they live here instead of being re-derived from raw protobuf fields.
 */
export const { onnx } = onnxProto;

/*
 * The protobufjs interfaces (every field optional) rather than the classes: nested messages are typed as
 * interfaces anyway, and plain objects built by hand are valid values.
 */
export type ModelProto = OnnxTypes.IModelProto;
export type GraphProto = OnnxTypes.IGraphProto;
export type NodeProto = OnnxTypes.INodeProto;
export type TensorProto = OnnxTypes.ITensorProto;
export type ValueInfoProto = OnnxTypes.IValueInfoProto;
export type AttributeProto = OnnxTypes.IAttributeProto;

/** `TensorProto.DataType` values Graft reads or writes. */
export const ONNX_FLOAT = 1;
export const ONNX_UINT8 = 2;
export const ONNX_INT8 = 3;
export const ONNX_INT32 = 6;
export const ONNX_INT64 = 7;
export const ONNX_DOUBLE = 11;

/** An int64 proto field: protobufjs gives a `Long` object, or a number when one was assigned. */
type Int64Like = number | { toNumber(): number };

/** Converts a protobufjs int64 field (Long or number) to a JS number. */
export function int64ToNumber(value: Int64Like | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : value.toNumber();
}

/**
 * Decodes ONNX bytes. `source` (a path or name) is quoted in every error so the user knows which file
 * is broken.
 *
 * @throws GraftError `UNSUPPORTED_MODEL` when the bytes are not an ONNX model (truncated download,
 *   another format, an HTML error page) or the model has no graph.
 */
export function decodeOnnxModel(bytes: Uint8Array, source: string): ModelProto {
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (cause) {
    throw new GraftError(
      'UNSUPPORTED_MODEL',
      `${describeSource(source)} is not a readable ONNX model (${bytes.length} bytes; protobuf decode failed: ${errorText(cause)}).`,
      { hint: 'the file may be truncated or in another format; download it again or check the path', cause },
    );
  }
  // Protobuf is permissive: random bytes sometimes decode to a message with no graph. A real model has
  // a graph with at least one node and one input.
  const graph = model.graph;
  const counts = graph ? [graph.node?.length ?? 0, graph.input?.length ?? 0, graph.output?.length ?? 0] : [];
  if (!graph || counts.some((n) => n === 0)) {
    throw new GraftError(
      'UNSUPPORTED_MODEL',
      `${describeSource(source)} is not a usable ONNX model: it decodes, but has ${graph ? `${counts[0]} nodes, ${counts[1]} inputs and ${counts[2]} outputs` : 'no graph'}.`,
      { hint: 'the file may be truncated or in another format; download it again or check the path' },
    );
  }
  return model;
}

/**
 * Reads and decodes an ONNX file. Tensors stored as external data are read from files next to the model
 * (resolved against the model's folder, never the working directory) into the returned model.
 *
 * @throws GraftError `MODEL_NOT_FOUND` when the file cannot be read, `UNSUPPORTED_MODEL` as in {@link decodeOnnxModel}
 *   and {@link inlineExternalData}.
 */
export async function readOnnxModel(path: string): Promise<ModelProto> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    throw new GraftError('MODEL_NOT_FOUND', `Cannot read ONNX model "${path}": ${errorText(cause)}`, {
      hint: 'check the path, or pass a catalogue name or URL',
      cause,
    });
  }
  return inlineExternalData(decodeOnnxModel(bytes, path), path);
}

/** Serialises a model to bytes (for a file or for `InferenceSession.create`). */
export function encodeOnnxModel(model: ModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

/**
 * A copy whose graph can be edited without the edits leaking into the caller's model: every message and list is
 * copied, but tensor bytes (raw_data, and any typed array) are shared, since Graft's surgery replaces tensors and
 * never writes into their bytes. An encode/decode round trip, which copied the weights too, cost 20-40 ms per clone
 * of MobileNetV2 and a warm `graft train` clones several times.
 */
export function cloneOnnxModel(model: ModelProto): ModelProto {
  return cloneMessage(model);
}

function cloneMessage<T>(value: T): T {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return value;
  if (Array.isArray(value)) return value.map(cloneMessage) as T;
  const out = Object.create(Object.getPrototypeOf(value) as object) as Record<string, unknown>;
  for (const key of Object.keys(value)) out[key] = cloneMessage((value as Record<string, unknown>)[key]);
  return out as T;
}

/** The model's graph; a decoded model always has one (see {@link decodeOnnxModel}). */
export function graphOf(model: ModelProto): GraphProto {
  if (!model.graph) throw new GraftError('UNSUPPORTED_MODEL', 'The ONNX model has no graph.');
  return model.graph;
}

/** A graph's nodes in order (protobufjs types every repeated field as optional). */
export function nodesOf(graph: GraphProto): NodeProto[] {
  return graph.node ?? (graph.node = []);
}

export function nodeInputs(node: NodeProto): string[] {
  return node.input ?? [];
}

export function nodeOutputs(node: NodeProto): string[] {
  return node.output ?? [];
}

/** The node whose outputs include `tensor`, if any (graph inputs and initializers have none). */
export function findProducer(graph: GraphProto, tensor: string): NodeProto | undefined {
  return nodesOf(graph).find((node) => nodeOutputs(node).includes(tensor));
}

/** Nodes that read `tensor`, in graph order. */
export function findConsumers(graph: GraphProto, tensor: string): NodeProto[] {
  return nodesOf(graph).filter((node) => nodeInputs(node).includes(tensor));
}

export function findInitializer(graph: GraphProto, name: string): TensorProto | undefined {
  return (graph.initializer ?? []).find((tensor) => tensor.name === name);
}

/**
 * The real inputs of a graph: old exporters (IR < 4) also list every initializer as an input.
 */
export function graphInputs(graph: GraphProto): ValueInfoProto[] {
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
  return (graph.input ?? []).filter((input) => !initializers.has(input.name));
}

/** A value's static shape: numbers for fixed dims, null for symbolic or unknown ones; undefined when no shape is recorded. */
export function valueShape(value: ValueInfoProto | undefined): (number | null)[] | undefined {
  const shape = value?.type?.tensorType?.shape;
  if (!shape) return undefined;
  return (shape.dim ?? []).map((dim) => {
    const n = dim.dimValue === null || dim.dimValue === undefined ? 0 : int64ToNumber(dim.dimValue);
    return n > 0 ? n : null;
  });
}

/** Element type of a value (`ONNX_FLOAT`, ...), or undefined when not recorded. */
export function valueElemType(value: ValueInfoProto | undefined): number | undefined {
  const elemType = value?.type?.tensorType?.elemType;
  return elemType === null || elemType === undefined ? undefined : elemType;
}

/** The graph input, output or value_info entry describing `tensor`, if the model records one. */
export function findValueInfo(graph: GraphProto, tensor: string): ValueInfoProto | undefined {
  return (
    (graph.output ?? []).find((v) => v.name === tensor) ??
    (graph.valueInfo ?? []).find((v) => v.name === tensor) ??
    (graph.input ?? []).find((v) => v.name === tensor)
  );
}

/** Dims of an initializer as numbers. */
export function tensorDims(tensor: TensorProto): number[] {
  return (tensor.dims ?? []).map((d) => int64ToNumber(d));
}

/**
 * An initializer's values as float32, whatever the storage (raw_data or float_data; double narrowed).
 *
 * @throws GraftError `UNSUPPORTED_MODEL` for other element types.
 */
export function initializerToFloat32(tensor: TensorProto): Float32Array {
  const count = tensorDims(tensor).reduce((a, b) => a * b, 1);
  if (tensor.dataType === ONNX_FLOAT) {
    if (tensor.rawData && tensor.rawData.length > 0) return copyRaw(tensor.rawData, Float32Array, count);
    return Float32Array.from(tensor.floatData ?? []);
  }
  if (tensor.dataType === ONNX_DOUBLE) {
    if (tensor.rawData && tensor.rawData.length > 0) return Float32Array.from(copyRaw(tensor.rawData, Float64Array, count));
    return Float32Array.from(tensor.doubleData ?? []);
  }
  throw new GraftError(
    'UNSUPPORTED_MODEL',
    `Initializer "${tensor.name}" has ONNX data type ${tensor.dataType}; expected float (1) or double (11).`,
  );
}

/**
 * An integer initializer's values as numbers (int64, int32 and the 8-bit types used by quantized models).
 *
 * @throws GraftError `UNSUPPORTED_MODEL` for other element types.
 */
export function initializerToNumbers(tensor: TensorProto): number[] {
  const count = tensorDims(tensor).reduce((a, b) => a * b, 1);
  const raw = tensor.rawData && tensor.rawData.length > 0 ? tensor.rawData : undefined;
  switch (tensor.dataType) {
    case ONNX_INT64:
      return raw ? Array.from(copyRaw(raw, BigInt64Array, count), Number) : (tensor.int64Data ?? []).map((v) => int64ToNumber(v));
    case ONNX_INT32:
      return raw ? Array.from(copyRaw(raw, Int32Array, count)) : [...(tensor.int32Data ?? [])];
    case ONNX_UINT8:
      return raw ? Array.from(copyRaw(raw, Uint8Array, count)) : [...(tensor.int32Data ?? [])];
    case ONNX_INT8:
      return raw ? Array.from(copyRaw(raw, Int8Array, count)) : [...(tensor.int32Data ?? [])];
    default:
      throw new GraftError(
        'UNSUPPORTED_MODEL',
        `Initializer "${tensor.name}" has ONNX data type ${tensor.dataType}; expected an integer type.`,
      );
  }
}

/** A float32 initializer stored as raw little-endian bytes (the compact form every runtime reads). */
export function makeFloatInitializer(name: string, dims: readonly number[], data: Float32Array): TensorProto {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new RangeError(`Initializer "${name}": dims [${dims.join(', ')}] hold ${count} values, data has ${data.length}.`);
  }
  return onnx.TensorProto.create({
    name,
    dims: [...dims],
    dataType: ONNX_FLOAT,
    rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)),
  });
}

/** An int64 initializer (shapes, axes). */
export function makeInt64Initializer(name: string, dims: readonly number[], data: readonly number[]): TensorProto {
  const raw = BigInt64Array.from(data, (v) => BigInt(v));
  return onnx.TensorProto.create({ name, dims: [...dims], dataType: ONNX_INT64, rawData: new Uint8Array(raw.buffer) });
}

/** Attribute values for {@link makeNode}: the key says the ONNX attribute type, so 1 and 1.0 cannot be confused. */
export type AttributeValue =
  | { readonly int: number }
  | { readonly float: number }
  | { readonly ints: readonly number[] }
  | { readonly floats: readonly number[] }
  | { readonly string: string };

/** Builds a node in the default domain (or `domain`) with typed attributes. */
export function makeNode(
  opType: string,
  inputs: readonly string[],
  outputs: readonly string[],
  options: { name?: string; domain?: string; attributes?: Readonly<Record<string, AttributeValue>> } = {},
): NodeProto {
  const { AttributeType } = onnx.AttributeProto;
  const attribute = Object.entries(options.attributes ?? {}).map(([name, value]) => {
    if ('int' in value) return onnx.AttributeProto.create({ name, type: AttributeType.INT, i: value.int });
    if ('float' in value) return onnx.AttributeProto.create({ name, type: AttributeType.FLOAT, f: value.float });
    if ('ints' in value) return onnx.AttributeProto.create({ name, type: AttributeType.INTS, ints: [...value.ints] });
    if ('floats' in value) return onnx.AttributeProto.create({ name, type: AttributeType.FLOATS, floats: [...value.floats] });
    return onnx.AttributeProto.create({ name, type: AttributeType.STRING, s: new TextEncoder().encode(value.string) });
  });
  return onnx.NodeProto.create({
    opType,
    input: [...inputs],
    output: [...outputs],
    name: options.name ?? outputs[0] ?? opType,
    domain: options.domain ?? '',
    attribute,
  });
}

/** An integer attribute of a node, or `fallback` when absent. */
export function intAttribute(node: NodeProto, name: string, fallback: number): number {
  const attribute = (node.attribute ?? []).find((a) => a.name === name);
  return attribute ? int64ToNumber(attribute.i) : fallback;
}

/** A float tensor value_info with the given dims (`null` for a symbolic dim named `dimParam`, a string for one of that name). */
export function makeFloatValueInfo(name: string, dims: readonly (number | string | null)[], dimParam = 'N'): ValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: ONNX_FLOAT,
        shape: { dim: dims.map((d) => (d === null ? { dimParam } : typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  });
}

/** Opset version the model imports for `domain` ('' = the default ONNX domain), or undefined. */
export function opsetVersion(model: ModelProto, domain = ''): number | undefined {
  const entry = (model.opsetImport ?? []).find((o) => (o.domain ?? '') === domain || (domain === '' && o.domain === 'ai.onnx'));
  return entry ? int64ToNumber(entry.version) : undefined;
}

/** Renames a tensor in every node's inputs and outputs (graph inputs and outputs are left to the caller). */
export function renameTensor(graph: GraphProto, from: string, to: string): void {
  for (const node of nodesOf(graph)) {
    node.input = (node.input ?? []).map((name) => (name === from ? to : name));
    node.output = (node.output ?? []).map((name) => (name === from ? to : name));
  }
}

/**
 * Removes nodes whose outputs no graph output needs, then initializers, value_info entries and
 * initializer-inputs nothing reads any more.
 */
export function pruneDeadNodes(graph: GraphProto): void {
  const needed = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  const nodes = nodesOf(graph);
  const kept: NodeProto[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i]!;
    if (!nodeOutputs(node).some((name) => needed.has(name))) continue;
    kept.push(node);
    for (const input of nodeInputs(node)) if (input) needed.add(input);
    // Subgraphs (If/Loop bodies) read outer tensors implicitly; keep everything they mention.
    for (const attribute of node.attribute ?? []) {
      for (const sub of [attribute.g, ...(attribute.graphs ?? [])]) {
        if (sub) for (const inner of sub.node ?? []) for (const input of inner.input ?? []) needed.add(input);
      }
    }
  }
  graph.node = kept.reverse();
  const initializers = graph.initializer ?? [];
  const initializerNames = new Set(initializers.map((t) => t.name));
  graph.initializer = initializers.filter((t) => needed.has(t.name ?? ''));
  graph.valueInfo = (graph.valueInfo ?? []).filter((v) => needed.has(v.name ?? ''));
  // Real inputs stay (callers feed them); inputs that only named a now-dropped initializer go.
  graph.input = (graph.input ?? []).filter((v) => !initializerNames.has(v.name) || needed.has(v.name ?? ''));
}

function copyRaw<T extends Float32Array | Float64Array | Int32Array | Uint8Array | Int8Array | BigInt64Array>(
  raw: Uint8Array,
  kind: { new (buffer: ArrayBuffer): T; BYTES_PER_ELEMENT: number },
  count: number,
): T {
  if (raw.length !== count * kind.BYTES_PER_ELEMENT) {
    throw new GraftError(
      'UNSUPPORTED_MODEL',
      `An initializer holds ${raw.length} bytes; its dims need ${count * kind.BYTES_PER_ELEMENT}. The model is corrupt or truncated.`,
    );
  }
  // Copy: raw_data is a view into the whole file's buffer at an arbitrary (unaligned) offset.
  const buffer = new ArrayBuffer(raw.length);
  new Uint8Array(buffer).set(raw);
  return new kind(buffer);
}

function describeSource(source: string): string {
  return `"${source}"`;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The one float input of an image model, as the tfjs import and the layers conversion need it.
 * @param purpose what needs it, for the message, e.g. 'the tfjs import'.
 * @throws GraftError UNSUPPORTED_MODEL for several inputs or a non-float input, naming them.
 */
export function singleFloatInput(graph: GraphProto, source: string, purpose: string): ValueInfoProto {
  const inputs = graphInputs(graph);
  if (inputs.length !== 1) {
    throw new GraftError('UNSUPPORTED_MODEL', `"${source}" has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}); ${purpose} supports one image input.`);
  }
  const input = inputs[0]!;
  const elemType = valueElemType(input);
  if (elemType !== undefined && elemType !== ONNX_FLOAT) {
    throw new GraftError('UNSUPPORTED_MODEL', `"${source}" takes input "${input.name ?? ''}" of ONNX type ${elemType}; ${purpose} needs a float (1) input.`);
  }
  return input;
}

/**
 * The tensors a caller asked for (default: the graph's outputs), checked to exist: the graph input, an
 * initializer or a node output.
 * @throws GraftError INVALID_CONFIG naming the missing tensors and listing the graph's outputs.
 */
export function requestedOutputs(graph: GraphProto, outputs: readonly string[] | undefined, source: string): string[] {
  const names = [...(outputs ?? (graph.output ?? []).map((o) => o.name ?? ''))];
  const known = new Set([...graphInputs(graph).map((i) => i.name ?? ''), ...(graph.initializer ?? []).map((t) => t.name ?? ''), ...nodesOf(graph).flatMap((n) => n.output ?? [])]);
  const unknown = names.filter((name) => !known.has(name));
  if (unknown.length > 0 || names.length === 0) {
    throw new GraftError('INVALID_CONFIG', `"${source}" has no tensor named ${unknown.map((n) => `"${n}"`).join(', ') || '(no outputs requested)'}.`, {
      hint: `request graph outputs (${(graph.output ?? []).map((o) => o.name).join(', ')}) or the name of a node output`,
    });
  }
  return names;
}

/** The opset a node's operator is read under: its domain's import, else the default domain's, else 13. */
export function nodeOpset(model: ModelProto, node: NodeProto): number {
  const domain = node.domain ?? '';
  return opsetVersion(model, domain === 'ai.onnx' ? '' : domain) ?? opsetVersion(model) ?? 13;
}
