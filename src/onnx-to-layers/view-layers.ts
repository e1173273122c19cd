import * as tf from '@tensorflow/tfjs';

/*
 * Plain Keras layers that make another view of an image inside a model (a resize, a mirror image) and apply a model's
 * layers again to it, so that any TF.js or Keras loader reads the result: no custom layer, no nested model.
 */

/** Applies a functional model's layers again, to a new input: the same layer objects, so the weights are shared. */
export function retrace(model: tf.LayersModel, input: tf.SymbolicTensor): tf.SymbolicTensor[] {
  const done = new Map<number, tf.SymbolicTensor>([[model.inputs[0]!.id, input]]);
  const visit = (t: tf.SymbolicTensor): tf.SymbolicTensor => {
    const known = done.get(t.id);
    if (known) return known;
    const inputs = t.inputs.map(visit);
    const out = t.sourceLayer.apply(inputs.length === 1 ? inputs[0]! : inputs, t.callArgs);
    const result = (Array.isArray(out) ? out[t.outputTensorIndex ?? 0] : out) as tf.SymbolicTensor;
    done.set(t.id, result);
    return result;
  };
  return model.outputs.map(visit);
}

/** What {@link resampleLayers} does to an NHWC square. */
export interface Resample {
  /** Side of the square it receives. */
  readonly from: number;
  /** Side of the square it gives: bilinear with half-pixel centres (ONNX Resize linear, half_pixel) when not `from`. */
  readonly to: number;
  /** Left-right mirror image as well (the resize is symmetric, so mirroring its output is resizing the mirror). */
  readonly mirror?: boolean;
  /** Prefix of the layers' names, unique in the model. */
  readonly name: string;
}

/**
 * NHWC [from, from, C] -> [to, to, C], resized and/or mirrored by two Dense layers holding the resize matrices (tfjs's
 * Resizing layer is not ONNX's bilinear, and there is no flip layer): x_out = Rᵀ applied on W, then on H. A mirror
 * alone needs only W's matrix (the reversed identity).
 */
export function resampleLayers(image: tf.SymbolicTensor, { from, to, mirror = false, name }: Resample): tf.SymbolicTensor {
  const resize = from !== to;
  // Building a layer copies the initial weights into its variables, so the matrices are freed at once.
  const dense = (x: tf.SymbolicTensor, matrix: Float32Array, layer: string) => {
    const weights = tf.tensor2d(matrix, [from, to]);
    try {
      return tf.layers.dense({ units: to, useBias: false, name: layer, weights: [weights] }).apply(x) as tf.SymbolicTensor;
    } finally {
      weights.dispose();
    }
  };
  const widths = resize ? resizeMatrix(from, to) : identityMatrix(from);
  let x = tf.layers.permute({ dims: [3, 1, 2], name: `${name}_chw` }).apply(image) as tf.SymbolicTensor; // [C, H, W]
  x = dense(x, mirror ? reverseColumns(widths, from, to) : widths, `${name}_resize_w`); // [C, H, to]
  if (!resize) return tf.layers.permute({ dims: [2, 3, 1], name: `${name}_hwc` }).apply(x) as tf.SymbolicTensor; // [H, W, C]
  x = tf.layers.permute({ dims: [1, 3, 2], name: `${name}_chw_t` }).apply(x) as tf.SymbolicTensor; // [C, to, H]
  x = dense(x, resizeMatrix(from, to), `${name}_resize_h`); // [C, to(w), to(h)]
  return tf.layers.permute({ dims: [3, 2, 1], name: `${name}_hwc` }).apply(x) as tf.SymbolicTensor; // [to(h), to(w), C]
}

/** Column j holds the weights of input pixels for output pixel j: ONNX Resize, mode linear, half_pixel, no antialias. */
export function resizeMatrix(from: number, to: number): Float32Array {
  const m = new Float32Array(from * to);
  const scale = to / from;
  for (let j = 0; j < to; j++) {
    const x = Math.min(Math.max((j + 0.5) / scale - 0.5, 0), from - 1);
    const x0 = Math.floor(x);
    const x1 = Math.min(x0 + 1, from - 1);
    const f = x - x0;
    m[x0 * to + j]! += 1 - f;
    m[x1 * to + j]! += f;
  }
  return m;
}

function identityMatrix(n: number): Float32Array {
  const m = new Float32Array(n * n);
  for (let i = 0; i < n; i++) m[i * n + i] = 1;
  return m;
}

/** The matrix whose output pixel j is the given matrix's output pixel cols - 1 - j: a mirror image. */
function reverseColumns(m: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(m.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[i * cols + j] = m[i * cols + (cols - 1 - j)]!;
  return out;
}
