import { mulberry32 } from '../../src/core/random.js';
import type { FeatureMatrix } from '../../src/learn/train-head.js';

/** Gaussian clusters with per-dimension offsets and scales like real features; `spread` controls the overlap. */
export function clusters(count: number, dim: number, classes: number, seed: number, spread: number): { rows: FeatureMatrix; labels: Int32Array } {
  const centreRandom = mulberry32(dim * 31 + classes);
  const centres = Array.from({ length: classes }, () => Array.from({ length: dim }, () => centreRandom() * 4));
  const random = mulberry32(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const data = new Float32Array(count * dim);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const c = i % classes;
    labels[i] = c;
    for (let d = 0; d < dim; d++) data[i * dim + d] = 10 + d * 0.5 + centres[c]![d]! + spread * gauss();
  }
  return { rows: { data, count, dim }, labels };
}

