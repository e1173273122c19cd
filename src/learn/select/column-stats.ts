import { matrixRowSource, type RowSource } from '../../features/feature-rows.js';

/** Rows per read when the rows come from a file. */
const BLOCK_ROWS = 1024;

type Rows = { readonly data: Float32Array; readonly count: number; readonly dim: number } | RowSource;

/** Per-dimension running sums behind {@link columnStats}, over the rows with a positive weight counted so far. */
export interface ColumnSums {
  readonly sum: Float64Array;
  readonly sumSq: Float64Array;
  readonly used: number;
}

/**
 * Per-dimension mean and standard deviation of the rows with a positive weight (each counted once), for
 * standardising features. A floor of 1e-3 on the deviation keeps constant dimensions (a ReLU that never fires on
 * this data) from being blown up. Rows are read in blocks, so rows spilled to a file cost one pass, not memory.
 */
export function columnStats(rows: Rows, weights: Float32Array): { mean: Float32Array; std: Float32Array } {
  return statsOf(columnSums(rows, weights));
}

/** The sums of the rows with a positive weight, in row order (for sets of rows counted apart, see {@link addSums}). */
export function columnSums(rows: Rows, weights: Float32Array): ColumnSums {
  const source = 'data' in rows ? matrixRowSource(rows) : rows;
  const { dim } = source;
  const sum = new Float64Array(dim);
  const sumSq = new Float64Array(dim);
  let used = 0;
  for (let start = 0; start < source.count; start += BLOCK_ROWS) {
    const n = Math.min(BLOCK_ROWS, source.count - start);
    const data = source.read(start, n);
    for (let r = 0; r < n; r++) {
      if (!(weights[start + r]! > 0)) continue;
      used++;
      const offset = r * dim;
      for (let d = 0; d < dim; d++) {
        const v = data[offset + d]!;
        sum[d] = sum[d]! + v;
        sumSq[d] = sumSq[d]! + v * v;
      }
    }
  }
  return { sum, sumSq, used };
}

/** The sums of several disjoint sets of rows, together. */
export function addSums(parts: readonly ColumnSums[]): ColumnSums {
  const dim = parts[0]!.sum.length;
  const sum = new Float64Array(dim);
  const sumSq = new Float64Array(dim);
  let used = 0;
  for (const part of parts) {
    for (let d = 0; d < dim; d++) {
      sum[d] = sum[d]! + part.sum[d]!;
      sumSq[d] = sumSq[d]! + part.sumSq[d]!;
    }
    used += part.used;
  }
  return { sum, sumSq, used };
}

/** Mean and deviation (floored, see {@link columnStats}) from running sums. */
export function statsOf(sums: ColumnSums): { mean: Float32Array; std: Float32Array } {
  const { sum, sumSq, used } = sums;
  const dim = sum.length;
  const mean = new Float32Array(dim);
  const std = new Float32Array(dim);
  for (let d = 0; d < dim; d++) {
    const m = sum[d]! / Math.max(used, 1);
    mean[d] = m;
    std[d] = Math.sqrt(Math.max(sumSq[d]! / Math.max(used, 1) - m * m, 0)) + 1e-3;
  }
  return { mean, std };
}
