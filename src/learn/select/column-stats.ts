import { matrixRowSource, type RowSource } from '../../features/feature-rows.js';

/** Rows per read when the rows come from a file. */
const BLOCK_ROWS = 1024;

/**
 * Per-dimension mean and standard deviation of the rows with a positive weight (each counted once), for
 * standardising features. A floor of 1e-3 on the deviation keeps constant dimensions (a ReLU that never fires on
 * this data) from being blown up. Rows are read in blocks, so rows spilled to a file cost one pass, not memory.
 */
export function columnStats(rows: { readonly data: Float32Array; readonly count: number; readonly dim: number } | RowSource, weights: Float32Array): { mean: Float32Array; std: Float32Array } {
  const source = 'data' in rows ? matrixRowSource(rows) : rows;
  const { count, dim } = source;
  const sum = new Float64Array(dim);
  const sumSq = new Float64Array(dim);
  let used = 0;
  for (let start = 0; start < count; start += BLOCK_ROWS) {
    const n = Math.min(BLOCK_ROWS, count - start);
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
  const mean = new Float32Array(dim);
  const std = new Float32Array(dim);
  for (let d = 0; d < dim; d++) {
    const m = sum[d]! / Math.max(used, 1);
    mean[d] = m;
    std[d] = Math.sqrt(Math.max(sumSq[d]! / Math.max(used, 1) - m * m, 0)) + 1e-3;
  }
  return { mean, std };
}
