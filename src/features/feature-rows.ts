/** One block of rows handed to {@link FeatureRows.forEachBlock}'s visitor. */
export interface FeatureBlock {
  /** Row-major `count x dim` floats; valid only during the call (the buffer is reused for the next block). */
  readonly data: Float32Array;
  /** Label id of each row (index into {@link FeatureRows.labels}). */
  readonly labels: Int32Array;
  /** Index of the block's first row among all rows. */
  readonly start: number;
  readonly count: number;
  /** Each row's file, when the rows know their files (a store's rows do); valid only during the call. */
  readonly paths?: readonly string[];
}

/** Labelled feature rows that can be read in blocks, again and again, in the same order (a solver makes many passes). */
export interface FeatureRows {
  /** Rows. */
  readonly count: number;
  /** Floats per row. */
  readonly dim: number;
  /** Class names, index = label id. */
  readonly labels: readonly string[];
  /**
   * Visits consecutive blocks of rows in a fixed order; `data` is row-major block.count x dim, valid only during the
   * call. Synchronous on purpose: stores are read with better-sqlite3 (synchronous), and solver passes are tight loops.
   * @param rowsPerBlock - rows per block (the last may be shorter). Defaults to 1024.
   */
  forEachBlock(visit: (block: FeatureBlock) => void, rowsPerBlock?: number): void;
}

/**
 * Rows a solver reads by position, again and again, and awaits work on between reads: the rows of a head fit, in
 * memory or in a file too large for memory (see spillRows). {@link FeatureRows} is for one synchronous pass; this is
 * for the many passes of a full-batch solver whose products run asynchronously (onnxruntime).
 */
export interface RowSource {
  readonly count: number;
  readonly dim: number;
  /** Rows [start, start + count) row-major; valid until the next call (a reused buffer, or a view into memory). */
  read(start: number, count: number): Float32Array;
}

/** Rows already in memory as a {@link RowSource}: reads are views, no copies. */
export function matrixRowSource(matrix: { readonly data: Float32Array; readonly count: number; readonly dim: number }): RowSource {
  const { data, count, dim } = matrix;
  return { count, dim, read: (start, n) => data.subarray(start * dim, (start + n) * dim) };
}

/** Most consecutive rows {@link subsetRowSource} reads from its source at once. */
export const DEFAULT_SUBSET_RUN = 4096;

/**
 * The given rows of `source` (indexes into it, in this order) as a {@link RowSource}: reads gather them into one
 * reused buffer, consecutive runs read together (at most {@link DEFAULT_SUBSET_RUN} rows a read, which bounds the
 * buffer of a source that reads into its own). For a held-out part or a sample of rows too many for memory.
 */
export function subsetRowSource(source: RowSource, rows: Int32Array | readonly number[]): RowSource {
  const { dim } = source;
  let buffer = new Float32Array(0);
  return {
    count: rows.length,
    dim,
    read(start, count) {
      if (!(start >= 0 && count >= 0 && start + count <= rows.length)) throw new RangeError(`subsetRowSource: rows [${start}, ${start + count}) are outside [0, ${rows.length})`);
      if (buffer.length < count * dim) buffer = new Float32Array(count * dim);
      for (let i = 0; i < count; ) {
        const first = rows[start + i]!;
        let run = 1;
        while (i + run < count && run < DEFAULT_SUBSET_RUN && rows[start + i + run] === first + run) run++;
        buffer.set(source.read(first, run), i * dim);
        i += run;
      }
      return buffer.subarray(0, count * dim);
    },
  };
}

/** Rows per block when the caller does not say: 1024 x 1280 floats is 5 MB. */
export const DEFAULT_ROWS_PER_BLOCK = 1024;

/**
 * Rows already in memory as one row-major matrix, as {@link FeatureRows}: blocks are views into `data`, no copies.
 *
 * @throws RangeError when `data` is not `labels.length x dim`, or a label id is outside `classNames`.
 * @example
 * const rows = inMemoryRows(new Float32Array([1, 2, 3, 4]), Int32Array.from([0, 1]), 2, ['cat', 'dog']);
 * rows.forEachBlock(({ data, labels }) => console.log(data, labels), 1); // two blocks of one row
 */
export function inMemoryRows(data: Float32Array, labels: Int32Array, dim: number, classNames: readonly string[]): FeatureRows {
  if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`inMemoryRows: dim must be a positive integer. Received: ${dim}`);
  if (data.length !== labels.length * dim) {
    throw new RangeError(`inMemoryRows: data has ${data.length} floats, expected labels.length x dim = ${labels.length} x ${dim}.`);
  }
  for (let i = 0; i < labels.length; i++) {
    const id = labels[i]!;
    if (!(id >= 0 && id < classNames.length)) {
      throw new RangeError(`inMemoryRows: labels[${i}] is ${id}; label ids must be in [0, ${classNames.length}) (${classNames.length} class names).`);
    }
  }
  const count = labels.length;
  return {
    count,
    dim,
    labels: classNames,
    forEachBlock(visit, rowsPerBlock = DEFAULT_ROWS_PER_BLOCK) {
      checkBlockSize(rowsPerBlock);
      for (let start = 0; start < count; start += rowsPerBlock) {
        const n = Math.min(rowsPerBlock, count - start);
        visit({ data: data.subarray(start * dim, (start + n) * dim), labels: labels.subarray(start, start + n), start, count: n });
      }
    },
  };
}

/** Throws a RangeError unless `rowsPerBlock` is a positive integer. */
export function checkBlockSize(rowsPerBlock: number): void {
  if (!Number.isInteger(rowsPerBlock) || rowsPerBlock < 1) {
    throw new RangeError(`forEachBlock: rowsPerBlock must be a positive integer. Received: ${rowsPerBlock}`);
  }
}

/**
 * Copies every row into one matrix: what a head fit that needs all rows in memory takes. Memory is count x dim floats,
 * so this is only for the in-memory paths (and the seam `trainFromFeatures` keeps until the streaming solver lands).
 */
export function materialiseRows(rows: FeatureRows): { data: Float32Array; labels: Int32Array } {
  const data = new Float32Array(rows.count * rows.dim);
  const labels = new Int32Array(rows.count);
  rows.forEachBlock((block) => {
    data.set(block.data, block.start * rows.dim);
    labels.set(block.labels, block.start);
  });
  return { data, labels };
}
