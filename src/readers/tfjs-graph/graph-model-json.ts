import type * as tf from '@tensorflow/tfjs';
import { GraftError } from '../../core/errors.js';

/**
 * The parts of a TF.js graph `model.json` that Graft reads. `modelTopology` is a TensorFlow GraphDef
 * written as JSON (protobuf's JSON mapping: int64 as strings, bytes as base64). The old format (TF Hub's
 * TF1 modules, tfjs-converter < 1.0) has no `format` key; the new one says `"format": "graph-model"`.
 */
export interface GraphModelJson {
  readonly modelTopology: GraphDefJson;
  readonly weightsManifest: readonly { readonly paths: readonly string[]; readonly weights: readonly tf.io.WeightsManifestEntry[] }[];
  readonly format?: string;
  readonly generatedBy?: string;
  readonly convertedBy?: string | null;
  readonly signature?: object;
  readonly userDefinedMetadata?: Record<string, unknown>;
}

export interface GraphDefJson {
  readonly node: readonly GraphNodeDef[];
  readonly library?: object;
  readonly versions?: object;
}

/** One NodeDef: `input` entries are `name`, `name:k` (k-th output) or `^name` (control dependency). */
export interface GraphNodeDef {
  readonly name: string;
  readonly op: string;
  readonly input?: readonly string[];
  readonly attr?: Readonly<Record<string, AttrValueJson>>;
  readonly device?: string;
}

/** AttrValue in protobuf JSON form; only the fields Graft reads are typed. */
export interface AttrValueJson {
  readonly s?: string;
  readonly i?: string | number;
  readonly f?: number;
  readonly b?: boolean;
  readonly type?: string;
  readonly shape?: { readonly dim?: readonly { readonly size?: string | number }[]; readonly unknownRank?: boolean };
  readonly list?: { readonly s?: readonly string[]; readonly i?: readonly (string | number)[]; readonly f?: readonly number[] };
  readonly tensor?: object;
}

/**
 * Checks that `parsed` is a TF.js graph model.json (a GraphDef topology and a weights manifest).
 *
 * @throws GraftError `INVALID_MODEL_DIR` naming `where` when it is not.
 */
export function validateGraphModelJson(parsed: unknown, where: string): GraphModelJson {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const topology = isObject(parsed) ? parsed.modelTopology : undefined;
  if (!isObject(parsed) || !isObject(topology) || !Array.isArray(topology.node)) {
    const layers = isObject(topology) && ('model_config' in topology || 'class_name' in topology);
    throw new GraftError('INVALID_MODEL_DIR', `${where} has no "modelTopology.node" list, so it is not a TF.js graph model.`, {
      hint: layers ? 'this is a TF.js layers model: load it with loadLayersModelFromDir' : 'the file is damaged or not a TF.js model.json',
    });
  }
  if (!topology.node.every((n) => isObject(n) && typeof n.name === 'string' && typeof n.op === 'string')) {
    throw new GraftError('INVALID_MODEL_DIR', `${where} has a graph node without a string "name" and "op".`, { hint: 'the file is damaged; download the model again' });
  }
  const manifest = parsed.weightsManifest;
  if (!Array.isArray(manifest) || !manifest.every((g) => isObject(g) && Array.isArray(g.paths) && g.paths.every((p) => typeof p === 'string') && Array.isArray(g.weights))) {
    throw new GraftError('INVALID_MODEL_DIR', `${where} has no valid "weightsManifest" (a list of { paths, weights } groups).`, {
      hint: 'the file is damaged or not a TF.js graph model.json',
    });
  }
  return parsed as unknown as GraphModelJson;
}

/**
 * Whether a parsed model.json is a TF.js graph model (format detection: a GraphDef `node` list, where a
 * layers model has a Keras config). Checks the shape only; {@link validateGraphModelJson} says what is wrong.
 */
export function isGraphModelJson(parsed: unknown): boolean {
  try {
    validateGraphModelJson(parsed, 'model.json');
    return true;
  } catch {
    return false;
  }
}

/** Splits a NodeDef input into the producing node's name and output index; undefined for `^control` inputs. */
export function parseNodeInput(input: string): { node: string; index: number } | undefined {
  if (input.startsWith('^')) return undefined;
  const match = /^(.*):(\d+)$/.exec(input);
  return match ? { node: match[1]!, index: Number(match[2]) } : { node: input, index: 0 };
}

/** The data inputs of a node (control dependencies dropped). */
export function dataInputs(node: GraphNodeDef): { node: string; index: number }[] {
  return (node.input ?? []).map(parseNodeInput).filter((i): i is { node: string; index: number } => i !== undefined);
}

export function attrInts(node: GraphNodeDef, name: string): number[] | undefined {
  const list = node.attr?.[name]?.list;
  return list ? (list.i ?? []).map(Number) : undefined;
}

export function attrFloat(node: GraphNodeDef, name: string): number | undefined {
  return node.attr?.[name]?.f;
}

export function attrBool(node: GraphNodeDef, name: string): boolean {
  return node.attr?.[name]?.b === true;
}

/** A string attribute (stored base64 in the JSON), decoded. */
export function attrString(node: GraphNodeDef, name: string): string | undefined {
  const s = node.attr?.[name]?.s;
  return s === undefined ? undefined : Buffer.from(s, 'base64').toString('utf8');
}

/** A list-of-strings attribute such as `fused_ops`, decoded. */
export function attrStrings(node: GraphNodeDef, name: string): string[] {
  return (node.attr?.[name]?.list?.s ?? []).map((s) => Buffer.from(s, 'base64').toString('utf8'));
}

/** A Placeholder's declared shape (-1 for unknown dims), or undefined when unknown. */
export function attrShape(node: GraphNodeDef, name: string): number[] | undefined {
  const shape = node.attr?.[name]?.shape;
  if (!shape || shape.unknownRank) return undefined;
  return (shape.dim ?? []).map((d) => Number(d.size ?? -1));
}
