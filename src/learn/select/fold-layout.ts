import type { FeatureMatrix } from '../train-head.js';
import { columnSums, type ColumnSums } from './column-stats.js';

/**
 * The rows of a cross-validation, and which image and view each is. Laid out by fold, they are the plain rows of fold
 * 0's images, then their mirror rows, then fold 1's, and so on: a fold's problems weigh none of their own fold's rows,
 * and lying together those are one stretch that each pass over the rows skips (see SoftmaxObjective), a k-th of its
 * work. Otherwise they are all plain rows, then all mirror rows, in image order.
 */
export interface FoldLayout {
  readonly rows: FeatureMatrix;
  /** The image of each row. */
  readonly image: Int32Array;
  /** 1 for a mirror row. */
  readonly mirror: Uint8Array;
  /** Per fold, the column sums of its plain rows and of its mirror rows (when there are mirror rows). */
  readonly sums: readonly { readonly plain: ColumnSums; readonly mirror?: ColumnSums }[];
  /** Whether the caller's rows were moved (see restore). */
  readonly movedInPlace: boolean;
  /** Puts moved rows back in the caller's order: `rows` then holds the plain rows, then the mirror rows, in image order. */
  restore(): void;
}

/**
 * Skipping a fold's stretch pays when the products left are large: each costs a fixed ~1-2 ms on 2 cores besides its
 * multiply-adds, and short products run below the rate of long ones. `node bench/fold-layout.mjs` (one evaluation
 * of the fold problems, by fold against image order; bench/RESULTS.md): 3 120 images, 79 classes, 3 folds 0.70-0.83x
 * (2 080 rows x 158 columns a product); 1 536 images, 79 classes, 3 folds 0.82-0.96x; 2 560 images, 100 classes,
 * 5 folds 0.83-1.06x; 1 720 images, 43 classes, 5 folds 1.14-1.22x; 900 images, 79 classes, 5 folds 1.32-1.57x;
 * 2 000 images, 12 classes, 3 folds 0.96-1.04x.
 */
const MIN_STRETCH_ROWS = 1200;
let minMultiplyAddsByFold = 4e8;

/** @internal Sets the threshold of paysToLayOutByFold and returns the previous one: 0 lays every set out by fold (tests compare the two). */
export function setMinMultiplyAddsByFold(value: number): number {
  const previous = minMultiplyAddsByFold;
  minMultiplyAddsByFold = value;
  return previous;
}

/**
 * Whether laying rows out by fold speeds the passes up: each fold's stretch long, and its product with the other folds'
 * columns large (in practice: 3 folds, from 2 000 images, with many classes).
 */
export function paysToLayOutByFold(images: number, folds: number, classes: number, dim: number, mirrorRows: boolean): boolean {
  const stretch = ((mirrorRows ? 2 : 1) * images) / folds;
  if (minMultiplyAddsByFold === 0) return true;
  return stretch >= MIN_STRETCH_ROWS && stretch * (folds - 1) * classes * dim >= minMultiplyAddsByFold;
}

/**
 * The rows laid out by fold (`byFold`) or in image order, with each fold's column sums. Rows that lie in one buffer,
 * plain then mirror (as the head phase stores them), are used where they lie: moved in place when laid out by fold,
 * and put back by `restore` (a copy of a 3 000-image set's 64 MB cost ~0.18 s here, nearly all of it faulting in
 * fresh memory). Other rows are copied.
 */
export function arrangeRows(fold: Int32Array, k: number, plain: FeatureMatrix, mirrored: FeatureMatrix | undefined, byFold: boolean): FoldLayout {
  const { dim } = plain;
  const n = fold.length;
  const count = mirrored ? 2 * n : n;
  // The row each place takes (mirror rows numbered from n).
  const source = byFold ? foldOrder(fold, k, n, mirrored !== undefined) : Int32Array.from({ length: count }, (_, r) => r);
  const inPlace = inOneBuffer(plain, mirrored, n);
  let data: Float32Array;
  if (inPlace) {
    data = inPlace;
    if (byFold) permuteRows(data, dim, source);
  } else {
    data = new Float32Array(count * dim);
    source.forEach((from, r) => data.set(from < n ? plain.data.subarray(from * dim, (from + 1) * dim) : mirrored!.data.subarray((from - n) * dim, (from - n + 1) * dim), r * dim));
  }
  const rows: FeatureMatrix = { data, count, dim };
  const image = Int32Array.from(source, (from) => from % n);
  const mirror = Uint8Array.from(source, (from) => (from >= n ? 1 : 0));
  const sumsOf = (f: number, view: number): ColumnSums => columnSums(rows, Float32Array.from(image, (i, r) => (fold[i] === f && mirror[r] === view ? 1 : 0)));
  const sums = Array.from({ length: k }, (_, f) => (mirrored ? { plain: sumsOf(f, 0), mirror: sumsOf(f, 1) } : { plain: sumsOf(f, 0) }));
  const movedInPlace = inPlace !== undefined && byFold;
  let restored = false;
  return {
    rows,
    image,
    mirror,
    sums,
    movedInPlace,
    restore() {
      if (!movedInPlace || restored) return;
      restored = true;
      const back = new Int32Array(count);
      source.forEach((from, r) => (back[from] = r));
      permuteRows(data, dim, back);
    },
  };
}

/** Fold by fold: the fold's images' plain rows, then (with mirror rows) the same images' mirror rows. */
function foldOrder(fold: Int32Array, k: number, n: number, withMirror: boolean): Int32Array {
  const source = new Int32Array(withMirror ? 2 * n : n);
  let at = 0;
  for (let f = 0; f < k; f++) {
    const start = at;
    fold.forEach((g, i) => void (g === f && (source[at++] = i)));
    const end = at;
    if (withMirror) for (let r = start; r < end; r++) source[at++] = n + source[r]!;
  }
  return source;
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
