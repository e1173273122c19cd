import { GraftError } from '../core/errors.js';
import type { OnnxGraphBuilder, OnnxValue } from '../onnx/graph-builder.js';
import type { GraphNodeDef } from '../readers/tfjs-graph/graph-model-json.js';

/**
 * What a TF graph node's input resolves to while exporting: a computed value (an ONNX tensor with its
 * TF shape, NHWC for images, and whether it is stored NCHW) or a Const whose data the exporter can read
 * (filters, axes, paddings are folded into attributes and initializers, never computed at run time).
 */
export type Operand =
  | { readonly kind: 'value'; readonly value: OnnxValue }
  | { readonly kind: 'const'; readonly name: string; readonly shape: readonly number[]; readonly data: Float32Array | Int32Array };

export type ConstOperand = Extract<Operand, { kind: 'const' }>;

/** ONNX axis order of a rank-4 value stored NCHW: position i holds TF (NHWC) axis NCHW_PERM[i]. */
export const NCHW_PERM = [0, 3, 1, 2] as const;

/** Where TF (NHWC) axis `axis` of a rank-4 value sits when stored NCHW. */
export function nchwAxis(axis: number): number {
  return NCHW_PERM.indexOf(axis as 0 | 1 | 2 | 3);
}

/** Initializers made from Consts, cached per layout so a Const shared by many nodes is stored once. */
export class ConstInitializers {
  private readonly cache = new Map<string, string>();

  constructor(private readonly builder: OnnxGraphBuilder) {}

  /** A float scalar initializer (Clip bounds and the like), one per value. */
  scalar(value: number): string {
    const key = `scalar|${value}`;
    let name = this.cache.get(key);
    if (!name) this.cache.set(key, (name = this.builder.floatConst(`scalar_${value}`, [], new Float32Array([value]))));
    return name;
  }

  /**
   * The const as a float initializer shaped to broadcast against `partner`: when the partner is stored
   * NCHW, the const is padded to rank 4 (leading ones, as TF broadcasting does) and transposed to NCHW.
   */
  floatFor(c: ConstOperand, partner: OnnxValue | undefined, node: GraphNodeDef): string {
    const isNchw = partner?.isNchw === true && partner.shape.length === 4;
    const key = `${c.name}|${isNchw}`;
    const known = this.cache.get(key);
    if (known) return known;
    const data = c.data instanceof Float32Array ? c.data : Float32Array.from(c.data);
    let name: string;
    if (!isNchw || c.shape.length === 0) {
      name = this.builder.floatConst(c.name, c.shape, data);
    } else {
      if (c.shape.length > 4) throw unsupported(node, `const "${c.name}" of rank ${c.shape.length} broadcast against an image tensor`);
      const shape4 = [...new Array<number>(4 - c.shape.length).fill(1), ...c.shape];
      name = this.builder.floatConst(c.name, NCHW_PERM.map((a) => shape4[a]!), transposeNhwcToNchw(data, shape4));
    }
    this.cache.set(key, name);
    return name;
  }
}

/** Transposes rank-4 NHWC data to NCHW. */
export function transposeNhwcToNchw(data: Float32Array, [n, h, w, c]: readonly number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let a = 0; a < n!; a++)
    for (let y = 0; y < h!; y++)
      for (let x = 0; x < w!; x++)
        for (let k = 0; k < c!; k++) out[((a * c! + k) * h! + y) * w! + x] = data[((a * h! + y) * w! + x) * c! + k]!;
  return out;
}

/** TF's broadcast of two static shapes (null = unknown, e.g. the batch). */
export function broadcastShape(a: readonly (number | null)[], b: readonly (number | null)[]): (number | null)[] {
  const rank = Math.max(a.length, b.length);
  const out: (number | null)[] = [];
  for (let i = 0; i < rank; i++) {
    const x = i < rank - a.length ? 1 : a[i - (rank - a.length)]!;
    const y = i < rank - b.length ? 1 : b[i - (rank - b.length)]!;
    out.push(x === 1 ? y : y === 1 ? x : x ?? y);
  }
  return out;
}

/** The error for anything the exporter cannot convert, naming the op and the node. */
export function unsupported(node: GraphNodeDef, what: string): GraftError {
  return new GraftError('UNSUPPORTED_MODEL', `Cannot export ${node.op} node "${node.name}" to ONNX: ${what}.`, {
    hint: 'export up to an earlier node with outputNode, or run this graph model in tfjs (loadGraphModelFromDir)',
  });
}
