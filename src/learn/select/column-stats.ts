import type { FeatureMatrix } from '../train-head.js';

/**
 * Per-dimension mean and standard deviation of the rows with a positive weight (each counted once), for
 * standardising features. A floor of 1e-3 on the deviation keeps constant dimensions (a ReLU that never fires on
 * this data) from being blown up.
 */
export function columnStats(rows: FeatureMatrix, weights: Float32Array): { mean: Float32Array; std: Float32Array } {
  const { data, count, dim } = rows;
  const sum = new Float64Array(dim);
  const sumSq = new Float64Array(dim);
  let used = 0;
  for (let r = 0; r < count; r++) {
    if (!(weights[r]! > 0)) continue;
    used++;
    const offset = r * dim;
    for (let d = 0; d < dim; d++) {
      const v = data[offset + d]!;
      sum[d] = sum[d]! + v;
      sumSq[d] = sumSq[d]! + v * v;
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
