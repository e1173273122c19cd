import type { Preprocessing } from '../core/preprocessing.js';

/**
 * The left-right mirror image of one preprocessed input tensor (a square image of `pre.inputSize`, in the model's
 * layout). Mirroring after preprocessing is exact: it is what the exported model's test-time augmentation does
 * (a reversed slice along the width axis), so mirrored training features match what the model sees.
 */
export function mirrorTensor(input: Float32Array, pre: Preprocessing): Float32Array {
  const size = pre.inputSize;
  if (input.length !== size * size * 3) throw new RangeError(`input must hold ${size * size * 3} floats for input size ${size}. Received: ${input.length}`);
  const out = new Float32Array(input.length);
  if (pre.layout === 'nchw') {
    for (let row = 0; row < 3 * size; row++) {
      const offset = row * size;
      for (let x = 0; x < size; x++) out[offset + x] = input[offset + size - 1 - x]!;
    }
  } else {
    for (let y = 0; y < size; y++) {
      const offset = y * size * 3;
      for (let x = 0; x < size; x++) {
        const from = offset + (size - 1 - x) * 3;
        const to = offset + x * 3;
        out[to] = input[from]!;
        out[to + 1] = input[from + 1]!;
        out[to + 2] = input[from + 2]!;
      }
    }
  }
  return out;
}
