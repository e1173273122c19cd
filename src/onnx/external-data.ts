import { readFile, realpath } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { GraftError } from '../core/errors.js';

// Types from onnx-proto directly (not onnx-model.ts, which imports this file to read models).
const { onnx } = onnxProto;
type GraphProto = OnnxTypes.IGraphProto;
type ModelProto = OnnxTypes.IModelProto;
type TensorProto = OnnxTypes.ITensorProto;

/** Bytes per element of the tensor types whose external data can be size-checked. */
const ELEMENT_BYTES: Readonly<Record<number, number>> = { 1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2 };

/** Every tensor of the model, initializers and constant attributes, subgraphs included. */
function* tensorsOf(graph: GraphProto): Generator<TensorProto> {
  yield* graph.initializer ?? [];
  for (const node of graph.node ?? []) {
    for (const attribute of node.attribute ?? []) {
      if (attribute.t) yield attribute.t;
      yield* attribute.tensors ?? [];
      if (attribute.g) yield* tensorsOf(attribute.g);
      for (const g of attribute.graphs ?? []) yield* tensorsOf(g);
    }
  }
}

function isExternal(tensor: TensorProto): boolean {
  return tensor.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL;
}

/**
 * The files the model's external data lives in, resolved against the model file's folder (where ONNX says they
 * are, whatever the working directory), each checked to stay inside that folder.
 *
 * @throws GraftError `UNSUPPORTED_MODEL` for an absolute location, one with `..`, or one that leads (through a
 *   symbolic link) out of the model's folder.
 */
export async function externalDataFiles(model: ModelProto, modelPath: string): Promise<string[]> {
  const files = new Set<string>();
  for (const tensor of model.graph ? tensorsOf(model.graph) : []) {
    if (isExternal(tensor)) files.add(await locate(tensor, modelPath));
  }
  return [...files];
}

/**
 * Reads every tensor stored as ONNX external data (`location`, `offset`, `length`, relative to the model file)
 * into the model, so that the model is one self-contained message: onnxruntime gets it as bytes, graph surgery
 * and conversion see every weight, and a model written from it needs no side file. Mutates and returns `model`.
 *
 * @throws GraftError `UNSUPPORTED_MODEL` when a location is refused (see {@link externalDataFiles}), a file is
 *   missing, or an offset or length does not fit the file or the tensor's shape.
 */
export async function inlineExternalData(model: ModelProto, modelPath: string): Promise<ModelProto> {
  const contents = new Map<string, Buffer>();
  for (const tensor of model.graph ? tensorsOf(model.graph) : []) {
    if (!isExternal(tensor)) continue;
    const file = await locate(tensor, modelPath);
    let data = contents.get(file);
    if (!data) {
      data = await readFile(file).catch((cause: unknown) => {
        throw refuse(modelPath, tensor, `its data file cannot be read (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, 'copy the data file next to the model, under the name the model gives');
      });
      contents.set(file, data);
    }
    const entry = (key: string): string | undefined => tensor.externalData?.find((e) => e.key === key)?.value ?? undefined;
    const offset = entry('offset') === undefined ? 0 : Number(entry('offset'));
    const length = entry('length') === undefined ? data.length - offset : Number(entry('length'));
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > data.length) {
      throw refuse(modelPath, tensor, `offset ${entry('offset') ?? 0} and length ${entry('length') ?? 'rest'} do not fit its ${data.length}-byte data file`, 'the data file is truncated or belongs to another model');
    }
    const elementBytes = ELEMENT_BYTES[tensor.dataType ?? 0];
    const expected = elementBytes && (tensor.dims ?? []).reduce<number>((n, d) => n * Number(d), elementBytes);
    if (expected !== undefined && expected !== length) {
      throw refuse(modelPath, tensor, `it holds ${length} bytes where its shape needs ${expected}`, 'the data file belongs to another version of the model');
    }
    tensor.rawData = data.subarray(offset, offset + length);
    tensor.externalData = [];
    tensor.dataLocation = onnx.TensorProto.DataLocation.DEFAULT;
  }
  return model;
}

/** The data file of one external tensor, checked as ONNX and onnxruntime require: relative, inside the model's folder. */
async function locate(tensor: TensorProto, modelPath: string): Promise<string> {
  const location = tensor.externalData?.find((e) => e.key === 'location')?.value ?? '';
  const hint = 'keep the data file in the model\'s folder (or below it) and name it relative to the model';
  if (!location || isAbsolute(location) || /^[a-zA-Z]:/.test(location)) throw refuse(modelPath, tensor, `its data location "${location}" is not a relative path`, hint);
  if (location.split(/[\\/]/).includes('..')) throw refuse(modelPath, tensor, `its data location "${location}" leaves the model's folder`, hint);
  const folder = dirname(resolve(modelPath));
  const file = join(folder, location);
  const real = await realpath(file).catch(() => undefined);
  if (real === undefined) throw refuse(modelPath, tensor, `its data file "${location}" does not exist next to the model`, 'copy the data file next to the model, under the name the model gives');
  const realFolder = await realpath(folder);
  const inside = relative(realFolder, real);
  if (inside === '' || inside.startsWith(`..${sep}`) || inside === '..' || isAbsolute(inside)) {
    throw refuse(modelPath, tensor, `its data location "${location}" leads out of the model's folder through a symbolic link`, hint);
  }
  return real;
}

function refuse(modelPath: string, tensor: TensorProto, why: string, hint: string): GraftError {
  return new GraftError('UNSUPPORTED_MODEL', `ONNX model ${modelPath}: tensor "${tensor.name ?? '?'}" is stored as external data, but ${why}.`, { hint });
}
