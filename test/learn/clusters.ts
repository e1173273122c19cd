import { mulberry32 } from '../../src/core/random.js';
import { denseForward, type DenseLayerWeights } from '../../src/core/dense-layer.js';
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


/**
 * Two overlapping 8-d clusters where class 1 keeps one training row in ten (10:1), and even held-out rows of both,
 * for class-weight tests; `recalls` scores a head's per-class recall on the held-out rows.
 */
export function imbalancedClusters(): { rows: FeatureMatrix; labels: Int32Array; recalls: (layers: readonly DenseLayerWeights[]) => number[] } {
  const all = clusters(1200, 8, 2, 5, 3);
  const keep = Array.from(all.labels, (l, i) => l === 0 || i % 20 === 1).flatMap((kept, i) => (kept ? [i] : []));
  const rows = { data: Float32Array.from(keep.flatMap((i) => [...all.rows.data.subarray(i * 8, (i + 1) * 8)])), count: keep.length, dim: 8 };
  const heldOut = clusters(2000, 8, 2, 6, 3);
  const recalls = (layers: readonly DenseLayerWeights[]): number[] => {
    const hits = [0, 0];
    for (let i = 0; i < heldOut.rows.count; i++) {
      const p = denseForward(layers, heldOut.rows.data.subarray(i * 8, (i + 1) * 8));
      if (p.indexOf(Math.max(...p)) === heldOut.labels[i]) hits[heldOut.labels[i]!]!++;
    }
    return hits.map((h) => h / (heldOut.rows.count / 2));
  };
  return { rows, labels: Int32Array.from(keep, (i) => all.labels[i]!), recalls };
}

/**
 * Classes in `r` latent factors that every one of `dim` columns mixes, the factors' scales falling off as 1/j:
 * correlated, ill-conditioned features as a backbone's are (iid clusters are solved in a few steps from anywhere).
 */
export function correlatedClusters(count: number, dim: number, classes: number, r: number, seed: number): { rows: FeatureMatrix; labels: Int32Array } {
  const random = mulberry32(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const mix = Float32Array.from({ length: dim * r }, () => gauss());
  const centres = Array.from({ length: classes }, () => Float32Array.from({ length: r }, () => gauss()));
  const data = new Float32Array(count * dim);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    labels[i] = i % classes;
    const z = Float32Array.from({ length: r }, (_, j) => (centres[i % classes]![j]! + 1.5 * gauss()) / (j + 1));
    for (let d = 0; d < dim; d++) {
      let v = 0.05 * gauss();
      for (let j = 0; j < r; j++) v += mix[d * r + j]! * z[j]!;
      data[i * dim + d] = v;
    }
  }
  return { rows: { data, count, dim }, labels };
}
