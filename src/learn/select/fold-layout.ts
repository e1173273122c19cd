import type { FeatureMatrix } from '../train-head.js';
import { columnSums, type ColumnSums } from './column-stats.js';

/**
 * The rows of a cross-validation laid out by fold: the plain rows of fold 0's images, then their mirror rows, then
 * fold 1's, and so on. A fold's problems weigh none of their own fold's rows; lying together, those are one stretch
 * that each pass over the rows skips (see SoftmaxObjective), a k-th of its work. One stretch per fold rather than two
 * (plain rows first, then all mirror rows): fewer, longer matrix products run faster (bench/RESULTS.md).
 */
export interface FoldLayout {
  readonly rows: FeatureMatrix;
  /** The image of each row. */
  readonly image: Int32Array;
  /** 1 for a mirror row. */
  readonly mirror: Uint8Array;
  /** Per fold, the column sums of its plain rows and of its mirror rows (when there are mirror rows). */
  readonly sums: readonly { readonly plain: ColumnSums; readonly mirror?: ColumnSums }[];
  /** Whether the caller's rows were moved (see restore) rather than copied. */
  readonly laidOutInPlace: boolean;
  /**
   * Puts the caller's rows back in their order when they were laid out in place; after it, `rows` holds the plain
   * rows then the mirror rows, in image order.
   */
  restore(): void;
}

/**
 * Lays the images' rows out by fold, with each fold's column sums. Rows that lie in one buffer, plain then mirror
 * (as the head phase stores them), are moved in place and put back by `restore`: a copy of a 3 000-image set's
 * 64 MB cost ~0.18 s here, nearly all of it faulting in fresh memory. Other rows are copied.
 */
export function layOutByFold(fold: Int32Array, k: number, plain: FeatureMatrix, mirrored: FeatureMatrix | undefined): FoldLayout {
  const { dim } = plain;
  const n = fold.length;
  const count = mirrored ? 2 * n : n;
  // The row each place takes: fold by fold, plain rows then the same images' mirror rows.
  const source = new Int32Array(count);
  const bounds: { plain: { start: number; end: number }; mirror?: { start: number; end: number } }[] = [];
  let at = 0;
  for (let f = 0; f < k; f++) {
    const start = at;
    fold.forEach((g, i) => void (g === f && (source[at++] = i)));
    const plainPart = { start, end: at };
    if (mirrored) for (let r = plainPart.start; r < plainPart.end; r++) source[at++] = n + source[r]!;
    bounds.push(mirrored ? { plain: plainPart, mirror: { start: plainPart.end, end: at } } : { plain: plainPart });
  }
  const inPlace = inOneBuffer(plain, mirrored, n);
  let data: Float32Array;
  if (inPlace) {
    data = inPlace;
    permuteRows(data, dim, source);
  } else {
    data = new Float32Array(count * dim);
    source.forEach((from, r) => data.set(from < n ? plain.data.subarray(from * dim, (from + 1) * dim) : mirrored!.data.subarray((from - n) * dim, (from - n + 1) * dim), r * dim));
  }
  const rows: FeatureMatrix = { data, count, dim };
  const all = new Float32Array(count).fill(1);
  const sums = bounds.map((b) => (b.mirror ? { plain: columnSums(rows, all, b.plain), mirror: columnSums(rows, all, b.mirror) } : { plain: columnSums(rows, all, b.plain) }));
  const image = Int32Array.from(source, (from) => from % n);
  const mirror = Uint8Array.from(source, (from) => (from >= n ? 1 : 0));
  let restored = false;
  return {
    rows,
    image,
    mirror,
    sums,
    laidOutInPlace: inPlace !== undefined,
    restore() {
      if (!inPlace || restored) return;
      restored = true;
      const back = new Int32Array(count);
      source.forEach((from, r) => (back[from] = r));
      permuteRows(data, dim, back);
    },
  };
}

/** The plain then mirror rows as one view, when they already lie that way in one buffer. */
function inOneBuffer(plain: FeatureMatrix, mirrored: FeatureMatrix | undefined, n: number): Float32Array | undefined {
  const size = n * plain.dim;
  if (plain.data.length < size) return undefined;
  if (!mirrored) return plain.data.subarray(0, size);
  const adjacent = mirrored.data.buffer === plain.data.buffer && mirrored.data.byteOffset === plain.data.byteOffset + size * 4 && mirrored.data.length >= size;
  return adjacent ? new Float32Array(plain.data.buffer, plain.data.byteOffset, 2 * size) : undefined;
}

/** Row r becomes what row source[r] was, in place: each cycle of the permutation moved through one spare row. */
function permuteRows(data: Float32Array, dim: number, source: Int32Array): void {
  const done = new Uint8Array(source.length);
  const spare = new Float32Array(dim);
  for (let first = 0; first < source.length; first++) {
    if (done[first] || source[first] === first) continue;
    spare.set(data.subarray(first * dim, (first + 1) * dim));
    let r = first;
    for (;;) {
      done[r] = 1;
      const from = source[r]!;
      if (from === first) {
        data.set(spare, r * dim);
        break;
      }
      data.copyWithin(r * dim, from * dim, (from + 1) * dim);
      r = from;
    }
  }
}
