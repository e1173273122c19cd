/** Weights of one Dense layer as Graft stores and exports them. */
export interface DenseLayerWeights {
  readonly inputDim: number;
  readonly outputDim: number;
  /** Row-major [inputDim, outputDim], the layout of a tfjs/Keras Dense kernel. */
  readonly weight: Float32Array;
  readonly bias: Float32Array | null;
  readonly activation: 'relu' | 'softmax' | 'linear';
}

/** Per-dimension standardisation applied to features before the head: (x - mean) / std. */
export interface FeatureNormalization {
  readonly mean: Float32Array;
  readonly std: Float32Array;
}

/**
 * Folds (x - mean) / std into the first Dense layer: W' = W / std (row-wise), b' = b - (mean / std) . W.
 * The exported model then takes raw features, so ONNX and TF.js exports need no extra op.
 */
export function foldNormalization(layers: readonly DenseLayerWeights[], norm: FeatureNormalization): DenseLayerWeights[] {
  const [first, ...rest] = layers;
  if (!first) return [];
  const { inputDim, outputDim } = first;
  const weight = new Float32Array(first.weight.length);
  const bias = new Float32Array(outputDim);
  if (first.bias) bias.set(first.bias);
  for (let i = 0; i < inputDim; i++) {
    const inv = 1 / norm.std[i]!;
    const shift = norm.mean[i]! * inv;
    for (let o = 0; o < outputDim; o++) {
      const w = first.weight[i * outputDim + o]!;
      weight[i * outputDim + o] = w * inv;
      bias[o] = bias[o]! - shift * w;
    }
  }
  return [{ ...first, weight, bias }, ...rest];
}

/** Plain-JS forward pass of a Dense stack on one feature vector (for checks and tiny batches). */
export function denseForward(layers: readonly DenseLayerWeights[], input: Float32Array): Float32Array {
  let x = input;
  for (const layer of layers) {
    const out = new Float32Array(layer.outputDim);
    if (layer.bias) out.set(layer.bias);
    for (let i = 0; i < layer.inputDim; i++) {
      const xi = x[i]!;
      if (xi === 0) continue;
      const row = i * layer.outputDim;
      for (let o = 0; o < layer.outputDim; o++) out[o] = out[o]! + xi * layer.weight[row + o]!;
    }
    if (layer.activation === 'relu') for (let o = 0; o < out.length; o++) out[o] = Math.max(0, out[o]!);
    if (layer.activation === 'softmax') softmaxInPlace(out);
    x = out;
  }
  return x;
}

export function softmaxInPlace(row: Float32Array): void {
  let max = -Infinity;
  for (const v of row) max = Math.max(max, v);
  let sum = 0;
  for (let i = 0; i < row.length; i++) {
    row[i] = Math.exp(row[i]! - max);
    sum += row[i]!;
  }
  for (let i = 0; i < row.length; i++) row[i] = row[i]! / sum;
}
